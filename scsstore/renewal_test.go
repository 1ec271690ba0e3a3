package scsstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/scsstore"
)

// signIn is an scs login as apps write it: a new token, then the user.
func (f *fixture) signIn(t *testing.T, user string) string {
	t.Helper()
	ctx, err := f.sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sm.RenewToken(ctx); err != nil {
		t.Fatal(err)
	}
	f.sm.Put(ctx, "userID", user)
	token, _, err := f.sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// renew is a request that loaded token and calls scs's RenewToken, after
// whatever between does, then commits; it returns the new token.
func (f *fixture) renew(t *testing.T, token string, between func()) string {
	t.Helper()
	ctx, err := f.sm.Load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	between()
	if err := f.sm.RenewToken(ctx); err != nil {
		t.Fatal(err)
	}
	f.sm.Put(ctx, "step", "up")
	renewed, _, err := f.sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return renewed
}

// dead checks that token is neither a login nor any scs session's token.
func (f *fixture) dead(t *testing.T, token string) {
	t.Helper()
	if _, err := f.m.Resolve(context.Background(), token); !revoke.Anonymous(err) {
		t.Fatalf("token resolves: %v", err)
	}
	ctx, err := f.sm.Load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if keys := f.sm.Keys(ctx); len(keys) != 0 {
		t.Fatalf("token loads scs values %v", keys)
	}
}

func (f *fixture) active(t *testing.T, user string) int {
	t.Helper()
	list, err := f.st.List(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list {
		if s.Active(f.clk.Now()) {
			n++
		}
	}
	return n
}

// TestRenewTokenAfterRevokeAll: a request that loaded a session before the
// user's sessions were all revoked, and renews it after, gets no session.
func TestRenewTokenAfterRevokeAll(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		token := f.signIn(t, "alice")
		renewed := f.renew(t, token, func() {
			_, err := f.m.RevokeAll(context.Background(), "alice", revoke.Cause{Reason: "stolen"})
			is.NoErr(err)
		})
		f.dead(t, renewed)
		f.dead(t, token)
		is.Equal(f.active(t, "alice"), 0)
	})
}

// TestRenewTokenAfterRevokeSession: the same for one revoked session.
func TestRenewTokenAfterRevokeSession(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		token := f.signIn(t, "alice")
		s, err := f.m.Resolve(context.Background(), token)
		is.NoErr(err)
		renewed := f.renew(t, token, func() {
			_, err := f.m.RevokeSession(context.Background(), "alice", s.ID, revoke.Cause{Reason: "admin"})
			is.NoErr(err)
		})
		f.dead(t, renewed)
		is.Equal(f.active(t, "alice"), 0)
	})
}

// TestRenewTokenKeepsAuthentication: a renewal continues the session it
// replaces, with its authentication time and device, and a later RevokeAll
// ends it like the original.
func TestRenewTokenKeepsAuthentication(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		token := f.signIn(t, "alice")
		first, err := f.m.Resolve(context.Background(), token)
		is.NoErr(err)
		f.clk.Advance(time.Minute)
		second := f.renew(t, token, func() {})
		f.clk.Advance(time.Minute)
		third := f.renew(t, second, func() {})
		s, err := f.m.Resolve(context.Background(), third)
		is.NoErr(err) // a chain of renewals works
		is.Equal(s.UserID, "alice")
		is.True(s.ID != first.ID)
		is.True(s.AuthenticatedAt.Equal(first.AuthenticatedAt)) // kept through both
		f.dead(t, second)
		is.Equal(f.active(t, "alice"), 1)

		_, err = f.m.RevokeAll(context.Background(), "alice", revoke.Cause{})
		is.NoErr(err)
		f.dead(t, third)
	})
}

// TestDestroyRacingRenewToken: a logout in one request and a renewal of the
// same session in another leave no session, in either order.
func TestDestroyRacingRenewToken(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		for _, logoutFirst := range []bool{true, false} {
			is := is.New(t)
			f := newApp(t, hashed, nil)
			token := f.signIn(t, "alice")
			renewing, err := f.sm.Load(context.Background(), token)
			is.NoErr(err)
			logout, err := f.sm.Load(context.Background(), token)
			is.NoErr(err)
			destroy := func() { is.NoErr(f.sm.Destroy(logout)) }
			if logoutFirst {
				destroy()
			}
			is.NoErr(f.sm.RenewToken(renewing))
			if !logoutFirst {
				destroy()
			}
			renewed, _, err := f.sm.Commit(renewing)
			is.NoErr(err)
			f.dead(t, renewed)
			is.Equal(f.active(t, "alice"), 0)
		}
	})
}

