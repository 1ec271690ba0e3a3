package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
)

const signOutEverywhere = "/api/v1/users/me/lifecycle/delete_sessions"

// testClock is a clock tests move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) add(d time.Duration) { c.offset.Add(int64(d)) }

func newFreshServer(t *testing.T, change ...func(*config)) (*client, *testClock) {
	t.Helper()
	clock := &testClock{}
	srv, _ := newTestServer(t, append([]func(*config){func(c *config) { c.now = clock.now }}, change...)...)
	return newClient(t, srv.URL), clock
}

func (c *client) reauth(password string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodPost, "/reauth", `{"password":"`+password+`"}`)
}

// Signing out everywhere with a session whose password was typed longer
// than -fresh-for ago is answered with RFC 9470's step-up challenge; the
// password typed again through POST /reauth lets it through, on the
// session's new cookie.
func TestSignOutEverywhereAsksForThePasswordAgain(t *testing.T) {
	is := is.New(t)
	c, clock := newFreshServer(t)
	_, ck := c.login("alice", testPassword)
	alice := c.withCookie(ck)

	clock.add(defaultFreshFor + time.Minute)
	res, b := alice.do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusUnauthorized)
	is.True(strings.Contains(res.Header.Get("WWW-Authenticate"), `error="insufficient_user_authentication"`))
	is.True(strings.Contains(res.Header.Get("WWW-Authenticate"), "max_age=300"))
	is.Equal(decode[errorResponse](t, b).Error, "insufficient_user_authentication")
	is.Equal(alice.meStatus(), http.StatusOK) // nothing was signed out

	res, b = alice.reauth("wrong password")
	is.Equal(res.StatusCode, http.StatusUnauthorized)
	is.Equal(decode[errorResponse](t, b).Error, "invalid_credentials")
	res, _ = alice.do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusUnauthorized) // still not fresh
	is.Equal(alice.meStatus(), http.StatusOK)         // a wrong password ends nothing

	res, b = alice.reauth(testPassword)
	is.Equal(res.StatusCode, http.StatusOK)
	is.True(decode[reauthResponse](t, b).Token != "")
	renewed := sessionCookie(res)
	is.True(renewed != nil && renewed.Value != ck.Value) // a new token, as a change of privilege wants
	is.Equal(alice.meStatus(), http.StatusUnauthorized)  // the old cookie no longer works
	alice = c.withCookie(renewed)

	res, _ = alice.do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusOK)             // fresh now
	is.Equal(alice.meStatus(), http.StatusUnauthorized) // signed out everywhere
}

// A session that just signed in is fresh: no password is asked for.
func TestSignOutEverywhereRightAfterSignIn(t *testing.T) {
	is := is.New(t)
	c, clock := newFreshServer(t)
	_, other := c.login("alice", testPassword)
	_, ck := c.login("alice", testPassword)
	clock.add(defaultFreshFor - time.Minute)
	res, _ := c.withCookie(ck).do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(c.withCookie(other).meStatus(), http.StatusUnauthorized)
}

// The endpoint acts on the cookie's session, so the cookie's session is the
// one that must be fresh: a fresh X-Session-Token sent along does not count.
func TestSignOutEverywhereJudgesTheCookiesSession(t *testing.T) {
	is := is.New(t)
	c, clock := newFreshServer(t)
	_, stale := c.login("alice", testPassword)
	clock.add(defaultFreshFor + time.Minute)
	fresh, _ := c.login("alice", testPassword)
	res, b := c.withCookie(stale).do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`, "X-Session-Token", fresh.Token)
	is.Equal(res.StatusCode, http.StatusUnauthorized)
	is.Equal(decode[errorResponse](t, b).Error, "insufficient_user_authentication")
	is.Equal(c.withToken(fresh.Token).meStatus(), http.StatusOK)

	// Without a cookie the endpoint answers itself, in Okta's shape.
	res, b = c.withToken(fresh.Token).do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusForbidden)
	is.True(strings.Contains(string(b), "errorCode"))
}

// The -fresh-for flag sets the window, which /me reports.
func TestFreshForFlag(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig([]string{"-fresh-for", "90s"}, func(string) string { return "" }, new(strings.Builder))
	is.NoErr(err)
	is.Equal(cfg.freshFor, 90*time.Second)
	_, err = parseConfig([]string{"-fresh-for", "0s"}, func(string) string { return "" }, new(strings.Builder))
	is.True(err != nil) // a window of nothing would lock everyone out

	c, clock := newFreshServer(t, func(c *config) { c.freshFor = 90 * time.Second })
	_, ck := c.login("alice", testPassword)
	_, b := c.withCookie(ck).do(http.MethodGet, "/me", "")
	is.Equal(decode[meResponse](t, b).FreshFor, int64(90))
	clock.add(2 * time.Minute)
	res, _ := c.withCookie(ck).do(http.MethodPost, signOutEverywhere, `{"keepCurrent":false}`)
	is.Equal(res.StatusCode, http.StatusUnauthorized)
	is.True(strings.Contains(res.Header.Get("WWW-Authenticate"), "max_age=90"))
}

func TestReauthRefusals(t *testing.T) {
	c, _ := newFreshServer(t, func(c *config) { c.loginFailures = 2 })
	_, ck := c.login("alice", testPassword)
	alice := c.withCookie(ck)
	for _, tc := range []struct {
		name   string
		c      *client
		body   string
		status int
		code   string
	}{
		{"no session", c, `{"password":"` + testPassword + `"}`, 401, "unauthorized"},
		{"not JSON", alice, `password=x`, 400, "bad_request"},
		{"no password", alice, `{"password":""}`, 400, "bad_request"},
		{"too large", alice, `{"password":"` + strings.Repeat("x", maxLoginBody) + `"}`, 413, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			res, b := tc.c.do(http.MethodPost, "/reauth", tc.body)
			is.Equal(res.StatusCode, tc.status)
			is.Equal(decode[errorResponse](t, b).Error, tc.code)
		})
	}

	t.Run("cross-site", func(t *testing.T) {
		is := is.New(t)
		res, _ := alice.do(http.MethodPost, "/reauth", `{"password":"`+testPassword+`"}`, "Sec-Fetch-Site", "cross-site")
		is.Equal(res.StatusCode, http.StatusForbidden)
	})

	// Guessing through a session is held to the sign-in's failure budget.
	t.Run("guessing", func(t *testing.T) {
		is := is.New(t)
		for range 2 {
			res, _ := alice.reauth("guess")
			is.Equal(res.StatusCode, http.StatusUnauthorized)
		}
		res, b := alice.reauth(testPassword)
		is.Equal(res.StatusCode, http.StatusTooManyRequests)
		is.Equal(decode[errorResponse](t, b).Error, "rate_limited")
		is.True(res.Header.Get("Retry-After") != "")
		// ... which is the sign-in's own: alice cannot sign in from here either.
		res, _ = c.do(http.MethodPost, "/login", `{"username":"alice","password":"`+testPassword+`"}`)
		is.Equal(res.StatusCode, http.StatusTooManyRequests)
	})
}
