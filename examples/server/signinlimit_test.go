package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// from returns a client whose connections leave from ip, a loopback address:
// Linux routes the whole of 127.0.0.0/8 to the loopback interface, so one
// test can sign in from many client addresses over real HTTP.
func (c *client) from(ip string) *client {
	c.t.Helper()
	if runtime.GOOS != "linux" {
		c.t.Skip("needs loopback addresses other than 127.0.0.1")
	}
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	c.t.Cleanup(tr.CloseIdleConnections)
	d := *c
	d.http = &http.Client{Transport: tr}
	return &d
}

// attempt posts a sign-in and returns the response's status and error code.
func (c *client) attempt(username, password string) (int, *http.Response) {
	c.t.Helper()
	body, _ := json.Marshal(loginRequest{Username: username, Password: password})
	res, b := c.do(http.MethodPost, "/login", string(body))
	if res.StatusCode == http.StatusTooManyRequests {
		if e := decode[errorResponse](c.t, b); e.Error != "rate_limited" {
			c.t.Fatalf("429 with error %q, want rate_limited", e.Error)
		}
		if sessionCookie(res) != nil {
			c.t.Fatal("a refused sign-in set a session cookie")
		}
	}
	return res.StatusCode, res
}

// TestGuessingLocksNoOneOutElsewhere replays the lockout: wrong passwords
// for bob, from one address until its budget is spent and then one from each
// of many addresses, must not keep bob from signing in from his own.
func TestGuessingLocksNoOneOutElsewhere(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	attacker := c.from("127.0.0.66")
	for i := range defaultLoginFailures + 5 {
		status, _ := attacker.attempt("bob", fmt.Sprintf("guess-%d", i))
		if i < defaultLoginFailures {
			is.Equal(status, http.StatusUnauthorized)
		} else {
			is.Equal(status, http.StatusTooManyRequests) // that address is held up
		}
	}
	for i := range 2 * defaultLoginFailures {
		status, _ := c.from(fmt.Sprintf("127.0.1.%d", i+1)).attempt("bob", "nope")
		is.Equal(status, http.StatusUnauthorized) // one guess each, from many addresses
	}
	status, _ := c.from("127.0.0.2").attempt("bob", testPassword)
	is.Equal(status, http.StatusOK) // bob, elsewhere, signs in
}

// TestFailuresPerUsernameAndAddress: past its budget of failures for one
// username an address is refused for that username, even the right
// password, with 429 and Retry-After; other usernames from it still sign
// in.
func TestFailuresPerUsernameAndAddress(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL).from("127.0.0.70")
	for range defaultLoginFailures {
		status, _ := c.attempt("carol", "wrong")
		is.Equal(status, http.StatusUnauthorized)
	}
	status, res := c.attempt("carol", testPassword)
	is.Equal(status, http.StatusTooManyRequests)
	is.Equal(res.Header.Get("Retry-After"), "60")
	// The only count shown is that of all attempts, not how many guesses remain.
	is.Equal(res.Header.Get("X-Rate-Limit-Limit"), strconv.Itoa(defaultLoginAttempts))
	status, _ = c.attempt("alice", testPassword)
	is.Equal(status, http.StatusOK)
}

// TestFailuresPerAddress: one address trying passwords on many usernames is
// held up once its budget over all usernames is spent, also for the right
// password; other addresses are not.
func TestFailuresPerAddress(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	sprayer := c.from("127.0.0.77")
	for i := range addressFailuresFactor * defaultLoginFailures {
		status, _ := sprayer.attempt(fmt.Sprintf("user%d", i), "Summer2026!")
		is.Equal(status, http.StatusUnauthorized)
	}
	status, _ := sprayer.attempt("alice", testPassword)
	is.Equal(status, http.StatusTooManyRequests)
	status, _ = c.from("127.0.0.78").attempt("alice", testPassword)
	is.Equal(status, http.StatusOK)
}

// TestSignInsSpendNoFailures: an office behind one NAT signs in many people,
// and the same person many times, from one address; that spends none of the
// budget for wrong passwords, which is still whole afterwards.
func TestSignInsSpendNoFailures(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	office := newClient(t, srv.URL).from("127.0.0.80")
	typos := 0
	for i := range 150 {
		status, _ := office.attempt([]string{"alice", "bob", "carol"}[i%3], testPassword)
		is.Equal(status, http.StatusOK)
		if i%30 == 0 {
			status, _ := office.attempt("alice", "typo")
			is.Equal(status, http.StatusUnauthorized) // a mistyped password now and then
			typos++
		}
	}
	for range defaultLoginFailures - typos {
		status, _ := office.attempt("alice", "typo")
		is.Equal(status, http.StatusUnauthorized)
	}
	status, _ := office.attempt("alice", "typo")
	is.Equal(status, http.StatusTooManyRequests) // exactly the failures count
	status, _ = office.attempt("bob", testPassword)
	is.Equal(status, http.StatusOK)
}

// TestAttemptsPerAddress: every attempt from one address, right or wrong,
// counts against -login-attempts.
func TestAttemptsPerAddress(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.loginAttempts = 20 })
	c := newClient(t, srv.URL)
	busy := c.from("127.0.0.90")
	for range 20 {
		status, _ := busy.attempt("alice", testPassword)
		is.Equal(status, http.StatusOK)
	}
	status, res := busy.attempt("alice", testPassword)
	is.Equal(status, http.StatusTooManyRequests)
	is.True(res.Header.Get("Retry-After") != "")
	// Okta's spelling, as on the Okta routes, and a count, never how far over.
	is.Equal(res.Header.Get("X-Rate-Limit-Limit"), "20")
	is.Equal(res.Header.Get("X-Rate-Limit-Remaining"), "0")
	is.Equal(res.Header.Get("X-RateLimit-Limit"), "")
	status, _ = c.from("127.0.0.91").attempt("alice", testPassword)
	is.Equal(status, http.StatusOK)
}

// TestConcurrentGuessesCountedOnce: guesses sent at once cannot all slip in
// before any of them is counted.
func TestConcurrentGuessesCountedOnce(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL).from("127.0.0.95")
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	for i := range 60 {
		wg.Go(func() {
			status, _ := c.attempt("alice", fmt.Sprintf("guess-%d", i))
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	is.Equal(statuses, map[int]int{http.StatusUnauthorized: defaultLoginFailures, http.StatusTooManyRequests: 60 - defaultLoginFailures})
}

func TestSignInLimitFlags(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig([]string{"-login-attempts", "0", "-login-failures", "0"}, env(), io.Discard)
	is.NoErr(err)
	srv, _ := newTestServer(t, func(c *config) { c.loginAttempts, c.loginFailures = cfg.loginAttempts, cfg.loginFailures })
	c := newClient(t, srv.URL)
	for range defaultLoginFailures + 1 {
		status, _ := c.attempt("alice", "wrong")
		is.Equal(status, http.StatusUnauthorized) // off
	}
	_, err = newSignInLimits(-1, 10)
	is.True(err != nil)
	_, err = newSignInLimits(10, -1)
	is.True(err != nil)
}