// TestLateCommitAfterManagerRenew: after revoke's Renew gave the session a
// new token, a request still holding the old token commits; the old token
// must not become a session again.
func TestLateCommitAfterManagerRenew(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		token := f.signIn(t, "alice")
		stale, err := f.sm.Load(context.Background(), token)
		is.NoErr(err)

		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set(revoke.HeaderName, token)
		fresh, err := f.m.Renew(httptest.NewRecorder(), r)
		is.NoErr(err)

		f.sm.Put(stale, "late", "write")
		_, _, err = f.sm.Commit(stale)
		is.NoErr(err)
		f.dead(t, token)
		s, err := f.m.Resolve(context.Background(), fresh)
		is.NoErr(err)
		is.Equal(s.UserID, "alice")
		is.Equal(f.active(t, "alice"), 1)
	})
}

// TestManagerRenewRefusesScsCookie: revoke's Renew cannot renew a session
// that scs's cookie carries (scs would write the old token back), and says
// so instead of setting a cookie scs does not read.
func TestManagerRenewRefusesScsCookie(t *testing.T) {
	is := is.New(t)
	f := newApp(t, false, nil)
	token := f.signIn(t, "alice")
	r := httptest.NewRequest("POST", "/", nil)
	r.AddCookie(&http.Cookie{Name: f.sm.Cookie.Name, Value: token})
	w := httptest.NewRecorder()
	_, err := f.m.Renew(w, r)
	is.True(errors.Is(err, revoke.ErrRenewElsewhere))
	is.Equal(len(w.Result().Cookies()), 0) // no cookie set
	_, err = f.m.Resolve(context.Background(), token)
	is.NoErr(err) // and the session is as it was
}

// TestBindUserRacingRevokeAll: an scs sign-in that checked the password
// (BindUser) before a RevokeAll of the user and commits after it creates
// no session.
func TestBindUserRacingRevokeAll(t *testing.T) {
	forBoth(t, func(t *testing.T, hashed bool) {
		is := is.New(t)
		f := newApp(t, hashed, nil)
		ctx, err := f.sm.Load(context.Background(), "")
		is.NoErr(err)
		is.NoErr(f.sm.RenewToken(ctx))
		scsstore.BindUser(ctx, f.sm, "alice") // the password was checked now
		f.clk.Advance(time.Second)
		_, err = f.m.RevokeAll(context.Background(), "alice", revoke.Cause{Reason: "password changed"})
		is.NoErr(err)
		token, _, err := f.sm.Commit(ctx)
		is.NoErr(err)
		f.dead(t, token)
		is.Equal(f.active(t, "alice"), 0)

		// A sign-in after the revocation works.
		f.clk.Advance(time.Second)
		ctx, err = f.sm.Load(context.Background(), "")
		is.NoErr(err)
		is.NoErr(f.sm.RenewToken(ctx))
		f.sm.Put(ctx, scsstore.BoundUserKey, "alice")
		f.sm.Put(ctx, scsstore.AuthenticatedAtKey, f.clk.Now().Format(time.RFC3339Nano))
		token, _, err = f.sm.Commit(ctx)
		is.NoErr(err)
		_, err = f.m.Resolve(context.Background(), token)
		is.NoErr(err)
	})
}

// TestHandlersKeepAnonymousScsCookie: a visitor's anonymous scs session (a
// cart) calling a session route is answered 401, and keeps its cookie, as
// the Middleware leaves it.
func TestHandlersKeepAnonymousScsCookie(t *testing.T) {
	is := is.New(t)
	f := newApp(t, false, nil)
	ctx, err := f.sm.Load(context.Background(), "")
	is.NoErr(err)
	f.sm.Put(ctx, "cart", "3 items")
	token, _, err := f.sm.Commit(ctx)
	is.NoErr(err)

	h, err := handlers.New(f.m)
	is.NoErr(err)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	for _, path := range []string{"/auth/sessions/whoami", "/auth/sessions"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: f.sm.Cookie.Name, Value: token})
		res, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		res.Body.Close()
		is.Equal(res.StatusCode, http.StatusUnauthorized)
		for _, c := range res.Cookies() {
			is.True(c.Name != f.sm.Cookie.Name) // the cart's cookie is left alone
		}
	}
	ctx, err = f.sm.Load(context.Background(), token)
	is.NoErr(err)
	is.Equal(f.sm.GetString(ctx, "cart"), "3 items")
}
