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
	listeningRE  = regexp.MustCompile(`msg=listening addr=(\S+)`)
	adminTokenRE = regexp.MustCompile(`Admin API token [^:]*: (\S+)`)
)

// output collects what the server writes, safe for concurrent use, and
// reports the address once the server listens.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

func newOutput() *output { return &output{addr: make(chan string, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if m := listeningRE.FindStringSubmatch(o.buf.String()); m != nil && !o.found {
		o.found = true
		o.addr <- m[1]
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitListening returns the server's base URL once it listens.
func (o *output) waitListening(t *testing.T, exited <-chan error) string {
	t.Helper()
	select {
	case addr := <-o.addr:
		return "http://" + addr
	case err := <-exited:
		t.Fatalf("server exited before listening: %v\n%s", err, o)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen within 30s:\n%s", o)
	}
	return ""
}

// TestRun runs the server in-process on SQLite and stops it as a signal
// would.
func TestRun(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newOutput()
	exited := make(chan error, 1)
	db := filepath.Join(t.TempDir(), "demo.db")
	getenv := env(envPassword, testPassword)
	go func() { exited <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db}, getenv, out) }()
	base := out.waitListening(t, exited)

	c := newClient(t, base)
	lr, ck := c.login("alice", testPassword)
	is.Equal(c.withCookie(ck).meStatus(), http.StatusOK)
	res, b := c.withToken(lr.Token).do(http.MethodGet, "/auth/sessions/whoami", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.True(strings.Contains(string(b), lr.SessionID))

	cancel()
	select {
	case err := <-exited:
		is.NoErr(err) // clean shutdown
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	log := out.String()
	is.True(strings.Contains(log, `msg="demo users" users=alice,bob,carol admins=admin password="from `))
	is.True(adminTokenRE.MatchString(log))                                   // generated token printed
	is.True(strings.Contains(log, "random cookie key"))                      // and the key warning
	is.True(strings.Contains(log, "store=sqlite:"+db))                       // on SQLite
	is.True(strings.Contains(log, "msg=stopped"))                            // graceful end
	is.True(!strings.Contains(log, testPassword))                            // the password is never logged
	is.Equal(strings.Count(log, adminTokenRE.FindStringSubmatch(log)[1]), 1) // the token is shown once
}

func TestRunHelp(t *testing.T) {
	is := is.New(t)
	var out bytes.Buffer
	is.NoErr(run(context.Background(), []string{"-h"}, env(), &out))
	for _, s := range []string{"-addr", "-db", "-memory", "-secure-cookie", envPassword, envAdminToken, envCookieKey} {
		is.True(strings.Contains(out.String(), s)) // usage mentions every setting
	}
}
