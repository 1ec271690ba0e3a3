package reliability

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/demoproc"
)

// Settings of the soak.
const (
	envSoakDuration     = "REVOKE_SOAK_DURATION"
	defaultSoakDuration = 10 * time.Second
	soakWorkers         = 16
	soakPassword        = "soak test password"
	soakAdminToken      = "soak-admin-token-0123456789abcdef"
	// adminEvery paces the administrator's revocations, shared between
	// the admin family (two in three calls) and Okta's (one in three), to
	// stay well inside the demo's per-token rate limits (300 and 120 a
	// minute): a 429 there would be a test bug, and counts as unexpected.
	adminEvery = 250 * time.Millisecond
	// Resource bounds between the sample after warm-up and the last one.
	fdSlack      = 16         // more open descriptors allowed
	threadSlack  = 16         // more OS threads allowed
	rssFloorMiB  = 64         // RSS may always grow by this much...
	rssMaxFactor = 2          // ...or up to this factor, whichever is larger
	maxSoakIter  = 10_000_000 // per worker; a bound, never reached
)

// The demo's users, all with soakPassword.
var soakUsers = []string{"alice", "bob", "carol", "admin"}

// TestSoak runs the demo server binary on SQLite under a sustained mixed
// load from soakWorkers concurrent clients: logins, GET /me with the cookie
// and with X-Session-Token, Kratos' "sign out my other sessions", sign-outs,
// and an administrator revoking single sessions and all of a user's
// sessions through the admin and Okta APIs. Every response must have a
// status expected for its request, with no 5xx and no transport error;
// whenever a client knows a session is revoked (its own revocation or an
// administrator's returned) the session must be refused at once; the
// server logs no error; and its open descriptors, threads and resident
// memory measured from outside (/proc) stay bounded from the end of the
// warm-up to the end of the run.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo server and loads it for several seconds")
	}
	if runtime.GOOS != "linux" {
		t.Skip("samples the server's resources from /proc")
	}
	duration := envDuration(t, envSoakDuration, defaultSoakDuration)
	warmup := min(duration/5, 30*time.Second)

	dir := t.TempDir()
	// Every worker signs in and calls /me from 127.0.0.1 over and over: the
	// demo's per-address limits on sign-ins and on its own routes would
	// refuse them.
	srv := demoproc.Start(t, demoproc.Build(t, dir), []string{"-db", filepath.Join(dir, "soak.db"), "-login-attempts", "0", "-route-requests", "0"}, []string{
		"REVOKE_ADMIN_TOKEN=" + soakAdminToken,
		"REVOKE_DEMO_PASSWORD=" + soakPassword,
		"REVOKE_COOKIE_KEY=" + hex.EncodeToString([]byte(rand.Text()+rand.Text())),
	})
	tr := &http.Transport{MaxIdleConns: soakWorkers + 2, MaxIdleConnsPerHost: soakWorkers + 2}
	defer tr.CloseIdleConnections()
	ld := &load{
		base:   srv.URL(),
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		stop:   make(chan struct{}),
		stats:  map[string]map[int]int{},
	}

	var wg sync.WaitGroup
	began := time.Now()
	for w := range soakWorkers {
		wg.Go(func() { ld.worker(w) })
	}
	wg.Go(ld.admin)
	var stopOnce sync.Once
	stopLoad := func() {
		stopOnce.Do(func() { close(ld.stop) })
		wg.Wait()
	}
	defer stopLoad() // also when a sample fails the test early

	time.Sleep(warmup)
	first := sample(t, srv.PID())
	measuredFrom := time.Now()
	reqsAtFirst := ld.requests.Load()
	peak := first
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for time.Since(began) < duration {
		<-tick.C
		s := sample(t, srv.PID())
		peak = resources{max(peak.rssKiB, s.rssKiB), max(peak.fds, s.fds), max(peak.threads, s.threads)}
	}
	last := sample(t, srv.PID())
	measured := time.Since(measuredFrom)
	reqsMeasured := ld.requests.Load() - reqsAtFirst
	stopLoad()
	elapsed := time.Since(began)
	idle := sample(t, srv.PID())
	srv.Stop(t)

	total := ld.requests.Load()
	t.Logf("soak: %d workers + 1 admin for %v (warm-up %v): %d requests, %.0f req/s overall, %.0f req/s after warm-up",
		soakWorkers, elapsed.Round(time.Millisecond), warmup, total, float64(total)/elapsed.Seconds(), float64(reqsMeasured)/measured.Seconds())
	for _, line := range ld.statusLines() {
		t.Log("  " + line)
	}
	t.Logf("  transport errors %d, unexpected statuses %d, 5xx %d; %d immediate-refusal checks of known-revoked sessions, %d failed",
		ld.transportErrs.Load(), ld.unexpected.Load(), ld.serverErrs.Load(), ld.strictChecks.Load(), ld.strictFails.Load())
	errorLines, firstError := srv.Logged("ERROR")
	warnLines, _ := srv.Logged("WARN")
	t.Logf("  server: RSS %.1f MiB after warm-up, %.1f MiB at the end (peak %.1f, %.1f idle); fds %d -> %d (peak %d, %d idle); threads %d -> %d (peak %d); log lines: %d ERROR, %d WARN",
		mib(first.rssKiB), mib(last.rssKiB), mib(peak.rssKiB), mib(idle.rssKiB),
		first.fds, last.fds, peak.fds, idle.fds, first.threads, last.threads, peak.threads,
		errorLines, warnLines)

	if n := ld.transportErrs.Load(); n != 0 {
		t.Errorf("%d transport errors", n)
	}
	if n := ld.unexpected.Load(); n != 0 {
		t.Errorf("%d responses with an unexpected status (%d of them 5xx)", n, ld.serverErrs.Load())
	}
	if n := ld.strictFails.Load(); n != 0 {
		t.Errorf("%d known-revoked sessions were accepted", n)
	}
	if errorLines != 0 {
		t.Errorf("the server logged %d errors; first: %s", errorLines, firstError)
	}
	if ld.strictChecks.Load() == 0 || total < soakWorkers {
		t.Error("the load did almost nothing: the test proved nothing")
	}
	if last.fds > first.fds+fdSlack {
		t.Errorf("open descriptors grew from %d to %d", first.fds, last.fds)
	}
	if last.threads > first.threads+threadSlack {
		t.Errorf("threads grew from %d to %d", first.threads, last.threads)
	}
	if limit := max(first.rssKiB*rssMaxFactor, first.rssKiB+rssFloorMiB<<10); last.rssKiB > limit {
		t.Errorf("RSS grew from %.1f MiB to %.1f MiB (limit %.1f MiB)", mib(first.rssKiB), mib(last.rssKiB), mib(limit))
	}
	if t.Failed() {
		// The server's output is logged too, when the test ends.
		t.Logf("first failures:\n%s", strings.Join(ld.failures, "\n"))
	}
}

