package revoke_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

func benchManager(b *testing.B) *revoke.Manager {
	b.Helper()
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkResolveToken is the floor: validate, hash, look up.
func BenchmarkResolveToken(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	_, token, err := m.Create(ctx, "alice", revoke.Device{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Resolve(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMiddleware(b *testing.B, m *revoke.Manager, r *http.Request) {
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if _, ok := revoke.FromContext(r.Context()); !ok {
			b.Fatal("anonymous")
		}
	}))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddlewareHeader resolves X-Session-Token through the middleware.
func BenchmarkMiddlewareHeader(b *testing.B) {
	m := benchManager(b)
	_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(revoke.HeaderName, token)
	benchMiddleware(b, m, r)
}

// BenchmarkMiddlewareCookie includes the securecookie HMAC check.
func BenchmarkMiddlewareCookie(b *testing.B) {
	m := benchManager(b)
	w := httptest.NewRecorder()
	if _, _, err := m.Login(w, httptest.NewRequest("POST", "/", nil), "alice"); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	benchMiddleware(b, m, r)
}
