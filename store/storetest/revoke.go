package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func testRevokeOne(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	a1 := create(t, s, "alice", base)
	a2 := create(t, s, "alice", base)
	b1 := create(t, s, "bob", base)
	now := base.Add(time.Minute)

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: a1.ID}, now, "logout")
	is.NoErr(err)
	is.Equal(ids, []string{a1.ID}) // exactly the one session
	want := a1
	want.RevokedAt, want.RevokeReason = now, "logout"
	is.Equal(diff(get(t, s, a1.ID), want), "") // revoked at now, with the reason
	is.Equal(diff(get(t, s, a2.ID), a2), "")   // the user's other session is untouched
	is.Equal(diff(get(t, s, b1.ID), b1), "")   // other users are untouched

	// Revocation stays within the named user's sessions.
	ids, err = s.Revoke(ctx, store.Selection{UserID: "bob", SessionID: a2.ID}, now, "hijack")
	is.True(errors.Is(err, store.ErrNotFound)) // another user's session: ErrNotFound, as its doc says
	is.Equal(len(ids), 0)                      // and nothing is revoked
	is.Equal(diff(get(t, s, a2.ID), a2), "")

	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: "no-such-session"}, now, "logout")
	is.True(errors.Is(err, store.ErrNotFound)) // unknown id
	is.Equal(len(ids), 0)

	// Revoking again is a no-op that keeps the first time and reason.
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: a1.ID}, now.Add(time.Hour), "again")
	is.NoErr(err)         // an already revoked session is no error
	is.Equal(len(ids), 0) // and is not counted
	is.Equal(diff(get(t, s, a1.ID), want), "")
}

func testRevokeAll(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	a1 := create(t, s, "alice", base)
	a2 := create(t, s, "alice", base.Add(time.Second))
	early := create(t, s, "alice", base)
	expired := create(t, s, "alice", base, func(x *store.Session) {
		x.ExpiresAt, x.IdleExpiresAt = base.Add(time.Minute), base.Add(time.Minute)
	})
	b1 := create(t, s, "bob", base)

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: early.ID}, base.Add(time.Minute), "first")
	is.NoErr(err)
	is.Equal(ids, []string{early.ID})
	early = get(t, s, early.ID)

	now := base.Add(time.Hour - time.Second)
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, now, "password changed")
	is.NoErr(err)
	is.Equal(sorted(ids), sorted([]string{a1.ID, a2.ID})) // exactly the newly revoked sessions
	for _, sess := range []store.Session{a1, a2} {
		sess.RevokedAt, sess.RevokeReason = now, "password changed"
		is.Equal(diff(get(t, s, sess.ID), sess), "") // revoked at now, with the reason
	}
	is.Equal(diff(get(t, s, early.ID), early), "")     // an earlier revocation keeps its time and reason
	is.Equal(diff(get(t, s, expired.ID), expired), "") // an expired session is left alone
	is.Equal(diff(get(t, s, b1.ID), b1), "")           // other users are untouched

	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, now.Add(time.Second), "again")
	is.NoErr(err)
	is.Equal(len(ids), 0) // nothing left to revoke
	is.Equal(get(t, s, a1.ID).RevokeReason, "password changed")

	ids, err = s.Revoke(ctx, store.Selection{UserID: "nobody"}, now, "none")
	is.NoErr(err)         // a user without sessions is no error
	is.Equal(len(ids), 0) // and nothing is revoked
}

func testRevokeAllExcept(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	a1 := create(t, s, "alice", base)
	current := create(t, s, "alice", base)
	a3 := create(t, s, "alice", base)
	b1 := create(t, s, "bob", base)
	now := base.Add(time.Minute)

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: current.ID}, now, "others")
	is.NoErr(err)
	is.Equal(sorted(ids), sorted([]string{a1.ID, a3.ID})) // all but the current session
	is.Equal(diff(get(t, s, current.ID), current), "")    // the current session is untouched
	is.Equal(diff(get(t, s, b1.ID), b1), "")              // other users are untouched

	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: current.ID}, now.Add(time.Second), "again")
	is.NoErr(err)
	is.Equal(len(ids), 0) // idempotent
	is.Equal(get(t, s, a1.ID).RevokeReason, "others")

	// Naming the excepted session itself selects nothing.
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: current.ID, ExceptID: current.ID}, now, "none")
	is.NoErr(err)
	is.Equal(len(ids), 0)
	is.Equal(diff(get(t, s, current.ID), current), "")

	// An ExceptID of another user's session protects nothing of alice's
	// and touches nothing of bob's.
	a4 := create(t, s, "alice", base)
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: b1.ID}, now, "all")
	is.NoErr(err)
	is.Equal(sorted(ids), sorted([]string{current.ID, a4.ID}))
	is.Equal(diff(get(t, s, b1.ID), b1), "")
}

func testRevokeNeedsUser(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	a1 := create(t, s, "alice", base)
	anon := create(t, s, "", base)
	now := base.Add(time.Minute)
	for _, sel := range []store.Selection{
		{},
		{ExceptID: a1.ID},
		{ExceptID: anon.ID},
	} {
		ids, err := s.Revoke(ctx, sel, now, "no user")
		is.True(errors.Is(err, store.ErrNoUser)) // no user and no session: refused
		is.Equal(len(ids), 0)                    // and nothing is revoked
	}
	// An empty user names only sessions bound to no user.
	ids, err := s.Revoke(ctx, store.Selection{SessionID: a1.ID}, now, "no user")
	is.True(errors.Is(err, store.ErrNotFound)) // alice's session is not anonymous
	is.Equal(len(ids), 0)
	is.Equal(diff(get(t, s, a1.ID), a1), "")
	is.Equal(diff(get(t, s, anon.ID), anon), "")
}

// testRevokeAnonymous revokes sessions bound to no user (scs keeps those
// for visitors who have not logged in) by id, as scsstore does when scs
// destroys one or renews its token at login.
func testRevokeAnonymous(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	anon := create(t, s, "", base)
	other := create(t, s, "", base)
	a1 := create(t, s, "alice", base)
	now := base.Add(time.Minute)

	ids, err := s.Revoke(ctx, store.Selection{SessionID: anon.ID}, now, "destroyed")
	is.NoErr(err)
	is.Equal(ids, []string{anon.ID}) // exactly the one session
	want := anon
	want.RevokedAt, want.RevokeReason = now, "destroyed"
	is.Equal(diff(get(t, s, anon.ID), want), "")   // revoked at now, with the reason
	is.Equal(diff(get(t, s, other.ID), other), "") // other anonymous sessions are untouched
	is.Equal(diff(get(t, s, a1.ID), a1), "")       // and so are users' sessions

	ids, err = s.Revoke(ctx, store.Selection{SessionID: anon.ID}, now.Add(time.Hour), "again")
	is.NoErr(err)         // revoking it again is no error
	is.Equal(len(ids), 0) // and is not counted
	is.Equal(diff(get(t, s, anon.ID), want), "")

	// An anonymous session is nobody's: naming it with a user finds nothing.
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: other.ID}, now, "hijack")
	is.True(errors.Is(err, store.ErrNotFound))
	is.Equal(len(ids), 0)

	// Revoking "all sessions of no user" would sweep up every visitor's.
	ids, err = s.Revoke(ctx, store.Selection{}, now, "all anonymous")
	is.True(errors.Is(err, store.ErrNoUser))
	is.Equal(len(ids), 0)
	is.Equal(diff(get(t, s, other.ID), other), "") // nothing is revoked
	is.Equal(diff(get(t, s, a1.ID), a1), "")
}
