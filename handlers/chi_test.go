package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

// The handlers on a chi router, beside the app's own chi routes, over real
// HTTP: Handler under Prefixes, as its documentation shows, and single
// routes with Endpoint on chi patterns of the app's choosing.
func TestOnChi(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)

	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "home") })
	// An app route under a family's prefix.
	r.Get("/auth/login", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "login page") })
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "the app's own 404")
	})
	api := e.h.Handler()
	for _, p := range e.h.Prefixes() {
		r.Handle(p+"*", api)
	}
	r.Delete("/ops/users/{id}/sessions/{sessionId}", e.h.AdminRevokeSession().ServeHTTP)
	r.Delete("/ops/users/{id:[a-z]+}/sessions", e.h.Endpoint(handlers.RouteAdminRevokeAllSessions).ServeHTTP)
	r.Delete("/ops/broken/{id}", e.h.AdminRevokeSession().ServeHTTP) // no {sessionId}
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	admin := []string{"Authorization", "SSWS " + adminToken}

	// The app's routes, beside and under the prefixes, and its 404.
	res := e.do("GET", "/", "")
	is.Equal(string(res.body), "home")
	res = e.do("GET", "/auth/login", "")
	is.Equal(string(res.body), "login page")
	res = e.do("GET", "/elsewhere", "")
	is.Equal(res.StatusCode, 404)
	is.Equal(string(res.body), "the app's own 404")

	// Each family's routes, 405 and 404, as under Mount.
	res = e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
	is.Equal(res.StatusCode, 200)
	is.Equal(res.json(t)["id"], e.a1.ID)
	res = e.do("PUT", "/api/v1/users/bob/sessions", "", admin...)
	checkOkta(t, res, 405, "E0000022")
	is.Equal(res.Header.Get("Allow"), "DELETE")
	res = e.do("GET", "/auth/admin/nothing", "", admin...)
	checkAdmin(t, res, 404, "ROUTE_NOT_FOUND")
	res = e.do("GET", "/auth/nothing", "")
	checkKratos(t, res, 404)
	res = e.do("DELETE", "/auth/sessions/", "", "X-Session-Token", e.a1.token)
	checkKratos(t, res, 400)                                          // an empty id, in Kratos's shape
	res = e.do("DELETE", "/api/v1/users/bob/sessions/", "", admin...) // Okta's trailing slash
	is.Equal(res.StatusCode, 204)
	is.True(!e.active(e.b1.token))

	// Single routes on chi's patterns, whose wildcards chi hands over as
	// path values.
	res = e.do("DELETE", "/ops/users/alice/sessions/"+e.a1.ID, "", admin...)
	is.Equal(res.StatusCode, 200)
	is.Equal(res.json(t)["id"], e.a1.ID)
	is.True(!e.active(e.a1.token) && e.active(e.a2.token))
	res = e.do("DELETE", "/ops/broken/alice", "", admin...)
	checkAdmin(t, res, 500, "INTERNAL_ERROR")
	is.True(strings.Contains(e.logs.String(), "wildcard={sessionId}"))
	is.True(e.active(e.a2.token))
	res = e.do("DELETE", "/ops/users/alice/sessions", "", admin...)
	is.Equal(res.StatusCode, 200)
	is.True(!e.active(e.a2.token))
}

// Every route, and so every family-shaped answer, lies under one of
// Prefixes, which is what mounting Handler under them on another router
// relies on.
func TestPrefixesCoverEveryRoute(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	prefixes := e.h.Prefixes()
	is.True(len(prefixes) > 0)
	for _, rt := range handlers.Routes() {
		under := false
		for _, p := range prefixes {
			under = under || strings.HasPrefix(rt.Pattern, p)
		}
		if !under {
			t.Errorf("%s %s lies under none of %v", rt.Method, rt.Pattern, prefixes)
		}
	}
	for _, p := range prefixes {
		for _, q := range prefixes {
			is.True(p == q || !strings.HasPrefix(p, q)) // none lies under another
		}
	}
}