// load is the soak's clients and what they counted.
type load struct {
	base   string
	client *http.Client
	stop   chan struct{}

	requests, transportErrs, unexpected, serverErrs atomic.Int64
	strictChecks, strictFails                       atomic.Int64

	mu       sync.Mutex
	stats    map[string]map[int]int // request kind -> status -> count
	recent   []soakSession          // sessions the administrator may revoke
	failures []string               // the first few, see report
}

// soakSession is a session a client holds.
type soakSession struct {
	user, id, token string
	cookie          *http.Cookie
	at              time.Time // when its login returned
}

// expected is every status each kind of request may be answered with.
var expected = map[string][]int{
	// 409: the account was signed out everywhere during the sign-in.
	"POST /login": {http.StatusOK, http.StatusConflict},
	// Another client's "sign out my other sessions" or an administrator
	// may have revoked the session at any moment.
	"GET /me (cookie)": {http.StatusOK, http.StatusUnauthorized},
	"GET /me (header)": {http.StatusOK, http.StatusUnauthorized},
	// All the workers share one client address, and the per-address
	// budget (checked before the session is looked up) and a revoked
	// session's requests both count against it; so any of these may be
	// rate limited.
	"DELETE /auth/sessions": {http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests},
	"POST /logout":          {http.StatusNoContent},
	"DELETE /auth/admin/api/users/{id}/sessions/{s}": {http.StatusOK},
	"DELETE /auth/admin/api/users/{id}/sessions":     {http.StatusOK},
	"DELETE /api/v1/users/{id}/sessions":             {http.StatusNoContent},
}

// call sends one request of the given kind and checks its status. It
// returns 0 when the request failed or the status was unexpected, which
// the caller treats as the end of what it can check.
func (ld *load) call(kind, method, path string, body []byte, set func(*http.Request)) (int, []byte) {
	status, b, _ := ld.callCookies(kind, method, path, body, set)
	return status, b
}

