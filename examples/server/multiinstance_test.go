package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/demoproc"
	"github.com/revokehq/revoke/internal/pgtest"
)

// startPGServer runs the demo binary on a free loopback port with its
// sessions in schema of the PostgreSQL database dsn, and waits until it
// listens.
func startPGServer(t *testing.T, bin, dsn, schema, cookieKey, adminToken string) *demoproc.Process {
	t.Helper()
	return demoproc.Start(t, bin, []string{"-postgres", dsn, "-postgres-schema", schema}, []string{
		envPassword + "=" + testPassword,
		envCookieKey + "=" + cookieKey,
		envAdminToken + "=" + adminToken,
	})
}

// signedIn is one of alice's sessions: what the login answered, and the
// cookie it set.
type signedIn struct {
	lr     loginResponse
	cookie *http.Cookie
}

func signIn(t *testing.T, p *demoproc.Process, user string) signedIn {
	t.Helper()
	lr, ck := newClient(t, p.URL()).login(user, testPassword)
	if ck == nil {
		t.Fatalf("login on %s set no session cookie", p.URL())
	}
	return signedIn{lr, ck}
}

// expectMe checks GET /me on p for s, first with its token and then with
// its cookie: want is the status both must get, and a 200 must name s.
func expectMe(t *testing.T, p *demoproc.Process, s signedIn, want int) {
	t.Helper()
	c := newClient(t, p.URL())
	for _, as := range []struct {
		how string
		c   *client
	}{{"token", c.withToken(s.lr.Token)}, {"cookie", c.withCookie(s.cookie)}} {
		res, b := as.c.do(http.MethodGet, "/me", "")
		if res.StatusCode != want {
			t.Fatalf("GET /me on %s with the %s of session %s: status %d, want %d: %s", p.URL(), as.how, s.lr.SessionID, res.StatusCode, want, b)
		}
		if want == http.StatusOK {
			if got := decode[meResponse](t, b).SessionID; got != s.lr.SessionID {
				t.Fatalf("GET /me on %s with the %s of session %s: answered for session %s", p.URL(), as.how, s.lr.SessionID, got)
			}
		}
	}
}

// TestMultiInstancePostgres runs two demo processes on one PostgreSQL
// schema, with the same cookie key and admin token, and checks that a
// session made on either works on both, and that a revocation made on one
// instance holds on the other from the very next request: the store keeps
// no cache, so nothing should need waiting for.
func TestMultiInstancePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two server binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the servers with SIGTERM")
	}
	dsn, schema := pgtest.Schema(t, "demo_test_", true)
	bin := demoproc.Build(t, t.TempDir())
	cookieKey := hex.EncodeToString([]byte(rand.Text() + rand.Text()))
	adminToken := "multi-instance-admin-" + rand.Text()

	a := startPGServer(t, bin, dsn, schema, cookieKey, adminToken)
	b := startPGServer(t, bin, dsn, schema, cookieKey, adminToken)
	if a.URL() == b.URL() {
		t.Fatalf("both instances listen on %s", a.URL())
	}
	for _, p := range []*demoproc.Process{a, b} {
		log := p.Output()
		if !strings.Contains(log, "store=\"postgres:") || !strings.Contains(log, "schema="+schema) {
			t.Fatalf("the log of %s does not name the PostgreSQL store and schema:\n%s", p.URL(), log)
		}
	}

	bearer := []string{"Authorization", "Bearer " + adminToken}

	t.Run("admin revokes every session on A", func(t *testing.T) { adminRevokesAcross(t, a, b, adminToken) })

	t.Run("user ends her other sessions on A", func(t *testing.T) {
		is := is.New(t)
		onA, onB, onB2 := signIn(t, a, "alice"), signIn(t, b, "alice"), signIn(t, b, "alice")
		expectMe(t, b, onA, http.StatusOK)
		expectMe(t, a, onB, http.StatusOK)
		res, body := newClient(t, a.URL()).withToken(onA.lr.Token).do(http.MethodDelete, "/auth/sessions", "")
		is.Equal(res.StatusCode, http.StatusOK)
		is.Equal(decode[map[string]int](t, body), map[string]int{"count": 2})
		expectMe(t, b, onB, http.StatusUnauthorized)
		expectMe(t, b, onB2, http.StatusUnauthorized)
		expectMe(t, b, onA, http.StatusOK) // the current session stays
		expectMe(t, a, onA, http.StatusOK)
	})

	t.Run("admin revokes one session on B", func(t *testing.T) {
		is := is.New(t)
		target, other := signIn(t, a, "alice"), signIn(t, a, "alice")
		expectMe(t, b, target, http.StatusOK)
		res, body := newClient(t, b.URL()).do(http.MethodDelete, "/auth/admin/api/users/alice/sessions/"+target.lr.SessionID, "", bearer...)
		is.Equal(res.StatusCode, http.StatusOK)
		is.Equal(decode[map[string]any](t, body)["id"], target.lr.SessionID)
		expectMe(t, a, target, http.StatusUnauthorized)
		res, _ = newClient(t, a.URL()).withToken(target.lr.Token).do(http.MethodGet, "/auth/sessions/whoami", "")
		is.Equal(res.StatusCode, http.StatusUnauthorized) // anonymous to the mounted handlers too
		expectMe(t, a, other, http.StatusOK)              // only that one
		expectMe(t, b, other, http.StatusOK)
	})

	t.Run("revocation on A is linearizable for requests on B", func(t *testing.T) {
		hammerDuringRevoke(t, a, b, bearer)
	})

	a.Stop(t)
	b.Stop(t)
}

