package reliability

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/storetest"
)

// Sizes of a fleet run: three instances, each with a cache, resolving the
// sessions that are about to be revoked and those just revoked, while one
// revoker revokes them one by one through a random instance.
const (
	fleetChildren  = 3
	fleetResolvers = 3                      // goroutines resolving through each child
	fleetLease     = 500 * time.Millisecond // every child's cachestore.WithLease
	fleetAhead     = 8                      // sessions not yet revoked that resolvers pick from
	fleetBehind    = 2                      // sessions already revoked that they pick from
	fleetPause     = 20 * time.Millisecond  // at most, between one revocation returning and the next
	resolvePause   = 2 * time.Millisecond   // at most, between one resolver's lookups: CPU left for the rest
	fleetTail      = 300 * time.Millisecond // resolving after the last revocation returned
	fleetReports   = 20                     // failures reported per run before going quiet
	childReady     = 30 * time.Second       // for a child to start and serve from its cache
	revokeGiveUp   = 30 * time.Second       // for one revocation to succeed, retries included
)

// lockedBuffer collects a child's stderr, written by exec's goroutine and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cacheChild is one child process: an app instance with a cache in front
// of the shared store, reached over HTTP.
type cacheChild struct {
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	base   string // http://host:port
	client *http.Client
	stderr *lockedBuffer
	// frozen is held for writing while the child is stopped (SIGSTOP),
	// and for reading by each revocation sent to it, so that none is sent
	// to a stopped child: its latency would be the freeze's.
	frozen sync.RWMutex
}

// startCacheChildren starts the test binary as TestCacheChild once for
// each name, with env(name) naming its store, and waits for their
// addresses.
func startCacheChildren(t *testing.T, names []string, env func(name string) []string) []*cacheChild {
	t.Helper()
	children := make([]*cacheChild, len(names))
	addrs := make([]chan string, len(names))
	for i, name := range names {
		// Not bound to t.Context(), which ends before the cleanup below:
		// the child stops when its input closes.
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), envCacheChild+"=1", envCacheInstance+"="+name,
			envCacheLease+"="+fleetLease.String(), noExitSleep()), env(name)...)
		c := &cacheChild{name: name, cmd: cmd, stderr: &lockedBuffer{}}
		cmd.Stderr = c.stderr
		var err error
		if c.in, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = c
		addrs[i] = make(chan string, 1)
		go func() {
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				if a, ok := strings.CutPrefix(lines.Text(), "ADDR "); ok {
					addrs[i] <- a
					break
				}
			}
			_, _ = io.Copy(io.Discard, out) // the test framework's own output
		}()
	}
	t.Cleanup(func() { stopCacheChildren(t, children) })
	deadline := time.After(childReady)
	for i, c := range children {
		select {
		case a := <-addrs[i]:
			c.base = "http://" + a
		case <-deadline:
			t.Fatalf("child %s gave no address within %v\n%s", c.name, childReady, c.stderr)
		}
		tr := &http.Transport{MaxIdleConns: fleetResolvers + 2, MaxIdleConnsPerHost: fleetResolvers + 2}
		t.Cleanup(tr.CloseIdleConnections)
		// Longer than any freeze: a request to a stopped child is
		// answered when it wakes.
		c.client = &http.Client{Transport: tr, Timeout: 15 * time.Second}
	}
	return children
}

// noExitSleep is the child's GORACE: the race detector's runtime waits a
// second before a process exits, by default, for reports from other
// threads; three children a case would spend that at every stop.
func noExitSleep() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// stopCacheChildren closes every child's input, which stops it, and waits
// for them all.
func stopCacheChildren(t *testing.T, children []*cacheChild) {
	exited := make([]chan error, len(children))
	for i, c := range children {
		if c == nil {
			continue
		}
		_ = c.cmd.Process.Signal(syscall.SIGCONT) // in case a failure left it stopped
		_ = c.in.Close()
		exited[i] = make(chan error, 1)
		go func() { exited[i] <- c.cmd.Wait() }()
	}
	deadline := time.After(20 * time.Second)
	for i, c := range children {
		if c == nil {
			continue
		}
		select {
		case err := <-exited[i]:
			if err != nil && !t.Failed() {
				t.Errorf("child %s: %v\n%s", c.name, err, c.stderr)
			}
		case <-deadline:
			_ = c.cmd.Process.Kill()
			<-exited[i]
			t.Errorf("child %s did not stop within 20s of its input closing\n%s", c.name, c.stderr)
		}
		if t.Failed() {
			t.Logf("child %s's log:\n%s", c.name, c.stderr)
		}
	}
}

// call sends a request to the child and returns the body of a 200.
func (c *cacheChild) call(ctx context.Context, method, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return "", err
	}
	res, err := c.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// resolve asks the child for the session of a token hash.
func (c *cacheChild) resolve(ctx context.Context, s *store.Session) (string, error) {
	return c.call(ctx, http.MethodGet, "/resolve?hash="+hex.EncodeToString(s.TokenHash[:]))
}

