package interop

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// adminToken is the static API token the servers accept as an
// administrator.
const adminToken = "interop-admin-token-0123456789"

// The device every fixture session is created from, so that tests can
// check what the clients parse.
const (
	deviceIP    = "203.0.113.7"
	deviceAgent = "interop-agent/1.0"
)

// recorder records the calls of the app's OAuth token revoker or device
// forgetter.
type recorder struct {
	mu    sync.Mutex
	users []string
}

func (r *recorder) record(_ context.Context, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, userID)
	return nil
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.users)
}

// exchange is one request the server answered, as seen by the server.
type exchange struct {
	method, path string
	header       http.Header // request headers
	status       int
	respHeader   http.Header
	body         []byte
	arrived      time.Time
}

// tap records every exchange of a server, to check what the clients sent
// and what they were answered when a client hides it (the Okta SDK drains
// a 429's body before retrying).
type tap struct {
	mu  sync.Mutex
	log []exchange
}

func (t *tap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		t.mu.Lock()
		defer t.mu.Unlock()
		t.log = append(t.log, exchange{
			method: r.Method, path: r.URL.Path, header: r.Header.Clone(),
			status: rec.Code, respHeader: rec.Header().Clone(), body: rec.Body.Bytes(),
			arrived: arrived,
		})
	})
}

func (t *tap) exchanges() []exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.log)
}

// env is a Manager over a memstore with the handlers mounted on a test
// server that listens on the loopback interface only.
type env struct {
	t      *testing.T
	st     *memstore.Store
	m      *revoke.Manager
	srv    *httptest.Server
	tap    *tap
	oauth  *recorder
	forget *recorder
	users  map[string]bool // the user lookup's directory
	// rateLimited is whether the handlers rate-limit, and so send the
	// rate-limit headers on every answer.
	rateLimited bool
}

type envConfig struct {
	noOAuthRevoker bool
	store          *memstore.Store // shared with another env when set
	handlers       []handlers.Option
	users          []string // known to the user lookup, besides the usual ones
	noRateLimit    bool     // handlers.WithoutRateLimit()
	// wrapStore, when set, wraps the store the Manager uses.
	wrapStore func(store.SessionStore) store.SessionStore
}

func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	e := &env{
		t:      t,
		tap:    &tap{},
		oauth:  &recorder{},
		forget: &recorder{},
		users:  map[string]bool{"00u1alice": true, "00u2bob": true, "ory-user": true},
	}
	for _, u := range cfg.users {
		e.users[u] = true
	}
	e.st = cfg.store
	if e.st == nil {
		e.st = memstore.New()
		t.Cleanup(func() { _ = e.st.Close() })
	}
	var st store.SessionStore = e.st
	if cfg.wrapStore != nil {
		st = cfg.wrapStore(st)
	}

	cookie := revoke.DefaultCookie()
	cookie.Secure = false // the test server speaks plain HTTP
	mopts := []revoke.Option{
		revoke.WithCookieKeys(bytes.Repeat([]byte("k"), 32)),
		revoke.WithCookie(cookie),
		revoke.WithDeviceForgetter(e.forget.record),
	}
	if !cfg.noOAuthRevoker {
		mopts = append(mopts, revoke.WithOAuthTokenRevoker(e.oauth.record))
	}
	m, err := revoke.New(st, mopts...)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m

	hopts := []handlers.Option{
		handlers.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		handlers.WithAdminTokens(adminToken),
		handlers.WithUserLookup(func(_ context.Context, userID string) (bool, error) {
			return e.users[userID], nil
		}),
	}
	e.rateLimited = !cfg.noRateLimit
	if cfg.noRateLimit {
		hopts = append(hopts, handlers.WithoutRateLimit())
	}
	h, err := handlers.New(m, append(hopts, cfg.handlers...)...)
	if err != nil {
		t.Fatal(err)
	}

	// httptest.NewServer picks the loopback interface too, unless told
	// otherwise by a flag; binding explicitly rules that out.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(e.tap.wrap(h.Handler()))
	_ = e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// session is a fixture session and its token.
type session struct {
	revoke.Session
	token string
}

func (e *env) login(userID string) session {
	e.t.Helper()
	s, token, err := e.m.Create(context.Background(), userID, revoke.Device{IP: deviceIP, UserAgent: deviceAgent})
	if err != nil {
		e.t.Fatal(err)
	}
	return session{s, token}
}

// cookie returns the Cookie header value that carries the session of
// token, as a browser would send it.
func (e *env) cookie(token string) string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	if err := e.m.SetCookie(rec, token, time.Now().Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	return c.Name + "=" + c.Value
}

// active reports whether the session behind token still resolves.
func (e *env) active(token string) bool {
	_, err := e.m.Resolve(context.Background(), token)
	return err == nil
}
