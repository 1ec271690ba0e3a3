package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
)

var (
	listeningRE  = regexp.MustCompile(`msg=listening addr=\S+ url=(\S+)/ `)
	adminTokenRE = regexp.MustCompile(`Admin API token [^:]*: (\S+)`)
)

// output collects what the server writes, safe for concurrent use, and
// reports the base URL once the server listens.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	url   chan string
	found bool
}

func newOutput() *output { return &output{url: make(chan string, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if m := listeningRE.FindStringSubmatch(o.buf.String()); m != nil && !o.found {
		o.found = true
		o.url <- m[1]
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// running is the demo run in-process by startRun.
type running struct {
	base   string // http://127.0.0.1:port, or https:// with -tls
	out    *output
	cancel context.CancelFunc
	done   chan struct{} // closed once run has returned
	err    error         // what run returned, set before done is closed
}

// startRun runs the demo in-process with args (after -addr 127.0.0.1:0) and
// the settings in getenv, and returns once it listens. It is stopped, as a
// signal would, when the test ends.
func startRun(t *testing.T, args []string, getenv func(string) string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: newOutput(), cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), getenv, r.out)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("output of the demo:\n%s", r.out)
		}
	})
	select {
	case url := <-r.out.url:
		r.base = url
	case <-r.done:
		t.Fatalf("server exited before listening: %v\n%s", r.err, r.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen within 30s:\n%s", r.out)
	}
	return r
}

// stop stops the demo as a signal would and checks that it shut down
// cleanly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("run: %v", r.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestRun runs the server in-process on SQLite and stops it as a signal
// would.
func TestRun(t *testing.T) {
	is := is.New(t)
	db := filepath.Join(t.TempDir(), "demo.db")
	r := startRun(t, []string{"-db", db}, env(envPassword, testPassword))
	base, out := r.base, r.out

	c := newClient(t, base)
	lr, ck := c.login("alice", testPassword)
	is.Equal(c.withCookie(ck).meStatus(), http.StatusOK)
	res, b := c.withToken(lr.Token).do(http.MethodGet, "/auth/sessions/whoami", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.True(strings.Contains(string(b), lr.SessionID))

	r.stop(t)
	log := out.String()
	is.True(strings.Contains(log, `msg="demo users" users=alice,bob,carol admins=admin password="from `))
	is.True(!adminTokenRE.MatchString(log))                    // a generated token is not written where logs go
	is.True(strings.Contains(log, "shown on a terminal only")) // but its absence is explained
	is.True(strings.Contains(log, "random cookie key"))        // and the key warning
	is.True(strings.Contains(log, "store=sqlite:"+db))         // on SQLite
	is.True(strings.Contains(log, "msg=stopped"))              // graceful end
	is.True(!strings.Contains(log, testPassword))              // the password is never logged
}

func TestRunHelp(t *testing.T) {
	is := is.New(t)
	var out bytes.Buffer
	is.NoErr(run(context.Background(), []string{"-h"}, env(), &out))
	for _, s := range []string{"-addr", "-db", "-memory", "-secure-cookie", "-tls", "-tls-cert", "-tls-key",
		"-login-attempts", "-login-failures", "-route-requests", envPassword, envAdminToken, envCookieKey} {
		is.True(strings.Contains(out.String(), s)) // usage mentions every setting
	}
}