// revoke has the child revoke s, and returns how many sessions the store
// revoked and how long the child's Revoke took.
func (c *cacheChild) revoke(ctx context.Context, s *store.Session) (int, time.Duration, error) {
	body, err := c.call(ctx, http.MethodPost, "/revoke?"+url.Values{"user": {s.UserID}, "id": {s.ID}}.Encode())
	if err != nil {
		return 0, 0, err
	}
	var n int
	var us int64
	if _, err := fmt.Sscanf(body, "%d %d", &n, &us); err != nil {
		return 0, 0, fmt.Errorf("revoke: answer %q: %w", body, err)
	}
	return n, time.Duration(us) * time.Microsecond, nil
}

func (c *cacheChild) stats(ctx context.Context) (cachestore.Stats, error) {
	var s cachestore.Stats
	body, err := c.call(ctx, http.MethodGet, "/stats")
	if err == nil {
		err = json.Unmarshal([]byte(body), &s)
	}
	return s, err
}

// waitServing waits until every child serves from its cache.
func waitServing(t *testing.T, children []*cacheChild) {
	t.Helper()
	deadline := time.Now().Add(childReady)
	for _, c := range children {
		for {
			s, err := c.stats(t.Context())
			if err == nil && s.Serving {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("child %s never served from its cache (%v)\n%s", c.name, err, c.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// freeze stops c with SIGSTOP once no revocation is in flight through it,
// for d, and wakes it with SIGCONT.
func (c *cacheChild) freeze(t *testing.T, d time.Duration) {
	c.frozen.Lock()
	defer c.frozen.Unlock()
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Errorf("SIGSTOP %s: %v", c.name, err)
		return
	}
	time.Sleep(d)
	if err := c.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Errorf("SIGCONT %s: %v", c.name, err)
	}
}

// fleetFigures are what one run counted.
type fleetFigures struct {
	resolves    int64 // answered
	afterReturn int64 // of which started after their session's revocation returned
	late        int64 // of which found the session active: must be zero
	early       int64 // found it revoked before its revocation began: must be zero
	wrong       int64 // found it unknown or expired: must be zero
	failed      int64 // errors: the store unreachable, for one
	revocations int
	// failedRevokes counts the revocation calls that failed and were
	// made again (the store unreachable); foundRevoked the first calls
	// that succeeded but found the session revoked already, which a
	// client library's own retry of a write whose reply was lost does.
	failedRevokes, foundRevoked int
	// latencies holds each successful revocation call's, as its child
	// timed it.
	latencies []time.Duration
	stats     cachestore.Stats // the children's, summed
}

func (f *fleetFigures) hitFraction() float64 {
	if n := f.stats.Hits + f.stats.Misses; n > 0 {
		return float64(f.stats.Hits) / float64(n)
	}
	return 0
}

// percentile returns the p-th percentile (0 < p ≤ 1) of the latencies, by
// the nearest-rank method.
func (f *fleetFigures) percentile(p float64) time.Duration {
	if len(f.latencies) == 0 {
		return 0
	}
	d := slices.Clone(f.latencies)
	slices.Sort(d)
	return d[max(0, int(math.Ceil(p*float64(len(d))))-1)]
}

// fleetRun is the state of one run, shared by its goroutines. Sessions
// are revoked in the order of sessions: the revocation of sessions[i] has
// begun when begun > i, and returned when done > i.
type fleetRun struct {
	sessions []store.Session
	created  atomic.Int64 // sessions[:created] exist in the store
	// Atomics are sequentially consistent in Go: a resolver that reads
	// done before it sends its request started after those revocations
	// returned.
	begun, done atomic.Int64
	reports     atomic.Int32
}

// runFleet runs resolvers against every child and revokes sessions one by
// one through a random child for d, with fault running beside them until
// the revocations stop; the sessions are created in st directly. It then
// resolves for fleetTail more and collects the children's Stats.
func runFleet(t *testing.T, st store.SessionStore, children []*cacheChild, d time.Duration, fault func(ctx context.Context)) fleetFigures {
	t.Helper()
	ctx := t.Context()
	// A revocation takes a few milliseconds at the least.
	run := &fleetRun{sessions: make([]store.Session, int(d/time.Millisecond)+fleetAhead+1)}
	fail := func(format string, args ...any) {
		if run.reports.Add(1) <= fleetReports {
			t.Errorf(format, args...)
		}
	}
	create := func() {
		i := run.created.Load()
		if int(i) == len(run.sessions) {
			return
		}
		for began := time.Now(); ; time.Sleep(50 * time.Millisecond) {
			s := storetest.NewSession("fleet-"+strconv.FormatInt(i, 10), time.Now())
			err := st.Create(ctx, s)
			if err == nil {
				run.sessions[i] = s
				run.created.Store(i + 1)
				return
			}
			if time.Since(began) > revokeGiveUp {
				t.Fatalf("create: %v", err)
			}
		}
	}
	for range fleetAhead {
		create()
	}

	var (
		f         fleetFigures
		mu        sync.Mutex // guards f's counts from the resolvers
		resolving sync.WaitGroup
		errSeen   atomic.Int32
	)
	rctx, stopResolving := context.WithCancel(ctx)
	defer stopResolving()
	for _, c := range children {
		for range fleetResolvers {
			resolving.Go(func() {
				var mine fleetFigures
				defer func() {
					mu.Lock()
					defer mu.Unlock()
					f.resolves += mine.resolves
					f.afterReturn += mine.afterReturn
					f.late += mine.late
					f.early += mine.early
					f.wrong += mine.wrong
					f.failed += mine.failed
				}()
				for ; rctx.Err() == nil; time.Sleep(rand.N(resolvePause)) {
					done := int(run.done.Load()) // before the request is sent
					lo, hi := max(0, done-fleetBehind), min(int(run.created.Load()), done+fleetAhead)
					i := lo + rand.IntN(hi-lo)
					s := &run.sessions[i]
					answer, err := c.resolve(rctx, s)
					begun := int(run.begun.Load()) // after the answer came
					if err == nil && strings.HasPrefix(answer, answerError) {
						err = errors.New(answer)
					}
					switch {
					case err != nil && rctx.Err() != nil:
						return
					case err != nil:
						mine.failed++
						if errSeen.Add(1) <= 3 {
							t.Logf("resolve through %s: %v", c.name, err)
						}
						continue
					}
					mine.resolves++
					switch {
					case answer != answerActive && answer != answerRevoked:
						mine.wrong++
						fail("%s: session %d found %q", c.name, i, answer)
					case i < done:
						mine.afterReturn++
						if answer == answerActive {
							mine.late++
							fail("%s accepted session %d, whose revocation had returned before the lookup began", c.name, i)
						}
					case answer == answerRevoked && i >= begun:
						mine.early++
						fail("%s found session %d revoked before its revocation began", c.name, i)
					}
				}
			})
		}
	}

	fctx, stopFault := context.WithCancel(ctx)
	faulted := make(chan struct{})
	go func() {
		defer close(faulted)
		if fault != nil {
			fault(fctx)
		}
	}()
	for start := time.Now(); time.Since(start) < d; {
		i := int(run.begun.Load())
		if i == int(run.created.Load()) {
			break // every session is revoked: d is long for this machine
		}
		run.begun.Store(int64(i + 1))
		n, took, failures := revokeThroughAny(t, children, &run.sessions[i])
		run.done.Store(int64(i + 1))
		f.revocations++
		f.failedRevokes += failures
		if n != 1 && failures == 0 {
			f.foundRevoked++
		}
		f.latencies = append(f.latencies, took)
		create()
		time.Sleep(rand.N(fleetPause))
	}
	stopFault()
	<-faulted
	time.Sleep(fleetTail)
	stopResolving()
	resolving.Wait()

	for _, c := range children {
		s, err := c.stats(ctx)
		if err != nil {
			t.Fatalf("stats of %s: %v", c.name, err)
		}
		f.stats.Hits += s.Hits
		f.stats.Misses += s.Misses
		f.stats.Invalidations += s.Invalidations
		f.stats.Breaks += s.Breaks
		f.stats.LateHeartbeats += s.LateHeartbeats
		f.stats.Settled += s.Settled
		f.stats.SettledByLapse += s.SettledByLapse
	}
	// The store holds exactly the revocations made.
	for i := range int(run.created.Load()) {
		s, err := st.Get(ctx, run.sessions[i].ID)
		if err != nil {
			t.Fatalf("get session %d: %v", i, err)
		}
		if want := i < int(run.done.Load()); s.Revoked() != want {
			t.Errorf("session %d: revoked %v in the store, want %v", i, s.Revoked(), want)
		}
	}
	return f
}

// revokeThroughAny revokes s through a random child that is not stopped,
// again through another when the call fails, until one succeeds, and
// returns how many sessions that call revoked, how long it took and how
// many calls failed.
func revokeThroughAny(t *testing.T, children []*cacheChild, s *store.Session) (revoked int, took time.Duration, failures int) {
	t.Helper()
	began := time.Now()
	for {
		var c *cacheChild
		for c == nil {
			for _, i := range rand.Perm(len(children)) {
				if children[i].frozen.TryRLock() {
					c = children[i]
					break
				}
			}
			if c == nil {
				time.Sleep(time.Millisecond)
			}
		}
		n, took, err := c.revoke(t.Context(), s)
		c.frozen.RUnlock()
		if err == nil {
			return n, took, failures
		}
		failures++
		if time.Since(began) > revokeGiveUp {
			t.Fatalf("revoking session %s: no success in %v: %v", s.ID, revokeGiveUp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