// meResult is one GET /me of the hammer: when it was sent, when its answer
// had arrived, and what the answer was.
type meResult struct {
	start, end time.Time
	status     int
	err        error
}

// hammerDuringRevoke has workers send GET /me to b with alice's sessions
// while an administrator revokes all of them on a. Every request that
// started after the revocation had returned must be refused, and every
// request that ended before it was sent must have been answered.
func hammerDuringRevoke(t *testing.T, a, b *demoproc.Process, bearer []string) {
	const (
		workers   = 4
		warmup    = 5  // requests each worker completes before the revoke is sent
		maxBefore = 60 // requests a worker sends at most until the revoke has returned
		after     = 25 // requests each worker sends once it has returned
	)
	sessions := []signedIn{signIn(t, a, "alice"), signIn(t, a, "alice"), signIn(t, b, "alice"), signIn(t, b, "alice")}
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
	}
	defer hc.CloseIdleConnections()

	var (
		wg       sync.WaitGroup
		ready    = make(chan struct{}, workers)
		returned = make(chan struct{}) // closed once revokeEnd is set
		results  = make([][]meResult, workers)
	)
	closeReturned := sync.OnceFunc(func() { close(returned) })
	// Also when the test fails before the revoke: a worker may be waiting.
	defer func() { closeReturned(); wg.Wait() }()

	for i := range workers {
		s := sessions[i%len(sessions)]
		useCookie := i%2 == 1
		wg.Go(func() {
			signalled := false
			signal := func() {
				if !signalled {
					signalled = true
					ready <- struct{}{}
				}
			}
			defer signal() // a worker that stops early must not stall the revoke
			post := 0
			for n := 0; n < maxBefore+after && post < after; n++ {
				if n == warmup {
					signal()
				}
				if n >= maxBefore {
					<-returned // its budget before the revoke is spent
				}
				select {
				case <-returned:
					post++
				default:
				}
				r := getMe(hc, b.URL(), s, useCookie)
				results[i] = append(results[i], r)
				if r.err != nil {
					return
				}
			}
		})
	}

	for range workers {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			t.Fatal("the workers did not warm up within 30s")
		}
	}
	revokeStart := time.Now()
	res, body := newClient(t, a.URL()).do(http.MethodDelete, "/auth/admin/api/users/alice/sessions", "", bearer...)
	revokeEnd := time.Now()
	closeReturned()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke all of alice's sessions on A: status %d: %s", res.StatusCode, body)
	}
	if n := decode[map[string]int](t, body)["count"]; n < len(sessions) {
		t.Fatalf("revoke all of alice's sessions on A revoked %d, want at least %d", n, len(sessions))
	}
	wg.Wait()

	var before, during, afterN int
	for i, rs := range results {
		for j, r := range rs {
			switch {
			case r.err != nil:
				t.Fatalf("worker %d, request %d: %v", i, j, r.err)
			case !r.start.Before(revokeEnd):
				afterN++
				if r.status != http.StatusUnauthorized {
					t.Errorf("worker %d, request %d started %v after the revoke returned and got %d, want 401",
						i, j, r.start.Sub(revokeEnd), r.status)
				}
			case r.end.Before(revokeStart):
				before++
				if r.status != http.StatusOK {
					t.Errorf("worker %d, request %d ended before the revoke was sent and got %d, want 200", i, j, r.status)
				}
			default:
				during++ // overlaps the revoke: either answer is right
			}
		}
	}
	if afterN < workers*after {
		t.Errorf("%d requests started after the revoke returned, want at least %d", afterN, workers*after)
	}
	t.Logf("GET /me on B: %d before the revoke on A (200), %d overlapping it, %d after it (401); the revoke took %v",
		before, during, afterN, revokeEnd.Sub(revokeStart))
	for _, s := range sessions {
		expectMe(t, a, s, http.StatusUnauthorized)
		expectMe(t, b, s, http.StatusUnauthorized)
	}
}

// getMe sends GET /me to base as s, with its cookie or its token. It runs
// on the hammer's goroutines, so it reports errors instead of failing the
// test.
func getMe(hc *http.Client, base string, s signedIn, useCookie bool) meResult {
	req, err := http.NewRequest(http.MethodGet, base+"/me", nil)
	if err != nil {
		return meResult{err: err}
	}
	if useCookie {
		req.AddCookie(s.cookie)
	} else {
		req.Header.Set("X-Session-Token", s.lr.Token)
	}
	r := meResult{start: time.Now()}
	res, err := hc.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	r.end, r.status, r.err = time.Now(), res.StatusCode, err
	return r
}

