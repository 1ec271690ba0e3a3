package revoke_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// TestSignInCheckedBeforeRevokeAll: a sign-in that checked the password
// before a RevokeAll of the user (a password change elsewhere) and creates
// its session after it is refused, and a later one is not.
func TestSignInCheckedBeforeRevokeAll(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	m, _ := newManager(t, revoke.WithClock(clk.Now))
	checked := m.Now()
	clk.Advance(time.Second)
	_, err := m.RevokeAll(context.Background(), "alice", revoke.Cause{Reason: "password changed"})
	is.NoErr(err)
	clk.Advance(time.Second)
	_, _, err = m.Create(context.Background(), "alice", revoke.Device{}, revoke.AuthenticatedAt(checked))
	is.True(errors.Is(err, revoke.ErrNotBefore))
	w := httptest.NewRecorder()
	_, _, err = m.Login(w, httptest.NewRequest("POST", "/login", nil), "alice", revoke.AuthenticatedAt(checked))
	is.True(errors.Is(err, revoke.ErrNotBefore))
	is.Equal(len(w.Result().Cookies()), 0) // no cookie for a refused sign-in

	s, _, err := m.Create(context.Background(), "alice", revoke.Device{}, revoke.AuthenticatedAt(m.Now()))
	is.NoErr(err)
	is.True(s.AuthenticatedAt.Equal(m.Now()))
	_, _, err = m.Create(context.Background(), "alice", revoke.Device{}, revoke.AuthenticatedAt(m.Now().Add(time.Hour)))
	is.True(err != nil) // a time in the future is refused
	_, _, err = m.Create(context.Background(), "alice", revoke.Device{}, nil)
	is.True(err != nil) // and so is a nil option
}

// TestLoginRacingRevokeAll races sign-ins that checked the password before a
// RevokeAll against it: none survives.
func TestLoginRacingRevokeAll(t *testing.T) {
	m, st := newManager(t)
	for round := range 20 {
		user := "u" + string(rune('a'+round))
		checked := m.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, _, err := m.Create(context.Background(), user, revoke.Device{}, revoke.AuthenticatedAt(checked))
				if err != nil && !errors.Is(err, revoke.ErrNotBefore) {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if _, err := m.RevokeAll(context.Background(), user, revoke.Cause{}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		list, err := st.List(context.Background(), user)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Active(m.Now()) {
				t.Fatalf("round %d: session %s survived the RevokeAll", round, s.ID)
			}
		}
	}
}

// TestLoginEndsThePreviousSession: signing in on a browser that carries a
// session revokes that session, unless the app keeps it on purpose.
func TestLoginEndsThePreviousSession(t *testing.T) {
	is := is.New(t)
	var events []revoke.Event
	m, _ := newManager(t, revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { events = append(events, ev) }))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var opts []revoke.LoginOption
		if r.URL.Query().Has("keep") {
			opts = append(opts, revoke.KeepPreviousSession())
		}
		if _, _, err := m.Login(w, r, r.URL.Query().Get("user"), opts...); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	u, _ := url.Parse(srv.URL)
	login := func(query string) string {
		t.Helper()
		res, err := browser.Post(srv.URL+"/login?"+query, "", nil)
		is.NoErr(err)
		res.Body.Close()
		is.Equal(res.StatusCode, 200)
		cs := jar.Cookies(u)
		is.Equal(len(cs), 1)
		return cs[0].Value
	}
	resolve := func(value string) error {
		_, ok, _, reason := whoami(m, withCookie(&http.Cookie{Name: m.CookieName(), Value: value}))
		if ok {
			return nil
		}
		return reason
	}

	alice := login("user=alice")
	bob := login("user=bob") // the next person on the same browser
	is.True(errors.Is(resolve(alice), revoke.ErrRevoked))
	is.NoErr(resolve(bob))
	is.Equal(len(events), 1)
	is.Equal(events[0].UserID, "alice")
	is.Equal(events[0].Reason, revoke.ReasonReplaced)

	carol := login("user=carol&keep")
	is.NoErr(resolve(bob)) // kept on purpose
	is.NoErr(resolve(carol))
}

