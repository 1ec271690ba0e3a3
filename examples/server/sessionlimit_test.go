package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestMaxSessionsRefused: with -max-sessions 2 -refuse-over-limit, a third
// sign-in of one user over HTTP is answered 409 session_limit, in words a
// person understands.
func TestMaxSessionsRefused(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.maxSessions, c.refuseOverLimit = 2, true })
	body := `{"username":"alice","password":"` + testPassword + `"}`
	for _, want := range []int{200, 200, 409} {
		res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(body))
		is.NoErr(err)
		if want == 409 {
			var e struct {
				Error, Message string
			}
			is.NoErr(json.NewDecoder(res.Body).Decode(&e))
			is.Equal(e.Error, "session_limit")
			is.True(strings.Contains(e.Message, "sign out"))
		}
		res.Body.Close()
		is.Equal(res.StatusCode, want)
	}
}

func TestMaxSessionsFlags(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig([]string{"-max-sessions", "3", "-refuse-over-limit"}, func(string) string { return "" }, new(strings.Builder))
	is.NoErr(err)
	is.Equal(cfg.maxSessions, 3)
	is.True(cfg.refuseOverLimit)
}

// The demo caps sessions by default, evicting rather than refusing; 0 turns
// the cap off.
func TestMaxSessionsDefault(t *testing.T) {
	is := is.New(t)
	none := func(string) string { return "" }
	cfg, err := parseConfig(nil, none, new(strings.Builder))
	is.NoErr(err)
	is.Equal(cfg.maxSessions, defaultMaxSessions)
	is.True(!cfg.refuseOverLimit)
	cfg, err = parseConfig([]string{"-max-sessions", "0"}, none, new(strings.Builder))
	is.NoErr(err)
	is.Equal(cfg.maxSessions, 0)
}

// Under the default cap the sixth sign-in signs out the session seen least
// recently, and /me says how many are allowed.
func TestMaxSessionsDefaultEvicts(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.maxSessions = defaultMaxSessions })
	c := newClient(t, srv.URL)
	var cookies []*http.Cookie
	for range defaultMaxSessions + 1 {
		_, ck := c.login("alice", testPassword)
		cookies = append(cookies, ck)
	}
	is.Equal(c.withCookie(cookies[0]).meStatus(), http.StatusUnauthorized) // the oldest, evicted
	for _, ck := range cookies[1:] {
		is.Equal(c.withCookie(ck).meStatus(), http.StatusOK)
	}
	_, b := c.withCookie(cookies[1]).do(http.MethodGet, "/me", "")
	is.Equal(decode[meResponse](t, b).MaxSessions, defaultMaxSessions)
}
