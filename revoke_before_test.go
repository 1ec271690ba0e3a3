package revoke_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// TestRevokeAuthenticatedBefore signs a user in three times over HTTP,
// before, at and after a cut, and revokes what was authenticated before
// it: that session's token stops working, the others and another user's
// keep working, one event reports it, and a late write of a session
// authenticated before the cut is refused.
func TestRevokeAuthenticatedBefore(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	rec := &recorder{}
	m, st := newManager(t, append(rec.options(), revoke.WithClock(clk.Now))...)
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	login := func(user string) http.Header {
		t.Helper()
		code, token, _ := do(t, http.DefaultClient, "POST", srv.URL+"/login?user="+user, nil)
		is.Equal(code, 200)
		return http.Header{revoke.HeaderName: {token}}
	}
	whoami := func(h http.Header) int {
		t.Helper()
		code, _, _ := do(t, http.DefaultClient, "GET", srv.URL+"/whoami", h)
		return code
	}

	before := login("alice")
	bob := login("bob")
	clk.Advance(time.Minute)
	cut := clk.Now()
	atCut := login("alice")
	clk.Advance(time.Minute)
	after := login("alice")
	beforeID := sessionID(t, m, before)

	// A bound after the Manager's clock, or none, revokes nothing.
	for _, bad := range []time.Time{clk.Now().Add(time.Second), {}} {
		n, err := m.RevokeAuthenticatedBefore(ctx, "alice", bad, revoke.Cause{})
		is.True(errors.Is(err, revoke.ErrFutureTime))
		is.Equal(n, 0)
	}
	is.Equal(whoami(before), 200)
	is.Equal(len(rec.events), 0)

	c := revoke.Cause{Actor: revoke.AdminActor("root"), Reason: "password reset"}
	n, err := m.RevokeAuthenticatedBefore(ctx, "alice", cut, c)
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(whoami(before), 401)
	for _, h := range []http.Header{atCut, after, bob} {
		is.Equal(whoami(h), 200)
	}
	is.Equal(len(rec.events), 1)
	ev := rec.events[0]
	is.Equal(ev.Cause, c)
	is.Equal(ev.UserID, "alice")
	is.Equal(ev.SessionIDs, []string{beforeID})
	is.True(ev.At.Equal(clk.Now()))

	// The not-before time moved to the cut: a sign-in that checked the
	// password before it and writes now is refused.
	late := storetest.NewSession("alice", clk.Now())
	late.AuthenticatedAt = cut.Add(-time.Second)
	is.True(errors.Is(st.Create(ctx, late), store.ErrNotBefore))

	// Again: nothing left to revoke, and no event.
	n, err = m.RevokeAuthenticatedBefore(ctx, "alice", cut, c)
	is.NoErr(err)
	is.Equal(n, 0)
	is.Equal(len(rec.events), 1)
}

// sessionID resolves the token in h to its session's id.
func sessionID(t *testing.T, m *revoke.Manager, h http.Header) string {
	t.Helper()
	s, err := m.Resolve(context.Background(), h.Get(revoke.HeaderName))
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}
