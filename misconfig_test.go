package revoke_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// TestFailureReasonWithoutMiddleware: a handler that reads FailureReason
// on a route the Middleware does not wrap learns that, not "no token".
func TestFailureReasonWithoutMiddleware(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	c, _ := loginCookie(t, m, "alice")
	r := withCookie(c)
	is.True(errors.Is(revoke.FailureReason(r.Context()), revoke.ErrNoMiddleware))
	_, ok, _, reason := whoami(m, httptest.NewRequest("GET", "/", nil))
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrNoSession)) // with the Middleware: no token
}

// TestSecureCookieOverPlainHTTPWarnsOnce: a Secure cookie set on a plain
// HTTP request from another machine is logged once, since the browser will
// drop it; TLS, a proxy saying https, and loopback are not.
func TestSecureCookieOverPlainHTTPWarnsOnce(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	m, err := revoke.New(memstore.New(), revoke.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	is.NoErr(err)
	login := func(edit func(*http.Request)) {
		r := httptest.NewRequest("POST", "/login", nil)
		edit(r)
		_, _, err := m.Login(httptest.NewRecorder(), r, "alice")
		is.NoErr(err)
	}
	login(func(r *http.Request) { r.RemoteAddr = "127.0.0.1:5000" })
	login(func(r *http.Request) { r.RemoteAddr = "[::1]:5000" })
	login(func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
	login(func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") })
	is.Equal(logs.String(), "")
	login(func(r *http.Request) { r.RemoteAddr = "192.0.2.7:5000" })
	login(func(r *http.Request) { r.RemoteAddr = "192.0.2.8:5000" })
	is.Equal(strings.Count(logs.String(), "level=WARN"), 1) // once
	is.True(strings.Contains(logs.String(), "WithInsecureDevelopmentCookie"))
}

// TestInsecureDevelopmentCookie: the development option drops Secure (and
// with it the __Host- name) whatever WithCookie says, and warns of nothing.
func TestInsecureDevelopmentCookie(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	m, err := revoke.New(memstore.New(), revoke.WithInsecureDevelopmentCookie(),
		revoke.WithCookie(revoke.DefaultCookie()), revoke.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	is.NoErr(err)
	c, _ := loginCookie(t, m, "alice")
	is.True(!c.Secure)
	is.True(c.HttpOnly)
	is.Equal(c.Name, revoke.DefaultCookieName)
	is.Equal(logs.String(), "")
}

// TestCookieWithoutHttpOnlyWarns: a Cookie literal that leaves HttpOnly out
// is logged when the Manager is made.
func TestCookieWithoutHttpOnlyWarns(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	_, err := revoke.New(memstore.New(), revoke.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		revoke.WithCookie(revoke.Cookie{Name: "sid", Secure: true}))
	is.NoErr(err)
	is.True(strings.Contains(logs.String(), "not HttpOnly"))
}

// TestGuardWithoutMiddlewareLogsOnce: RequireSession, RedirectToLogin and
// RequireFresh on routes the Middleware does not wrap can never let anyone
// in (a sign-in form would loop back to itself); the first such request is
// logged as an error, naming the fix, and the answer stays a refusal.
func TestGuardWithoutMiddlewareLogsOnce(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	m, err := revoke.New(memstore.New(), revoke.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	is.NoErr(err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	guards := []http.Handler{m.RequireSession(ok), m.RedirectToLogin("/login")(ok), m.RequireFresh(time.Minute)(ok)}

	for _, g := range guards {
		w := httptest.NewRecorder()
		m.Middleware(g).ServeHTTP(w, httptest.NewRequest("GET", "/page", nil))
		is.True(w.Code == http.StatusUnauthorized || w.Code == http.StatusSeeOther)
	}
	is.Equal(logs.String(), "") // anonymous, but through the Middleware: nothing to say

	for _, g := range guards {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest("GET", "/page", nil))
		is.True(w.Code == http.StatusUnauthorized || w.Code == http.StatusSeeOther) // still refused
	}
	is.Equal(strings.Count(logs.String(), "level=ERROR"), 1) // once per Manager
	is.True(strings.Contains(logs.String(), "m.Middleware"))
}
