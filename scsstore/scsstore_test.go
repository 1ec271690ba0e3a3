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
	scsStore, err := scsstore.New(f.st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.sm.Store = scsStore
	f.sm.Cookie.Secure = false
	if configure != nil {
		configure(f.sm)
	}
	m, err := revoke.New(f.st, append(scsstore.ManagerOptions(f.sm), revoke.WithClock(f.clk.Now))...)
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
	revokeWhoami := f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, ok := revoke.FromContext(r.Context())
		if !ok {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, cur.UserID+" via "+cur.Source.String())
	}))
	mux.Handle("GET /revoke-whoami", revokeWhoami)
	// An API route that only the revoke middleware serves, as for clients
	// sending X-Session-Token: scs neither loads nor commits there.
	top := http.NewServeMux()
	top.Handle("GET /api/whoami", revokeWhoami)
	top.Handle("/", f.sm.LoadAndSave(mux))
	f.srv = httptest.NewServer(top)
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

// TestStandInIsNotALoginCookie checks that the keys Iterate works with are
// no way into a session: neither one derived from a session's public id
// nor the real, random ones, after Iterate has run.
func TestStandInIsNotALoginCookie(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		alice := f.browser(t)
		_, _ = alice.do("POST", "/login?user=alice")
		sessions, err := f.st.List(context.Background(), "alice")
		is.NoErr(err)
		is.Equal(len(sessions), 1)
		victim := sessions[0]

		var keys []string
		err = f.sm.Iterate(context.Background(), func(ctx context.Context) error {
			keys = append(keys, f.sm.Token(ctx))
			return nil
		})
		is.NoErr(err)
		is.Equal(len(keys), 1)

		guessed := "iterated." + victim.ID // known to anyone shown the session list
		for _, key := range append(keys, guessed) {
			ctx, err := f.sm.Load(context.Background(), key)
			is.NoErr(err)
			is.Equal(f.sm.GetString(ctx, "userID"), "") // not alice's session
			is.Equal(len(f.sm.Keys(ctx)), 0)            // but a fresh, empty one

			attacker := f.browser(t)
			attacker.c.Jar.SetCookies(mustParse(f.srv.URL), []*http.Cookie{{Name: f.sm.Cookie.Name, Value: key}})
			_, body := attacker.do("GET", "/whoami")
			is.Equal(body, "|") // the cookie logs no one in
			code, _ := attacker.do("GET", "/revoke-whoami")
			is.Equal(code, 401)
		}
		_, body := alice.do("GET", "/whoami")
		is.Equal(body, "alice|") // the victim's session is intact
	})
}

// TestIterateCommitCreatesNothing checks that a commit under a key of
// Iterate updates the session it stood for and never stores a session
// under the key itself, even when that session is gone or the key is stale.
func TestIterateCommitCreatesNothing(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		ctx := context.Background()
		f := newApp(t, hashed, nil)
		alice, bob := f.browser(t), f.browser(t)
		_, _ = alice.do("POST", "/login?user=alice")
		_, _ = bob.do("POST", "/login?user=bob")

		// A commit within Iterate changes the session in place.
		kept := map[string]context.Context{}
		err := f.sm.Iterate(ctx, func(ictx context.Context) error {
			user := f.sm.GetString(ictx, "userID")
			kept[user] = ictx
			f.sm.Put(ictx, "note", "iterated")
			_, _, err := f.sm.Commit(ictx)
			return err
		})
		is.NoErr(err)
		is.Equal(f.st.Len(), 2) // no session was added
		_, body := alice.do("GET", "/whoami")
		is.Equal(body, "alice|iterated")

		if !hashed {
			// A key of an earlier Iterate is known as a key by its form
			// and stands for nothing any more: its commit is dropped.
			is.NoErr(f.sm.Iterate(ctx, func(context.Context) error { return nil }))
			f.sm.Put(kept["bob"], "note", "stale")
			_, _, err = f.sm.Commit(kept["bob"])
			is.NoErr(err)
			is.Equal(f.st.Len(), 2)
			_, body = bob.do("GET", "/whoami")
			is.Equal(body, "bob|iterated")
		}

		// The sessions are revoked and cleaned up while Iterate still holds
		// them; committing one then stores nothing.
		err = f.sm.Iterate(ctx, func(ictx context.Context) error {
			kept[f.sm.GetString(ictx, "userID")] = ictx
			return nil
		})
		is.NoErr(err)
		_, err = f.m.RevokeAll(ctx, "alice", revoke.Cause{})
		is.NoErr(err)
		n, err := f.st.DeleteBefore(ctx, f.clk.Now().Add(48*time.Hour))
		is.NoErr(err)
		is.Equal(n, 2)
		f.sm.Put(kept["alice"], "note", "late")
		_, _, err = f.sm.Commit(kept["alice"])
		is.NoErr(err)
		is.Equal(f.st.Len(), 0) // nothing was stored
		lctx, err := f.sm.Load(ctx, f.sm.Token(kept["alice"]))
		is.NoErr(err)
		is.Equal(len(f.sm.Keys(lctx)), 0)
	})
}