// callCookies is call that also returns the cookies the response set.
func (ld *load) callCookies(kind, method, path string, body []byte, set func(*http.Request)) (int, []byte, []*http.Cookie) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ld.base+path, r)
	if err != nil {
		ld.report("%s: %v", kind, err)
		return 0, nil, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if set != nil {
		set(req)
	}
	ld.requests.Add(1)
	res, err := ld.client.Do(req)
	if err != nil {
		ld.transportErrs.Add(1)
		ld.report("%s: %v", kind, err)
		return 0, nil, nil
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		ld.transportErrs.Add(1)
		ld.report("%s: reading the body: %v", kind, err)
		return 0, nil, nil
	}
	ld.mu.Lock()
	if ld.stats[kind] == nil {
		ld.stats[kind] = map[int]int{}
	}
	ld.stats[kind][res.StatusCode]++
	ld.mu.Unlock()
	if res.StatusCode >= 500 {
		ld.serverErrs.Add(1)
	}
	if !slices.Contains(expected[kind], res.StatusCode) {
		ld.unexpected.Add(1)
		ld.report("%s: unexpected status %d: %s", kind, res.StatusCode, b)
		return 0, nil, nil
	}
	return res.StatusCode, b, res.Cookies()
}

// report keeps the first few failures for the test's log; a broken run
// could otherwise produce thousands.
func (ld *load) report(format string, args ...any) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if len(ld.failures) < 20 {
		ld.failures = append(ld.failures, fmt.Sprintf(format, args...))
	}
}

func (ld *load) stopped() bool {
	select {
	case <-ld.stop:
		return true
	default:
		return false
	}
}

// me asks who a session is, by cookie or by header, and checks the answer.
// It returns whether the session was accepted; ok is false after a failure.
func (ld *load) me(s soakSession, byCookie bool) (accepted, ok bool) {
	kind, set := "GET /me (header)", func(r *http.Request) { r.Header.Set("X-Session-Token", s.token) }
	if byCookie {
		kind, set = "GET /me (cookie)", func(r *http.Request) { r.AddCookie(s.cookie) }
	}
	status, b := ld.call(kind, http.MethodGet, "/me", nil, set)
	switch status {
	case http.StatusOK:
		var me struct{ UserID, SessionID string }
		if err := json.Unmarshal(b, &me); err != nil || me.UserID != s.user || me.SessionID != s.id {
			ld.unexpected.Add(1)
			ld.report("%s for %s/%s answered %s", kind, s.user, s.id, b)
			return false, false
		}
		return true, true
	case http.StatusUnauthorized:
		return false, true
	}
	return false, false
}

// mustBeRevoked checks that a session the client knows to be revoked is
// refused, by header and, when it has one, by cookie.
func (ld *load) mustBeRevoked(s soakSession, why string) {
	for _, byCookie := range []bool{false, true} {
		if byCookie && s.cookie == nil {
			continue
		}
		ld.strictChecks.Add(1)
		if accepted, _ := ld.me(s, byCookie); accepted {
			ld.strictFails.Add(1)
			ld.report("session %s of %s accepted after %s", s.id, s.user, why)
		}
	}
}

// worker signs in and out as one user, over and over: two sessions, GET /me
// with each credential, "sign out my other sessions" from the second, then
// sign-out with its cookie.
func (ld *load) worker(w int) {
	user := soakUsers[w%len(soakUsers)]
	for range maxSoakIter {
		if ld.stopped() {
			return
		}
		s1, ok := ld.login(user)
		if !ok {
			continue
		}
		ld.offer(s1)
		if _, ok := ld.me(s1, true); !ok {
			continue
		}
		if _, ok := ld.me(s1, false); !ok {
			continue
		}
		s2, ok := ld.login(user)
		if !ok {
			continue
		}
		status, _ := ld.call("DELETE /auth/sessions", http.MethodDelete, "/auth/sessions", nil,
			func(r *http.Request) { r.Header.Set("X-Session-Token", s2.token) })
		switch status {
		case http.StatusOK:
			ld.mustBeRevoked(s1, "its user signed out of the other sessions")
		}
		// A 429 tells nothing about s2: the per-address budget, checked
		// before the session is looked up, holds live sessions back too.
		if status, _ := ld.call("POST /logout", http.MethodPost, "/logout", nil,
			func(r *http.Request) { r.AddCookie(s2.cookie) }); status == http.StatusNoContent {
			ld.mustBeRevoked(s2, "signing out")
		}
	}
}

