package scsstore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// clock follows real time plus an offset, because scs reads time.Now
// itself: advancing it moves the store past scs's deadlines.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type fixture struct {
	st  *memstore.Store
	sm  *scs.SessionManager
	m   *revoke.Manager
	srv *httptest.Server
	clk *clock
}

// newApp is a typical scs app: LoadAndSave, Put(ctx, "userID", ...) at
// login, and a page showing who is signed in. It also mounts a route
// that reads the revoke middleware's view of the same request.
func newApp(t *testing.T, hashed bool, configure func(*scs.SessionManager)) *fixture {
	t.Helper()
	f := &fixture{st: memstore.New(), sm: scs.New(), clk: &clock{}}
	t.Cleanup(func() { _ = f.st.Close() })
	opts := []scsstore.Option{scsstore.WithUserKey("userID"), scsstore.WithClock(f.clk.Now)}
	if hashed {
		opts = append(opts, scsstore.WithHashedTokens())
	}
	f.sm.HashTokenInStore = hashed
	f.sm.Store = scsstore.New(f.st, opts...)
	f.sm.Cookie.Secure = false
	if configure != nil {
		configure(f.sm)
	}
	m, err := revoke.New(f.st, revoke.WithTokenCookie(f.sm.Cookie.Name), revoke.WithClock(f.clk.Now), revoke.WithIdleTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := f.sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		f.sm.Put(r.Context(), "userID", r.URL.Query().Get("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := f.sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := f.sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		f.sm.Put(r.Context(), "note", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, f.sm.GetString(r.Context(), "userID")+"|"+f.sm.GetString(r.Context(), "note"))
	})
	mux.Handle("GET /revoke-whoami", f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, ok := revoke.FromContext(r.Context())
		if !ok {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, cur.UserID+" via "+cur.Source.String())
	})))
	f.srv = httptest.NewServer(f.sm.LoadAndSave(mux))
	t.Cleanup(f.srv.Close)
	return f
}

type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, url: f.srv.URL}
}

func (b *browser) do(method, path string, header ...string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(body))
}

func (b *browser) token(name string) string {
	for _, c := range b.c.Jar.Cookies(mustParse(b.url)) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func forBoth(t *testing.T, test func(t *testing.T, hashed bool)) {
	for _, hashed := range []bool{false, true} {
		name := "plain tokens"
		if hashed {
			name = "HashTokenInStore"
		}
		t.Run(name, func(t *testing.T) { test(t, hashed) })
	}
}

func TestRevokeEndsScsSessions(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		phone, laptop, bob := f.browser(t), f.browser(t), f.browser(t)
		for _, b := range []*browser{phone, laptop} {
			code, _ := b.do("POST", "/login?user=alice")
			is.Equal(code, 200)
			_, _ = b.do("POST", "/note?v=hello")
		}
		_, _ = bob.do("POST", "/login?user=bob")
		_, body := phone.do("GET", "/whoami")
		is.Equal(body, "alice|hello")

		// The revoke middleware sees scs's cookie, and the same token in
		// the header, as alice's session.
		_, body = phone.do("GET", "/revoke-whoami")
		is.Equal(body, "alice via cookie")
		_, body = (&browser{t: t, c: http.DefaultClient, url: f.srv.URL}).do("GET", "/revoke-whoami", revoke.HeaderName, phone.token(f.sm.Cookie.Name))
		is.Equal(body, "alice via header")

		sessions, err := f.st.List(context.Background(), "alice")
		is.NoErr(err)
		is.Equal(len(sessions), 2) // indexed by user, no Iterate needed

		n, err := f.m.RevokeAll(context.Background(), "alice", revoke.Cause{Actor: "admin", Reason: "test"})
		is.NoErr(err)
		is.Equal(n, 2)

		for _, b := range []*browser{phone, laptop} {
			old := b.token(f.sm.Cookie.Name)
			_, body = b.do("GET", "/whoami")
			is.Equal(body, "|") // a fresh, empty scs session
			code, _ := (&browser{t: t, c: http.DefaultClient, url: f.srv.URL}).do("GET", "/revoke-whoami", revoke.HeaderName, old)
			is.Equal(code, 401)
		}
		_, body = bob.do("GET", "/whoami")
		is.Equal(body, "bob|") // other users are untouched
	})
}

