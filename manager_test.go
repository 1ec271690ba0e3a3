package revoke_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newManager(t *testing.T, opts ...revoke.Option) (*revoke.Manager, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	cookie := revoke.DefaultCookie()
	cookie.Secure = false // httptest serves plain HTTP
	opts = append([]revoke.Option{revoke.WithCookieKeys(testKey), revoke.WithCookie(cookie)}, opts...)
	m, err := revoke.New(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

// app is a small application: /login logs in the user named by ?user=,
// /whoami answers the user id or 401, /revoke-all signs the user out
// everywhere.
func app(m *revoke.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_, token, err := m.Login(w, r, r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, token)
	})
	mux.Handle("GET /whoami", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		_, _ = io.WriteString(w, cur.UserID+" via "+cur.Source.String())
	})))
	mux.Handle("POST /revoke-all", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		if _, err := m.RevokeAll(r.Context(), cur.UserID, revoke.Cause{Actor: cur.UserID, Reason: revoke.ReasonSignOutAll}); err != nil {
			http.Error(w, "revoke failed", http.StatusInternalServerError)
		}
	})))
	return m.Middleware(mux)
}

func do(t *testing.T, c *http.Client, method, url string, header http.Header) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b)), res
}

func TestLoginRequestRevokeOverHTTP(t *testing.T) {
	m, _ := newManager(t)
	srv := httptest.NewServer(app(m))
	defer srv.Close()

	t.Run("cookie", func(t *testing.T) {
		is := is.New(t)
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar}
		code, _, _ := do(t, browser, "POST", srv.URL+"/login?user=alice", nil)
		is.Equal(code, 200)
		code, body, _ := do(t, browser, "GET", srv.URL+"/whoami", nil)
		is.Equal(code, 200)
		is.Equal(body, "alice via cookie")
		// Keep the raw cookie to replay it after the revocation, as an
		// attacker who copied it would.
		u, _ := url.Parse(srv.URL)
		cookies := jar.Cookies(u)
		is.Equal(len(cookies), 1)
		stolen := cookies[0]

		code, _, _ = do(t, browser, "POST", srv.URL+"/revoke-all", nil)
		is.Equal(code, 200)

		code, _, res := do(t, http.DefaultClient, "GET", srv.URL+"/whoami", http.Header{"Cookie": {stolen.String()}})
		is.Equal(code, 401)
		// The stale cookie is expired.
		var expired bool
		for _, c := range res.Cookies() {
			if c.Name == m.CookieName() && c.MaxAge < 0 {
				expired = true
			}
		}
		is.True(expired)
	})

	t.Run("header", func(t *testing.T) {
		is := is.New(t)
		code, token, _ := do(t, http.DefaultClient, "POST", srv.URL+"/login?user=bob", nil)
		is.Equal(code, 200)
		h := http.Header{revoke.HeaderName: {token}}
		code, body, _ := do(t, http.DefaultClient, "GET", srv.URL+"/whoami", h)
		is.Equal(code, 200)
		is.Equal(body, "bob via header")
		code, _, _ = do(t, http.DefaultClient, "POST", srv.URL+"/revoke-all", h)
		is.Equal(code, 200)
		code, _, _ = do(t, http.DefaultClient, "GET", srv.URL+"/whoami", h)
		is.Equal(code, 401)
	})
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m, _ := newManager(t, revoke.WithClock(clk.Now), revoke.WithLifetime(10*time.Hour), revoke.WithIdleTimeout(time.Hour))

	t.Run("valid", func(t *testing.T) {
		is := is.New(t)
		s, token, err := m.Create(ctx, "alice", revoke.Device{IP: "192.0.2.1", UserAgent: "ua"})
		is.NoErr(err)
		got, err := m.Resolve(ctx, token)
		is.NoErr(err)
		is.Equal(got.ID, s.ID)
		is.Equal(got.UserID, "alice")
		is.Equal(got.IP, "192.0.2.1")
		is.True(got.ExpiresAt.Equal(clk.Now().Add(10 * time.Hour)))
		is.True(got.IdleExpiresAt.Equal(clk.Now().Add(time.Hour)))
	})
	t.Run("malformed", func(t *testing.T) {
		is := is.New(t)
		for _, tok := range []string{"", "short", strings.Repeat("a", 300), "abcdefghijklmnopqrstuvwxyz+/==", "abcdefghijklmnopqrstuvwxyz\x00abc"} {
			_, err := m.Resolve(ctx, tok)
			is.True(errors.Is(err, revoke.ErrMalformedToken))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		is := is.New(t)
		_, err := m.Resolve(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		is.True(errors.Is(err, revoke.ErrUnknownToken))
	})
	t.Run("idle expiry", func(t *testing.T) {
		is := is.New(t)
		_, token, err := m.Create(ctx, "carol", revoke.Device{})
		is.NoErr(err)
		clk.Advance(time.Hour)
		_, err = m.Resolve(ctx, token)
		is.True(errors.Is(err, revoke.ErrExpired))
	})
	t.Run("revoked", func(t *testing.T) {
		is := is.New(t)
		s, token, err := m.Create(ctx, "dave", revoke.Device{})
		is.NoErr(err)
		_, err = m.RevokeSession(ctx, "dave", s.ID, revoke.Cause{Actor: "test", Reason: "because"})
		is.NoErr(err)
		_, err = m.Resolve(ctx, token)
		is.True(errors.Is(err, revoke.ErrRevoked))
	})
}

func TestTokensAreRandomAndStoredHashed(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, st := newManager(t)
	seen := map[string]bool{}
	for range 200 {
		s, token, err := m.Create(ctx, "alice", revoke.Device{})
		is.NoErr(err)
		is.True(revoke.ValidToken(token))
		is.True(len(token) >= 27) // at least 160 bits of base64url
		is.True(!seen[token])
		seen[token] = true
		stored, err := st.Get(ctx, s.ID)
		is.NoErr(err)
		is.Equal(stored.TokenHash, revoke.HashToken(token))
		is.True(!strings.Contains(string(stored.TokenHash[:]), token))
		is.True(s.ID != token)
	}
}

func TestIdleTimeoutAndThrottledTouch(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	counting := &countingStore{SessionStore: memstore.New()}
	defer counting.Close()
	m, err := revoke.New(counting, revoke.WithClock(clk.Now), revoke.WithIdleTimeout(30*time.Minute), revoke.WithTouchInterval(time.Minute))
	is.NoErr(err)
	_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)
	h := m.Middleware(m.RequireSession(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	get := func() int {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(revoke.HeaderName, token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Many requests within one interval cost no write.
	for range 50 {
		is.Equal(get(), 200)
		clk.Advance(time.Second)
	}
	is.Equal(counting.touches(), 0)
	clk.Advance(10 * time.Second) // 60 s since login
	is.Equal(get(), 200)
	is.Equal(counting.touches(), 1)
	// Being seen keeps the session alive past the first idle deadline...
	for range 3 {
		clk.Advance(20 * time.Minute)
		is.Equal(get(), 200)
	}
	is.Equal(counting.touches(), 4)
	// ...and idleness ends it.
	clk.Advance(31 * time.Minute)
	is.Equal(get(), 401)
}

func TestLifetimeIsAbsolute(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	m, _ := newManager(t, revoke.WithClock(clk.Now), revoke.WithLifetime(2*time.Hour), revoke.WithIdleTimeout(time.Hour))
	_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)
	h := m.Middleware(m.RequireSession(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for range 3 {
		clk.Advance(50 * time.Minute)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(revoke.HeaderName, token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if clk.Now().Sub(newClock().Now()) < 2*time.Hour {
			is.Equal(w.Code, 200)
		} else {
			is.Equal(w.Code, 401) // 150 minutes: past the lifetime despite activity
		}
	}
}

type countingStore struct {
	store.SessionStore
	mu sync.Mutex
	n  int
}

func (c *countingStore) Touch(ctx context.Context, id string, now, idle time.Time) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.SessionStore.Touch(ctx, id, now, idle)
}

func (c *countingStore) touches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
