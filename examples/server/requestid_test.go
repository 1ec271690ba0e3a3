package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestClientRequestIDNotReflected: a client's X-Request-Id is neither echoed
// nor logged by the demo's own routes, which keep no request ids; the
// mounted handlers, which do, replace one that is oversized or odd (their
// package bounds it) rather than copy it.
func TestClientRequestIDNotReflected(t *testing.T) {
	is := is.New(t)
	r := startRun(t, []string{"-memory"}, env(envPassword, testPassword, envAdminToken, testAdminToken))
	c := newClient(t, r.base)
	lr, _ := c.login("admin", testPassword)
	hostile := "rid-" + strings.Repeat("x", 4<<10) + `" level=ERROR msg=forged`
	s := c.withToken(lr.Token)
	for _, rt := range []struct{ method, path string }{
		{http.MethodGet, "/"}, {http.MethodGet, "/me"}, {http.MethodGet, "/demo/users"},
		{http.MethodGet, "/demo/audit"}, {http.MethodPost, "/login"}, {http.MethodPost, "/logout"},
	} {
		res, _ := s.do(rt.method, rt.path, "", "X-Request-Id", hostile)
		is.Equal(res.Header.Get("X-Request-Id"), "") // the demo's routes echo none
	}
	res, _ := c.withToken(lr.Token).do(http.MethodGet, "/auth/sessions/whoami", "", "X-Request-Id", hostile)
	got := res.Header.Get("X-Request-Id")
	is.True(got != "" && !strings.HasPrefix(got, "rid-")) // the handlers' own id instead
	r.stop(t)
	is.True(!strings.Contains(r.out.String(), "rid-")) // and nothing of it logged
}