func TestDestroyAndRenewToken(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		b := f.browser(t)
		_, _ = b.do("POST", "/login?user=alice")
		first := b.token(f.sm.Cookie.Name)

		_, _ = b.do("POST", "/renew")
		second := b.token(f.sm.Cookie.Name)
		is.True(first != second)
		_, body := b.do("GET", "/whoami")
		is.Equal(body, "alice|") // data survives the renewal
		anon := &browser{t: t, c: http.DefaultClient, url: f.srv.URL}
		code, _ := anon.do("GET", "/revoke-whoami", revoke.HeaderName, first)
		is.Equal(code, 401) // the old token is dead
		code, _ = anon.do("GET", "/revoke-whoami", revoke.HeaderName, second)
		is.Equal(code, 200)

		_, _ = b.do("POST", "/logout")
		code, _ = anon.do("GET", "/revoke-whoami", revoke.HeaderName, second)
		is.Equal(code, 401)
		sessions, err := f.st.List(context.Background(), "alice")
		is.NoErr(err)
		for _, s := range sessions {
			is.True(s.Revoked()) // kept for the audit trail, with a reason
			is.Equal(s.RevokeReason, scsstore.ReasonDestroyed)
		}
	})
}

func TestIterateAndDestroyWorkWithHashedTokens(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		alice, bob := f.browser(t), f.browser(t)
		_, _ = alice.do("POST", "/login?user=alice")
		_, _ = bob.do("POST", "/login?user=bob")

		// scs's own recipe for revoking a user's sessions.
		var seen int
		err := f.sm.Iterate(context.Background(), func(ctx context.Context) error {
			seen++
			if f.sm.GetString(ctx, "userID") == "alice" {
				return f.sm.Destroy(ctx)
			}
			return nil
		})
		is.NoErr(err)
		is.Equal(seen, 2)
		_, body := alice.do("GET", "/whoami")
		is.Equal(body, "|")
		_, body = bob.do("GET", "/whoami")
		is.Equal(body, "bob|")
	})
}

func TestIdleTimeoutAndLifetime(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		t.Run("idle", func(t *testing.T) {
			is := is.New(t)
			f := newApp(t, hashed, func(sm *scs.SessionManager) { sm.IdleTimeout = time.Hour })
			b := f.browser(t)
			_, _ = b.do("POST", "/login?user=alice")
			f.clk.Advance(50 * time.Minute)
			_, body := b.do("GET", "/revoke-whoami")
			is.Equal(body, "alice via cookie")
			f.clk.Advance(70 * time.Minute)
			_, body = b.do("GET", "/whoami")
			is.Equal(body, "|")
		})
		t.Run("lifetime", func(t *testing.T) {
			is := is.New(t)
			f := newApp(t, hashed, func(sm *scs.SessionManager) { sm.Lifetime = time.Hour })
			b := f.browser(t)
			_, _ = b.do("POST", "/login?user=alice")
			_, body := b.do("GET", "/whoami")
			is.Equal(body, "alice|")
			f.clk.Advance(61 * time.Minute)
			code, _ := b.do("GET", "/revoke-whoami")
			is.Equal(code, 401)
			_, body = b.do("GET", "/whoami")
			is.Equal(body, "|")
		})
	})
}

func TestLoadCommitThroughScs(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		ctx, err := f.sm.Load(context.Background(), "")
		is.NoErr(err)
		scsstore.BindUser(ctx, f.sm, "carol")
		token, _, err := f.sm.Commit(ctx)
		is.NoErr(err)

		s, err := f.m.Resolve(context.Background(), token)
		is.NoErr(err)
		is.Equal(s.UserID, "carol") // bound explicitly

		// A request that loaded the session before a revocation cannot
		// bring it back by committing afterwards.
		ctx, err = f.sm.Load(context.Background(), token)
		is.NoErr(err)
		is.Equal(f.sm.GetString(ctx, scsstore.BoundUserKey), "carol")
		_, err = f.m.RevokeAll(context.Background(), "carol", revoke.Cause{})
		is.NoErr(err)
		f.sm.Put(ctx, "late", "write")
		_, _, err = f.sm.Commit(ctx)
		is.NoErr(err)
		_, err = f.m.Resolve(context.Background(), token)
		is.Equal(err, revoke.ErrRevoked)
		ctx, err = f.sm.Load(context.Background(), token)
		is.NoErr(err)
		is.Equal(f.sm.GetString(ctx, "late"), "") // not found: a fresh session

		// Anonymous sessions are stored but are nobody's login.
		ctx, _ = f.sm.Load(context.Background(), "")
		f.sm.Put(ctx, "cart", "3 items")
		anonToken, _, err := f.sm.Commit(ctx)
		is.NoErr(err)
		_, err = f.m.Resolve(context.Background(), anonToken)
		is.Equal(err, revoke.ErrUnknownToken)
		ctx, _ = f.sm.Load(context.Background(), anonToken)
		is.Equal(f.sm.GetString(ctx, "cart"), "3 items")
	})
}

var _ store.DataStore = (*memstore.Store)(nil)

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
