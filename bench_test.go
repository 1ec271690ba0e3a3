package revoke_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// The benchmarks here measure the per-request path on the in-memory store;
// the store packages measure their own backends, and bench/ runs them all
// and compares them with scs. See BENCHMARKS.md.

func benchManager(b *testing.B) *revoke.Manager {
	b.Helper()
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// discardWriter is a ResponseWriter that keeps nothing. Its header map is
// cleared before every request, so that headers a middleware adds (scs adds
// Vary) do not pile up across iterations as they would in a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func serveLoop(b *testing.B, h http.Handler, r *http.Request) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// requireSession is the handler under the middleware: it reads the session,
// as every real handler does, and fails the benchmark if there is none.
func requireSession(b *testing.B) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if _, ok := revoke.FromContext(r.Context()); !ok {
			b.Fatal("anonymous")
		}
	})
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

// BenchmarkMiddlewareHeader resolves X-Session-Token through the middleware.
func BenchmarkMiddlewareHeader(b *testing.B) {
	m := benchManager(b)
	_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(revoke.HeaderName, token)
	serveLoop(b, m.Middleware(requireSession(b)), r)
}

// BenchmarkMiddlewareAnonymous is a request without any session: the cost
// the middleware adds to public pages.
func BenchmarkMiddlewareAnonymous(b *testing.B) {
	m := benchManager(b)
	serveLoop(b, m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})),
		httptest.NewRequest("GET", "/", nil))
}

// BenchmarkCookie compares resolving an existing session from its cookie:
// revoke's middleware (securecookie's HMAC check and decode included)
// against scs's LoadAndSave with its in-memory store, each with a handler
// that reads the user.
func BenchmarkCookie(b *testing.B) {
	b.Run("revoke", func(b *testing.B) {
		m := benchManager(b)
		w := httptest.NewRecorder()
		if _, _, err := m.Login(w, httptest.NewRequest("POST", "/", nil), "alice"); err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(w.Result().Cookies()[0])
		serveLoop(b, m.Middleware(requireSession(b)), r)
	})
	b.Run("scs", func(b *testing.B) {
		sm := scs.New()
		sm.Store = scsmem.NewWithCleanupInterval(0)
		// Log in once, as an scs app does: put the user, commit, set the
		// cookie.
		login := sm.LoadAndSave(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "userID", "alice")
		}))
		w := httptest.NewRecorder()
		login.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			b.Fatalf("scs set %d cookies", len(cookies))
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookies[0])
		serveLoop(b, sm.LoadAndSave(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			if sm.GetString(r.Context(), "userID") != "alice" {
				b.Fatal("anonymous")
			}
		})), r)
	})
}
