package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// answer is a response, its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// field returns the JSON member at path ("error.code") of the body, or nil.
func (a answer) field(t *testing.T, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("the body %q is not JSON: %v", a.body, err)
	}
	for _, name := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[name]
	}
	return v
}

func call(t *testing.T, srv *httptest.Server, method, path string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, b}
}

// session starts a session of user and returns its id and token.
func session(t *testing.T, m *revoke.Manager, user string) (id, token string) {
	t.Helper()
	s, token, err := m.Create(context.Background(), user, revoke.Device{IP: "203.0.113.7", UserAgent: "test-agent/1.0"})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID, token
}

func active(t *testing.T, m *revoke.Manager, token string) bool {
	t.Helper()
	_, err := m.Resolve(context.Background(), token)
	return err == nil
}

// TestFamilyAnswersOnChi: through the example's router, the paths under
// the handlers' prefixes that no route serves as such get the family's
// answer, as under Mount: 405 with Allow, a 404 under each prefix, a 400
// for an empty id, and Okta's trailing slash served.
func TestFamilyAnswersOnChi(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	r, err := newRouter(m, adminToken)
	is.NoErr(err)
	srv := httptest.NewServer(r)
	defer srv.Close()
	admin := []string{"Authorization", "SSWS " + adminToken}
	_, alice := session(t, m, "alice")
	_, bob := session(t, m, "bob")

	res := call(t, srv, "PUT", "/api/v1/users/bob/sessions", admin...)
	is.Equal(res.status, 405)
	is.Equal(res.header.Get("Allow"), "DELETE")
	is.Equal(res.field(t, "errorCode"), "E0000022")

	for _, p := range []string{"/api/v1/nothing", "/oauth2/v1/nothing"} {
		res = call(t, srv, "GET", p, admin...)
		is.Equal(res.status, 404)
		is.Equal(res.field(t, "errorCode"), "E0000007") // Okta's shape under both of its prefixes
	}
	res = call(t, srv, "GET", "/auth/nothing")
	is.Equal(res.status, 404)
	is.Equal(res.field(t, "error", "code"), 404.0) // Kratos's
	res = call(t, srv, "GET", "/auth/admin/nothing", admin...)
	is.Equal(res.status, 404)
	is.Equal(res.field(t, "code"), "ROUTE_NOT_FOUND") // the admin family's
	res = call(t, srv, "GET", "/auth/oidc/nothing")
	is.Equal(res.status, 404)
	is.Equal(res.field(t, "error"), "invalid_request") // OAuth's

	res = call(t, srv, "DELETE", "/auth/sessions/", "X-Session-Token", alice)
	is.Equal(res.status, 400) // an empty id, in Kratos's shape
	is.Equal(res.field(t, "error", "code"), 400.0)

	res = call(t, srv, "DELETE", "/api/v1/users/bob/sessions/", admin...) // Okta's trailing slash
	is.Equal(res.status, 204)
	is.True(!active(t, m, bob) && active(t, m, alice))
}

// syncBuffer is a bytes.Buffer that a logger and a test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOnChi: the handlers beside the app's own chi routes, under the
// prefixes too, and single routes with Endpoint on chi patterns of the
// app's choosing, whose wildcards chi hands over as path values.
func TestOnChi(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	logs := &syncBuffer{}
	h, err := handlers.New(m, handlers.WithAdminTokens(adminToken),
		handlers.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	is.NoErr(err)

	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "home") })
	// An app route under a family's prefix.
	r.Get("/auth/login", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "login page") })
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "the app's own 404")
	})
	api := h.Handler()
	for _, p := range h.Prefixes() {
		r.Handle(p+"*", api)
	}
	r.Delete("/ops/users/{id}/sessions/{sessionId}", h.AdminRevokeSession().ServeHTTP)
	r.Delete("/ops/users/{id:[a-z]+}/sessions", h.Endpoint(handlers.RouteAdminRevokeAllSessions).ServeHTTP)
	r.Delete("/ops/broken/{id}", h.AdminRevokeSession().ServeHTTP) // no {sessionId}
	srv := httptest.NewServer(r)
	defer srv.Close()
	admin := []string{"Authorization", "SSWS " + adminToken}
	a1, a1Token := session(t, m, "alice")
	_, a2Token := session(t, m, "alice")

	// The app's routes, beside and under the prefixes, and its 404.
	res := call(t, srv, "GET", "/")
	is.Equal(string(res.body), "home")
	res = call(t, srv, "GET", "/auth/login")
	is.Equal(string(res.body), "login page")
	res = call(t, srv, "GET", "/elsewhere")
	is.Equal(res.status, 404)
	is.Equal(string(res.body), "the app's own 404")

	// A route of Handler's.
	res = call(t, srv, "GET", "/auth/sessions/whoami", "X-Session-Token", a1Token)
	is.Equal(res.status, 200)
	is.Equal(res.field(t, "id"), a1)

	// Single routes on chi's patterns.
	res = call(t, srv, "DELETE", "/ops/users/alice/sessions/"+a1, admin...)
	is.Equal(res.status, 200)
	is.Equal(res.field(t, "id"), a1)
	is.True(!active(t, m, a1Token) && active(t, m, a2Token))
	res = call(t, srv, "DELETE", "/ops/broken/alice", admin...)
	is.Equal(res.status, 500)
	is.Equal(res.field(t, "code"), "INTERNAL_ERROR")
	is.True(strings.Contains(logs.String(), "wildcard={sessionId}")) // the app's mistake, named
	is.True(active(t, m, a2Token))
	res = call(t, srv, "DELETE", "/ops/users/alice/sessions", admin...)
	is.Equal(res.status, 200)
	is.True(!active(t, m, a2Token))
}
