package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// The end-to-end scenarios: a server in a process of its own on loopback,
// and a load generator in this one.

// meBody is what every scenario's handler answers, as the demo's GET /me
// does.
type meBody struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
}

func writeMe(w http.ResponseWriter, body meBody) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// serve runs the server "bench -serve MODE" asks for on addr until its
// standard input closes: the same small handler, bare ("bare") or behind
// the Manager's Middleware on a store ("memstore", "sqlite"). It prints
// "READY addr token cookie" once it listens; the token and cookie belong to
// a session it created.
func serve(mode, addr, dir string) error {
	var (
		h       http.Handler
		token   = "-"
		cookie  = "-"
		cleanup = func() {}
	)
	if mode == "bare" {
		// What the middleware's handler writes, without resolving anything.
		body := meBody{UserID: "alice", SessionID: store.NewID()}
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeMe(w, body) })
	} else {
		var st store.SessionStore
		switch mode {
		case "memstore":
			st = memstore.New()
		case "sqlite":
			s, err := sqlitestore.Open(filepath.Join(dir, "sessions.db"), sqlitestore.WithCleanupInterval(0))
			if err != nil {
				return err
			}
			st = s
		default:
			return fmt.Errorf("unknown server mode %q", mode)
		}
		cleanup = func() { st.Close() }
		m, err := revoke.New(st)
		if err != nil {
			return err
		}
		rec := &headerRecorder{h: http.Header{}}
		_, tok, err := m.Login(rec, &http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{}}, "alice")
		if err != nil {
			return err
		}
		token = tok
		c, err := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
		if err != nil {
			return err
		}
		cookie = c.Name + "=" + c.Value
		h = m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cur, ok := revoke.FromContext(r.Context())
			if !ok {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			writeMe(w, meBody{UserID: cur.UserID, SessionID: cur.ID})
		}))
	}
	defer cleanup()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("READY %s %s %s\n", ln.Addr(), token, cookie)
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes it to stop us
	return srv.Close()
}

// headerRecorder is the ResponseWriter Login writes its cookie to.
type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *headerRecorder) WriteHeader(int)             {}

// target is a running server to load, or several serving the same
// sessions, which the load generator takes in turn.
type target struct {
	bases   []string      // http://host:port of each server
	headers []http.Header // worker w sends headers[w%len(headers)] with every request
	path    string
	pids    []int
	stop    func() error
}

// cpu returns the CPU time the target's processes have used so far.
func (t *target) cpu() (time.Duration, bool) {
	var sum time.Duration
	for _, pid := range t.pids {
		d, ok := processCPU(pid)
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// processCPU returns the CPU time (user and system) the process pid has
// used so far, from /proc, at the kernel's 10 ms granularity; ok is false
// where /proc is not there.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it. utime and stime are fields 14 and 15, in clock ticks of
	// 1/100 s (USER_HZ).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// startSelf runs this program as a server of the given mode and returns it
// once it listens.
func startSelf(mode, tmp string, useCookie bool) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "serve-"+mode)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-serve", mode, "-serve-dir", dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() error {
		stdin.Close()
		return cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "READY" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("server %s did not start: %q %v", mode, line, err)
	}
	h := http.Header{}
	switch {
	case mode == "bare":
	case useCookie:
		h.Set("Cookie", f[3])
	default:
		h.Set(revoke.HeaderName, f[2])
	}
	return &target{bases: []string{"http://" + f[1]}, headers: []http.Header{h}, path: "/me", pids: []int{cmd.Process.Pid}, stop: stop}, nil
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// demoPassword is every demo user's password in the harness's runs.
const demoPassword = "bench-password"

// buildDemo builds the demo server (examples/server) into tmp, once per
// run.
func buildDemo(root, tmp string) (string, error) {
	bin := filepath.Join(tmp, "revoke-demo")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	build := exec.Command("go", "build", "-o", bin, "./examples/server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the demo: %v\n%s", err, out)
	}
	return bin, nil
}

// demoProc is a running demo server.
type demoProc struct {
	base string // http://host:port
	pid  int
	stop func() error
}

