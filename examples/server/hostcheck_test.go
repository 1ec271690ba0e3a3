package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/matryer/is"
)

// TestForeignHostRefused replays DNS rebinding against the demo run with
// the default password: a page at http://rebind.example:PORT, whose name
// resolves to 127.0.0.1, signs in as admin through the visitor's browser and
// revokes alice's sessions. The browser sends the page's name as Host, and
// every such request is refused before it reaches a route.
func TestForeignHostRefused(t *testing.T) {
	is := is.New(t)
	r := startRun(t, []string{"-memory"}, env(envAdminToken, testAdminToken)) // REVOKE_DEMO_PASSWORD unset
	u, err := url.Parse(r.base)
	is.NoErr(err)
	c := newClient(t, r.base)
	alice, _ := c.login("alice", defaultPassword)

	foreign := "rebind.example:" + u.Port()
	page := []string{"Host", foreign, "Origin", "http://" + foreign, "Sec-Fetch-Site", "same-origin"}
	res, b := c.do(http.MethodPost, "/login", `{"username":"admin","password":"demo"}`, page...)
	is.Equal(res.StatusCode, http.StatusMisdirectedRequest)
	is.Equal(decode[errorResponse](t, b).Error, "misdirected")
	is.Equal(sessionCookie(res), nil) // not signed in
	for _, path := range []string{"/", "/me", "/demo/users", "/api/v1/users/alice/sessions"} {
		res, _ := c.do(http.MethodGet, path, "", page...)
		is.Equal(res.StatusCode, http.StatusMisdirectedRequest) // every route
	}
	res, _ = c.do(http.MethodDelete, "/api/v1/users/alice/sessions", "", append(page, "Authorization", "SSWS "+testAdminToken)...)
	is.Equal(res.StatusCode, http.StatusMisdirectedRequest) // even with the admin token
	is.Equal(c.withToken(alice.Token).meStatus(), http.StatusOK)

	for _, host := range []string{"127.0.0.2:" + u.Port(), "[::1]:" + u.Port(), "127.0.0.1.rebind.example", "localhost.rebind.example:" + u.Port()} {
		res, _ := c.do(http.MethodGet, "/", "", "Host", host)
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: status %d, want 421", host, res.StatusCode)
		}
	}
	for _, host := range []string{u.Host, "127.0.0.1", "localhost:" + u.Port(), "LocalHost:9999", "localhost"} {
		res, _ := c.do(http.MethodGet, "/", "", "Host", host)
		if res.StatusCode != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200", host, res.StatusCode)
		}
	}
}

// TestAnyHostWithChosenPassword: once the password is chosen the demo may be
// served under any name (behind a proxy, on a LAN address), so Host is not
// checked.
func TestAnyHostWithChosenPassword(t *testing.T) {
	is := is.New(t)
	r := startRun(t, []string{"-memory"}, env(envPassword, testPassword))
	c := newClient(t, r.base)
	res, _ := c.do(http.MethodGet, "/", "", "Host", "demo.example")
	is.Equal(res.StatusCode, http.StatusOK)
	lr, _ := c.login("alice", testPassword)
	res, _ = c.withToken(lr.Token).do(http.MethodGet, "/me", "", "Host", "demo.example:443")
	is.Equal(res.StatusCode, http.StatusOK)
}