// TestRevokedSessionOutlivesCleanup replays a request that loaded a session
// before it was revoked and committed after the store was cleaned up: the
// session does not come back under its old token.
func TestRevokedSessionOutlivesCleanup(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		bg := context.Background()
		f := newApp(t, hashed, nil)
		ctx, err := f.sm.Load(bg, "")
		is.NoErr(err)
		scsstore.BindUser(ctx, f.sm, "carol")
		token, _, err := f.sm.Commit(ctx)
		is.NoErr(err)

		stale, err := f.sm.Load(bg, token) // a request in flight
		is.NoErr(err)
		_, err = f.m.RevokeAll(bg, "carol", revoke.Cause{Reason: "stolen"})
		is.NoErr(err)
		f.clk.Advance(time.Minute)
		// Cleaned up with no retention; the session's absolute expiry is
		// still a day away, so its revoked row must stay.
		_, err = f.st.DeleteBefore(bg, f.clk.Now())
		is.NoErr(err)
		row, err := f.st.GetByTokenHash(bg, revoke.HashToken(token))
		is.NoErr(err) // the row survived the cleanup
		is.True(row.Revoked())

		f.sm.Put(stale, "late", "write")
		_, _, err = f.sm.Commit(stale)
		is.NoErr(err)

		ctx, err = f.sm.Load(bg, token)
		is.NoErr(err)
		is.Equal(len(f.sm.Keys(ctx)), 0) // the old cookie gets a fresh, empty session
		_, err = f.m.Resolve(bg, token)
		is.Equal(err, revoke.ErrRevoked) // and is no login
		row, err = f.st.GetByTokenHash(bg, revoke.HashToken(token))
		is.NoErr(err)
		is.True(row.Revoked()) // still revoked as it was
		is.Equal(row.RevokeReason, "stolen")
	})
}

// TestCommitCreatesNoExpiredSession checks the second line of defence: once
// a revoked session has passed its absolute expiry and been cleaned up, a
// late commit of it does not store it again.
func TestCommitCreatesNoExpiredSession(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		bg := context.Background()
		f := newApp(t, hashed, nil) // scs's default lifetime: 24 hours
		ctx, err := f.sm.Load(bg, "")
		is.NoErr(err)
		scsstore.BindUser(ctx, f.sm, "carol")
		token, _, err := f.sm.Commit(ctx)
		is.NoErr(err)

		stale, err := f.sm.Load(bg, token)
		is.NoErr(err)
		_, err = f.m.RevokeAll(bg, "carol", revoke.Cause{})
		is.NoErr(err)
		f.clk.Advance(25 * time.Hour)
		n, err := f.st.DeleteBefore(bg, f.clk.Now())
		is.NoErr(err)
		is.Equal(n, 1) // past its absolute expiry, the revoked row goes

		f.sm.Put(stale, "late", "write")
		_, _, err = f.sm.Commit(stale)
		is.NoErr(err)
		_, err = f.st.GetByTokenHash(bg, revoke.HashToken(token))
		is.Equal(err, store.ErrNotFound) // nothing was stored again
		is.Equal(f.st.Len(), 0)
	})
}

// TestManagerFollowsScsIdleTimeout checks that a request the revoke
// middleware serves on its own keeps an scs session alive by scs's idle
// timeout, not the Manager's default of a day.
func TestManagerFollowsScsIdleTimeout(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, func(sm *scs.SessionManager) { sm.IdleTimeout = 20 * time.Minute })
		b := f.browser(t)
		_, _ = b.do("POST", "/login?user=alice")
		f.clk.Advance(10 * time.Minute)
		_, body := b.do("GET", "/api/whoami") // seen, and touched, by the Manager
		is.Equal(body, "alice via cookie")

		f.clk.Advance(25 * time.Minute) // idle for longer than scs allows
		code, _ := b.do("GET", "/api/whoami")
		is.Equal(code, 401)
		_, body = b.do("GET", "/whoami")
		is.Equal(body, "|") // scs has timed the session out too
	})
}

// TestManagerKeepsScsSessionWithoutIdleTimeout checks that an scs app
// without an idle timeout is not logged out by the Manager's default one.
func TestManagerKeepsScsSessionWithoutIdleTimeout(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, func(sm *scs.SessionManager) {
			sm.IdleTimeout = 0
			sm.Lifetime = 30 * 24 * time.Hour
		})
		b := f.browser(t)
		_, _ = b.do("POST", "/login?user=alice")
		f.clk.Advance(time.Hour)
		_, body := b.do("GET", "/api/whoami")
		is.Equal(body, "alice via cookie")

		f.clk.Advance(25 * time.Hour) // idle for more than a day
		_, body = b.do("GET", "/api/whoami")
		is.Equal(body, "alice via cookie")
		_, body = b.do("GET", "/whoami")
		is.Equal(body, "alice|")
	})
}

// TestManagerOptionsShortIdleTimeout checks that the options are accepted
// for any idle timeout scs may have, however short.
func TestManagerOptionsShortIdleTimeout(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Nanosecond, time.Second, 30 * time.Second, time.Minute, time.Hour} {
		sm := scs.New()
		sm.IdleTimeout = idle
		_, err := revoke.New(memstore.New(), scsstore.ManagerOptions(sm)...)
		if err != nil {
			t.Errorf("idle timeout %v: %v", idle, err)
		}
	}
}

var _ store.DataStore = (*memstore.Store)(nil)

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
