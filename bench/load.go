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

// target is a running server to load.
type target struct {
	base   string
	header http.Header // sent with every request
	path   string
	pid    int
	stop   func() error
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
	t := &target{base: "http://" + f[1], header: http.Header{}, path: "/me", pid: cmd.Process.Pid, stop: stop}
	switch {
	case mode == "bare":
	case useCookie:
		t.header.Set("Cookie", f[3])
	default:
		t.header.Set(revoke.HeaderName, f[2])
	}
	return t, nil
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startDemo builds the demo server (examples/server), runs it on a fresh
// SQLite file, logs alice in and returns it with her token as
// X-Session-Token.
func startDemo(root, tmp string) (*target, error) {
	bin := filepath.Join(tmp, "revoke-demo")
	build := exec.Command("go", "build", "-o", bin, "./examples/server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the demo: %v\n%s", err, out)
	}
	const password = "bench-password"
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", filepath.Join(tmp, "demo.db"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REVOKE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "REVOKE_DEMO_PASSWORD="+password)
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
	// (the demo logs each sign-in only, not each request).
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var addr string
	select {
	case addr = <-found:
	case err := <-exited:
		return nil, fmt.Errorf("the demo exited: %v", err)
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("the demo did not listen within 30s")
	}
	base := "http://" + addr
	res, err := http.Post(base+"/login", "application/json",
		bytes.NewReader([]byte(`{"username":"alice","password":"`+password+`"}`)))
	if err != nil {
		stop()
		return nil, err
	}
	defer res.Body.Close()
	var login struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&login); err != nil || res.StatusCode != http.StatusOK || login.Token == "" {
		stop()
		return nil, fmt.Errorf("demo login: %s %v", res.Status, err)
	}
	t := &target{base: base, header: http.Header{}, path: "/me", pid: cmd.Process.Pid, stop: stop}
	t.header.Set(revoke.HeaderName, login.Token)
	return t, nil
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
	// ServerCPU is the server process's CPU time per request: unlike
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
	client  *http.Client
	lat     []time.Duration
	errors  int
	elapsed time.Duration
	cpu     time.Duration // the server's, while measured
	cpuOK   bool
}

func newLoader(name string, t *target, workers int) *loader {
	tr := &http.Transport{
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
		DisableCompression:  true,
	}
	return &loader{name: name, t: t, workers: workers, client: &http.Client{Transport: tr}}
}

// run loads the target for d. When record is set, every whole request's
// latency is kept; any answer but 200 counts as an error.
func (l *loader) run(d time.Duration, record bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	lat := make([][]time.Duration, l.workers)
	errs := make([]int, l.workers)
	cpuBefore, ok1 := processCPU(l.t.pid)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, l.t.base+l.t.path, nil)
			req.Header = l.t.header.Clone()
			for ctx.Err() == nil {
				begin := time.Now()
				res, err := l.client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != http.StatusOK {
						err = errors.New(res.Status)
					}
				}
				took := time.Since(begin)
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
	cpuAfter, ok2 := processCPU(l.t.pid)
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
		defer loaders[i].client.CloseIdleConnections()
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