// TestAmbiguousCookies: cookies of the name that resolve to different
// sessions (one planted by a page of another port or a sibling subdomain)
// leave the request anonymous, expire nothing, and so cannot turn "sign out
// everywhere else" against the victim.
func TestAmbiguousCookies(t *testing.T) {
	is := is.New(t)
	m, st := newManager(t)
	victim, _ := loginCookie(t, m, "victim")
	planted, _ := loginCookie(t, m, "attacker")
	attackerOther, _ := loginCookie(t, m, "attacker")

	signOutOthers := m.Middleware(m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		if _, err := m.RevokeOthers(r.Context(), cur.UserID, cur.ID, revoke.Cause{}); err != nil {
			t.Error(err)
		}
	})))
	r := httptest.NewRequest("POST", "/sign-out-others", nil)
	r.Header.Set("Cookie", planted.Name+"="+planted.Value+"; "+victim.Name+"="+victim.Value)
	w := httptest.NewRecorder()
	signOutOthers.ServeHTTP(w, r)
	is.Equal(w.Code, http.StatusUnauthorized)
	is.Equal(len(w.Result().Cookies()), 0) // neither cookie is expired

	list, err := st.List(context.Background(), "attacker")
	is.NoErr(err)
	for _, s := range list {
		is.True(s.Active(m.Now())) // nothing of the attacker's was signed out
	}
	_, ok, _, reason := whoami(m, r)
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrAmbiguousSession))

	// The same session twice, or beside a dead one, is no ambiguity.
	_, err = m.RevokeAll(context.Background(), "attacker", revoke.Cause{})
	is.NoErr(err)
	for _, header := range []string{
		victim.Name + "=" + victim.Value + "; " + victim.Name + "=" + victim.Value,
		planted.Name + "=" + planted.Value + "; " + victim.Name + "=" + victim.Value,
		attackerOther.Name + "=junk; " + victim.Name + "=" + victim.Value,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", header)
		cur, ok, w, _ := whoami(m, r)
		is.True(ok)
		is.Equal(cur.UserID, "victim")
		is.Equal(len(w.Result().Cookies()), 0)
	}
}

// TestJunkCookieDoesNotHideTokenCookie: with WithTokenCookie, a session
// cookie that fails its signature check does not hide a valid scs cookie.
func TestJunkCookieDoesNotHideTokenCookie(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t, revoke.WithTokenCookie("session"))
	s, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", m.CookieName()+"=junk; session="+token)
	cur, ok, _, _ := whoami(m, r)
	is.True(ok)
	is.Equal(cur.ID, s.ID)
}

// readBackFails is a store whose Get fails, as a store that goes away right
// after committing a revocation does.
type readBackFails struct{ store.SessionStore }

func (readBackFails) Get(context.Context, string) (store.Session, error) {
	return store.Session{}, store.ErrUnavailable
}

// TestRevokeSessionWhoseReadBackFails: a revocation that committed is
// reported to the hooks and answered as done, even when reading the
// session back fails.
func TestRevokeSessionWhoseReadBackFails(t *testing.T) {
	is := is.New(t)
	_, st := newManager(t)
	var events []revoke.Event
	m, err := revoke.New(readBackFails{st}, revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { events = append(events, ev) }))
	is.NoErr(err)
	s, _, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)
	got, err := m.RevokeSession(context.Background(), "alice", s.ID, revoke.Cause{Reason: "lost phone"})
	is.NoErr(err)
	is.Equal(got.ID, s.ID)
	is.True(got.Revoked())
	is.Equal(got.RevokeReason, "lost phone")
	is.Equal(len(events), 1)
	is.Equal(events[0].SessionIDs, []string{s.ID})

	// Already revoked: nothing was done now, and the failure is reported.
	_, err = m.RevokeSession(context.Background(), "alice", s.ID, revoke.Cause{})
	is.True(errors.Is(err, store.ErrUnavailable))
	is.Equal(len(events), 1)
}

// unavailableStore is a store whose lookups time out.
type unavailableStore struct{ store.SessionStore }

func (unavailableStore) GetByTokenHash(context.Context, [32]byte) (store.Session, error) {
	return store.Session{}, store.ErrUnavailable
}

// TestMiddlewareStoreUnavailable: a store that does not answer in time is a
// 503 with Retry-After, not a 500, and never reaches the handler.
func TestMiddlewareStoreUnavailable(t *testing.T) {
	is := is.New(t)
	_, st := newManager(t)
	m, err := revoke.New(unavailableStore{st})
	is.NoErr(err)
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set(revoke.HeaderName, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusServiceUnavailable)
	is.Equal(res.Header.Get("Retry-After"), "1")
}