// startDemoProc runs the demo binary with args, on loopback, with the
// environment of this process less its REVOKE_ settings plus env, and
// returns it once it listens. When it exits first, the error carries the
// last lines it logged.
func startDemoProc(bin string, args, env []string) (*demoProc, error) {
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REVOKE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "REVOKE_DEMO_PASSWORD="+demoPassword)
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	stop := func() error {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			return err
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			return errors.New("the demo did not stop within 20s")
		}
	}
	// Read the log until it says where it listens, then keep draining it
	// (the demo logs each sign-in, not each request), keeping its last
	// lines for the error of a demo that exits.
	found := make(chan string, 1)
	var (
		mu   sync.Mutex
		tail []string
	)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			tail = append(tail[max(0, len(tail)-4):], sc.Text())
			mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case addr := <-found:
		return &demoProc{base: "http://" + addr, pid: cmd.Process.Pid, stop: stop}, nil
	case err := <-exited:
		<-drained
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("the demo exited (%v): %s", err, strings.Join(tail, " / "))
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("the demo did not listen within 30s")
	}
}

// demoLogin signs user in on the demo at base and returns the session's
// token and id.
func demoLogin(c *http.Client, base, user string) (token, id string, err error) {
	res, err := c.Post(base+"/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+demoPassword+`"}`))
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	var login struct{ Token, SessionID string }
	if err := json.NewDecoder(res.Body).Decode(&login); err != nil || res.StatusCode != http.StatusOK || login.Token == "" {
		return "", "", fmt.Errorf("demo login: %s %v", res.Status, err)
	}
	return login.Token, login.SessionID, nil
}

// startDemo builds the demo server, runs it on a fresh SQLite file, logs
// alice in and returns it with her token as X-Session-Token. Its rate
// limit of /me is off (-route-requests 0): at its default of 600 requests a
// minute per session the load test would measure refusals.
func startDemo(root, tmp string) (*target, error) {
	bin, err := buildDemo(root, tmp)
	if err != nil {
		return nil, err
	}
	p, err := startDemoProc(bin, []string{"-db", filepath.Join(tmp, "demo.db"), "-route-requests", "0"}, nil)
	if err != nil {
		return nil, err
	}
	token, _, err := demoLogin(http.DefaultClient, p.base, "alice")
	if err != nil {
		p.stop()
		return nil, err
	}
	h := http.Header{}
	h.Set(revoke.HeaderName, token)
	return &target{bases: []string{p.base}, headers: []http.Header{h}, path: "/me", pids: []int{p.pid}, stop: p.stop}, nil
}

// loadResult is what one scenario measured.
type loadResult struct {
	Name     string        `json:"name"`
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	Duration time.Duration `json:"duration"`
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50"`
	P90      time.Duration `json:"p90"`
	P99      time.Duration `json:"p99"`
	// ServerCPU is the server processes' CPU time per request: unlike
	// throughput it does not move with what else the machine runs.
	ServerCPU time.Duration `json:"serverCPUPerRequest,omitempty"`
	Skipped   string        `json:"skipped,omitempty"`
}

// loader sends GET requests to one target from a number of workers, each
// on its own keep-alive connection, and keeps what it measured across
// rounds.
type loader struct {
	name    string
	t       *target
	workers int
	lat     []time.Duration
	errors  int
	sent    int // requests answered while measured, failed and cut-short ones too
	sentAll int // the same, warm-up included
	elapsed time.Duration
	cpu     time.Duration // the server's, while measured
	cpuOK   bool
}

// newLoader returns a loader whose workers each keep a connection to each
// of the target's servers (see rawGet).
func newLoader(name string, t *target, workers int) *loader {
	return &loader{name: name, t: t, workers: workers}
}