// login signs user in and returns the session with its token and cookie.
func (ld *load) login(user string) (soakSession, bool) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": soakPassword})
	status, b, cookies := ld.callCookies("POST /login", http.MethodPost, "/login", body, nil)
	if status != http.StatusOK {
		return soakSession{}, false
	}
	var lr struct{ UserID, SessionID, Token string }
	s := soakSession{user: user, at: time.Now()}
	for _, c := range cookies {
		if c.Name == "revoke_session" {
			s.cookie = c
		}
	}
	if json.Unmarshal(b, &lr) != nil || lr.UserID != user || lr.SessionID == "" || lr.Token == "" || s.cookie == nil {
		ld.unexpected.Add(1)
		ld.report("login as %s: cookie %v, body %s", user, s.cookie != nil, b)
		return soakSession{}, false
	}
	s.id, s.token = lr.SessionID, lr.Token
	return s, true
}

// recentMax bounds the sessions kept for the administrator to pick from.
const recentMax = 256

// offer makes a session available to the administrator.
func (ld *load) offer(s soakSession) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if len(ld.recent) == recentMax {
		ld.recent = slices.Delete(ld.recent, 0, 1)
	}
	ld.recent = append(ld.recent, s)
}

// pick returns a random recent session, of user when user is not empty,
// that signed in before the given time.
func (ld *load) pick(user string, before time.Time) (soakSession, bool) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var cands []soakSession
	for _, s := range ld.recent {
		if (user == "" || s.user == user) && s.at.Before(before) {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return soakSession{}, false
	}
	return cands[mrand.IntN(len(cands))], true
}

// admin revokes, every adminEvery, one recent session or all of a user's
// sessions, with the admin API token, and checks that what it revoked is
// refused at once.
func (ld *load) admin() {
	tick := time.NewTicker(adminEvery)
	defer tick.Stop()
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+soakAdminToken) }
	ssws := func(r *http.Request) { r.Header.Set("Authorization", "SSWS "+soakAdminToken) }
	for n := 0; n < maxSoakIter; n++ {
		select {
		case <-ld.stop:
			return
		case <-tick.C:
		}
		before := time.Now()
		switch n % 3 {
		case 0:
			s, ok := ld.pick("", before)
			if !ok {
				continue
			}
			path := "/auth/admin/api/users/" + s.user + "/sessions/" + s.id
			status, b := ld.call("DELETE /auth/admin/api/users/{id}/sessions/{s}", http.MethodDelete, path, nil, bearer)
			if status != http.StatusOK {
				continue
			}
			var got struct {
				ID        string     `json:"id"`
				RevokedAt *time.Time `json:"revokedAt"`
			}
			if json.Unmarshal(b, &got) != nil || got.ID != s.id || got.RevokedAt == nil {
				ld.unexpected.Add(1)
				ld.report("admin revoke of %s answered %s", s.id, b)
				continue
			}
			ld.mustBeRevoked(s, "an administrator revoked it")
		default:
			user := soakUsers[mrand.IntN(len(soakUsers))]
			kind, path, auth := "DELETE /auth/admin/api/users/{id}/sessions", "/auth/admin/api/users/"+user+"/sessions", bearer
			if n%3 == 2 {
				kind, path, auth = "DELETE /api/v1/users/{id}/sessions", "/api/v1/users/"+user+"/sessions", ssws
			}
			if status, _ := ld.call(kind, http.MethodDelete, path, nil, auth); status == 0 {
				continue
			}
			// Any session of the user that signed in before the call
			// was made is revoked now.
			if s, ok := ld.pick(user, before); ok {
				ld.mustBeRevoked(s, "an administrator revoked all of "+user+"'s sessions")
			}
		}
	}
}

// statusLines describes the statuses of each kind of request.
func (ld *load) statusLines() []string {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var out []string
	for kind, byStatus := range ld.stats {
		var parts []string
		for status, n := range byStatus {
			parts = append(parts, fmt.Sprintf("%d×%d", n, status))
		}
		slices.Sort(parts)
		out = append(out, kind+": "+strings.Join(parts, ", "))
	}
	slices.Sort(out)
	return out
}

// resources is what sample reads of a process.
type resources struct {
	rssKiB, fds, threads int
}

func mib(kib int) float64 { return float64(kib) / 1024 }

// sample reads a process's resident memory and threads from
// /proc/<pid>/status and counts its open descriptors in /proc/<pid>/fd.
func sample(t *testing.T, pid int) resources {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var r resources
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			r.rssKiB, _ = strconv.Atoi(f[1]) // in kB
		case "Threads:":
			r.threads, _ = strconv.Atoi(f[1])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	r.fds = len(fds)
	if r.rssKiB == 0 || r.threads == 0 {
		t.Fatalf("could not read VmRSS and Threads of process %d", pid)
	}
	return r
}
