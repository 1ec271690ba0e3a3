package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/matryer/is"
)

// TestRouteRateLimit: the demo's own routes but /login are limited per
// session, per address without a valid session, and per address over all
// its sessions, with 429 in the demo's error shape.
func TestRouteRateLimit(t *testing.T) {
	const perCaller = 4
	srv, _ := newTestServer(t, func(c *config) { c.routeRequests = perCaller })
	base := newClient(t, srv.URL)

	refused := func(t *testing.T, c *client, method, path string) {
		t.Helper()
		is := is.New(t)
		res, b := c.do(method, path, "")
		is.Equal(res.StatusCode, http.StatusTooManyRequests)
		is.Equal(decode[errorResponse](t, b).Error, "rate_limited")
		is.True(res.Header.Get("Retry-After") != "")
		is.Equal(res.Header.Get("X-Rate-Limit-Remaining"), "0") // a count, never how far over
	}

	t.Run("per session", func(t *testing.T) {
		is := is.New(t)
		c := base.from("127.0.2.1")
		lr, _ := c.login("admin", testPassword)
		admin := c.withToken(lr.Token)
		for _, path := range []string{"/me", "/demo/users", "/demo/audit", "/me"} {
			res, _ := admin.do(http.MethodGet, path, "")
			is.Equal(res.StatusCode, http.StatusOK)
			is.Equal(res.Header.Get("X-Rate-Limit-Limit"), strconv.Itoa(perCaller)) // Okta's spelling
			is.Equal(res.Header.Get("X-RateLimit-Limit"), "")
		}
		refused(t, admin, http.MethodGet, "/demo/audit")
		refused(t, admin, http.MethodPost, "/logout")
		other, _ := c.login("alice", testPassword)
		is.Equal(c.withToken(other.Token).meStatus(), http.StatusOK) // another session from that address
	})

	t.Run("anonymous, per address", func(t *testing.T) {
		is := is.New(t)
		c := base.from("127.0.2.2")
		for range perCaller {
			is.Equal(c.withToken("invented-token").meStatus(), http.StatusUnauthorized)
		}
		refused(t, c, http.MethodGet, "/me")
		is.Equal(base.from("127.0.2.3").meStatus(), http.StatusUnauthorized) // another address
	})

	t.Run("per address, before the lookup", func(t *testing.T) {
		is := is.New(t)
		c := base.from("127.0.2.4")
		for range routeAddressFactor * perCaller / 2 {
			lr, _ := c.login("bob", testPassword)
			s := c.withToken(lr.Token)
			is.Equal(s.meStatus(), http.StatusOK)
			is.Equal(s.meStatus(), http.StatusOK)
		}
		lr, _ := c.login("bob", testPassword)
		refused(t, c.withToken(lr.Token), http.MethodGet, "/me") // a fresh session, but the address is spent
	})
}

func TestRouteRateLimitOff(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.routeRequests = 0 })
	c := newClient(t, srv.URL)
	for range 2 * defaultRouteRequests {
		if c.meStatus() != http.StatusUnauthorized {
			t.Fatal("limited with -route-requests 0")
		}
	}
	_, err := newRouteLimits(-1, nil)
	is.True(err != nil)
}