func TestParseConfigPostgres(t *testing.T) {
	is := is.New(t)
	url := "postgres://demo:hunter2@db.internal:5433/sessions?sslmode=disable"
	cfg, err := parseConfig([]string{"-postgres", url, "-postgres-schema", "demo_a"}, env(), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.postgres, url)
	is.Equal(cfg.pgSchema, "demo_a")
	is.Equal(cfg.storeName(), "postgres:postgres://demo@db.internal:5433/sessions schema=demo_a")

	cfg, err = parseConfig([]string{"-postgres", url}, env(), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.pgSchema, "") // the connection's current schema
	is.Equal(cfg.storeName(), "postgres:postgres://demo@db.internal:5433/sessions")
}

func TestParseConfigPostgresErrors(t *testing.T) {
	const url = "postgres://demo@127.0.0.1/sessions"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"with -memory", []string{"-memory", "-postgres", url}, "-memory and -postgres"},
		{"with -db", []string{"-db", "x.db", "-postgres", url}, "-db"},
		{"with the default -db spelled out", []string{"-postgres", url, "-db", "revoke-demo.db"}, "-db"},
		{"empty", []string{"-postgres", ""}, "-postgres is empty"},
		{"schema alone", []string{"-postgres-schema", "demo_a"}, "needs -postgres"},
		{"cache on SQLite", []string{"-cache"}, "-cache needs -postgres or -redis"},
		{"cache in memory", []string{"-cache", "-memory"}, "-cache needs -postgres or -redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := parseConfig(tc.args, env(), io.Discard)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.want)) // error names the problem
		})
	}
}

// TestRedactConnString checks that no way of giving a password puts it in
// the log.
func TestRedactConnString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:hunter2@h:5432/d?sslmode=disable", "postgres://u@h:5432/d"},
		{"postgresql://u:hunter2@h/d", "postgres://u@h:5432/d"},
		{"postgres://u@h/d?password=hunter2&sslmode=disable", "postgres://u@h:5432/d"},
		{"postgres://u:hun%74er2@h/d", "postgres://u@h:5432/d"},
		{"postgres://u:hunter2@h1:5432,h2:5433/d?sslmode=disable", "postgres://u@h1:5432,h2:5433/d"},
		{"postgres://u:hunter2@[::1]:5432/d?sslmode=disable", "postgres://u@[::1]:5432/d"},
		{"host=h port=5432 user=u password=hunter2 dbname=d sslmode=disable", "postgres://u@h:5432/d"},
		{"host=h user=u password='hunter2 with spaces' dbname=d sslmode=disable", "postgres://u@h:5432/d"},
		{"postgres://u:hunter2@h:notaport/d", "(unparsable connection string)"},
	} {
		got := redactConnString(tc.in)
		if got != tc.want || strings.Contains(got, "hunter2") {
			t.Errorf("redactConnString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRunPostgresUnreachable checks that the demo gives up with an error,
// promptly and without the password, when PostgreSQL cannot be reached.
func TestRunPostgresUnreachable(t *testing.T) {
	is := is.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := ln.Addr().String()
	is.NoErr(ln.Close()) // nothing listens there now
	url := fmt.Sprintf("postgres://demo:hunter2@%s/sessions?sslmode=disable&connect_timeout=5", addr)

	var out bytes.Buffer
	start := time.Now()
	err = run(t.Context(), []string{"-addr", "127.0.0.1:0", "-postgres", url}, env(envPassword, testPassword), &out)
	is.True(err != nil)
	is.True(time.Since(start) < 20*time.Second)
	is.True(strings.Contains(err.Error(), "open PostgreSQL store at postgres://demo@"+addr+"/sessions"))
	is.True(!strings.Contains(err.Error(), "hunter2")) // the password is never shown
	is.True(!strings.Contains(out.String(), "hunter2"))
	is.True(!strings.Contains(out.String(), "msg=listening"))
}

func TestRunHelpPostgres(t *testing.T) {
	is := is.New(t)
	var out bytes.Buffer
	is.NoErr(run(context.Background(), []string{"-h"}, env(), &out))
	for _, s := range []string{"-postgres", "-postgres-schema", "cannot be combined with -memory", "PGPASSWORD"} {
		is.True(strings.Contains(out.String(), s)) // usage explains the PostgreSQL store
	}
}

// adminRevokesAcross signs alice in on both instances, revokes all her
// sessions through Okta's API on a with the instances' admin token, and checks that neither instance
// accepts them on the very next request.
func adminRevokesAcross(t *testing.T, a, b *demoproc.Process, adminToken string) {
	is := is.New(t)
	onA, onB := signIn(t, a, "alice"), signIn(t, b, "alice")
	for _, p := range []*demoproc.Process{a, b} {
		expectMe(t, p, onA, http.StatusOK)
		expectMe(t, p, onB, http.StatusOK)
	}
	res, _ := newClient(t, a.URL()).do(http.MethodDelete, "/api/v1/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
	is.Equal(res.StatusCode, http.StatusNoContent)
	expectMe(t, b, onB, http.StatusUnauthorized)
	expectMe(t, b, onA, http.StatusUnauthorized)
	expectMe(t, a, onA, http.StatusUnauthorized)
}