// run loads the target for d. When record is set, every whole request's
// latency is kept; any answer but 200 counts as an error. Each worker
// sends its requests to the target's servers in turn.
func (l *loader) run(d time.Duration, record bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	lat := make([][]time.Duration, l.workers)
	errs := make([]int, l.workers)
	sent := make([]int, l.workers)
	cpuBefore, ok1 := l.t.cpu()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() {
			gets := make([]*rawGet, len(l.t.bases))
			for i, base := range l.t.bases {
				g, err := newRawGet(base, l.t.path, l.t.headers[w%len(l.t.headers)])
				if err != nil {
					panic(err) // the harness made the bases
				}
				gets[i] = g
				defer g.close()
			}
			for i := w; ctx.Err() == nil; i++ {
				begin := time.Now()
				status, err := gets[i%len(gets)].do()
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				took := time.Since(begin)
				sent[w]++
				if ctx.Err() != nil {
					break // cut short by the deadline: not a whole request
				}
				if err != nil {
					errs[w]++
					continue
				}
				lat[w] = append(lat[w], took)
			}
		})
	}
	wg.Wait()
	cpuAfter, ok2 := l.t.cpu()
	for w := range l.workers {
		l.sentAll += sent[w]
	}
	if !record {
		l.cpuOK = ok1 && ok2
		return
	}
	l.elapsed += time.Since(start)
	l.cpu += cpuAfter - cpuBefore
	l.cpuOK = l.cpuOK && ok1 && ok2
	for w := range l.workers {
		l.lat = append(l.lat, lat[w]...)
		l.errors += errs[w]
		l.sent += sent[w]
	}
}

func (l *loader) result() loadResult {
	slices.Sort(l.lat)
	r := loadResult{Name: l.name, Requests: len(l.lat), Errors: l.errors, Duration: l.elapsed}
	if len(l.lat) > 0 {
		r.RPS = float64(len(l.lat)) / l.elapsed.Seconds()
		pct := func(p float64) time.Duration { return l.lat[min(len(l.lat)-1, int(p*float64(len(l.lat))))] }
		r.P50, r.P90, r.P99 = pct(0.50), pct(0.90), pct(0.99)
		if l.cpuOK {
			r.ServerCPU = l.cpu / time.Duration(len(l.lat))
		}
	}
	return r
}

// runLoad starts every end-to-end scenario's server, warms each up, then
// measures them in turn, rounds times for d/rounds each, so that a change
// in the machine's load during the run spreads over all of them rather than
// skewing one.
func runLoad(root, tmp string, workers, rounds int, warmup, d time.Duration, w io.Writer) []loadResult {
	type scenario struct {
		name  string
		start func() (*target, error)
	}
	scenarios := []scenario{
		{"bare handler", func() (*target, error) { return startSelf("bare", tmp, false) }},
		{"Middleware, memstore, X-Session-Token", func() (*target, error) { return startSelf("memstore", tmp, false) }},
		{"Middleware, memstore, cookie", func() (*target, error) { return startSelf("memstore", tmp, true) }},
		{"Middleware, SQLite, X-Session-Token", func() (*target, error) { return startSelf("sqlite", tmp, false) }},
		{"demo server GET /me (SQLite), X-Session-Token", func() (*target, error) { return startDemo(root, tmp) }},
	}
	out := make([]loadResult, len(scenarios))
	loaders := make([]*loader, len(scenarios))
	for i, s := range scenarios {
		t, err := s.start()
		if err != nil {
			fmt.Fprintf(w, "e2e %s: skipped: %v\n", s.name, err)
			out[i] = loadResult{Name: s.name, Skipped: err.Error()}
			continue
		}
		defer func() {
			if err := t.stop(); err != nil {
				fmt.Fprintf(w, "e2e %s: stopping the server: %v\n", s.name, err)
			}
		}()
		loaders[i] = newLoader(s.name, t, workers)
		loaders[i].run(warmup, false)
	}
	for range rounds {
		for _, l := range loaders {
			if l != nil {
				l.run(d/time.Duration(rounds), true)
			}
		}
	}
	for i, l := range loaders {
		if l == nil {
			continue
		}
		r := l.result()
		fmt.Fprintf(w, "e2e %-48s %8.0f req/s  p50 %-9s p90 %-9s p99 %-9s server CPU %-8s errors %d\n",
			r.Name, r.RPS, r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond),
			r.ServerCPU.Round(100*time.Nanosecond), r.Errors)
		out[i] = r
	}
	return out
}
