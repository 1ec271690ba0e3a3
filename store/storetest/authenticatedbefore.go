package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// testAuthenticatedBefore: a revocation bounded by AuthenticatedBefore
// revokes the user's active sessions authenticated before the bound and
// keeps those authenticated at or after it, and its NotBefore of the same
// time refuses a later Create authenticated before it.
func testAuthenticatedBefore(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const user = "abby"
	cut := base.Add(time.Minute)
	early := create(t, s, user, base) // authenticated at its creation
	justBefore := create(t, s, user, base, authenticatedAt(cut.Add(-time.Microsecond)))
	atCut := create(t, s, user, cut, authenticatedAt(cut))
	after := create(t, s, user, cut.Add(2*time.Second)) // authenticated a second after the cut
	kept := create(t, s, user, base)                    // excepted
	other := create(t, s, "abel", base)                 // another user's
	anon := create(t, s, "", base)                      // no user's

	now := cut.Add(time.Minute)
	sel := store.Selection{UserID: user, ExceptID: kept.ID, AuthenticatedBefore: cut, NotBefore: cut}
	ids, err := s.Revoke(ctx, sel, now, "password reset")
	is.NoErr(err)
	is.Equal(sorted(ids), sorted([]string{early.ID, justBefore.ID}))
	for _, id := range []string{early.ID, justBefore.ID} {
		got := get(t, s, id)
		is.True(got.RevokedAt.Equal(now))
		is.Equal(got.RevokeReason, "password reset")
	}
	for _, id := range []string{atCut.ID, after.ID, kept.ID, other.ID, anon.ID} {
		got := get(t, s, id)
		is.True(got.Active(now)) // kept
	}

	// The not-before time moved with it.
	stale := NewSession(user, now)
	stale.AuthenticatedAt = cut.Add(-time.Microsecond)
	is.True(errors.Is(s.Create(ctx, stale), store.ErrNotBefore))
	create(t, s, user, now, authenticatedAt(cut))

	// Without a NotBefore only the sessions move, not the not-before time.
	const free = "abra"
	old := create(t, s, free, base)
	ids, err = s.Revoke(ctx, store.Selection{UserID: free, AuthenticatedBefore: cut}, now, "r")
	is.NoErr(err)
	is.Equal(ids, []string{old.ID})
	create(t, s, free, now, authenticatedAt(base))

	// An authentication bound is a user's, and more than one session's.
	for _, bad := range []store.Selection{
		{UserID: user, SessionID: atCut.ID, AuthenticatedBefore: now},
		{SessionID: anon.ID, AuthenticatedBefore: now},
	} {
		_, err := s.Revoke(ctx, bad, now, "r")
		is.True(err != nil)
	}
	for _, id := range []string{atCut.ID, anon.ID} {
		got := get(t, s, id)
		is.True(got.Active(now)) // nothing revoked
	}
}

// testAuthenticatedBeforeRacingCreate races sign-ins that checked
// credentials before the bound against a revocation of the sessions
// authenticated before it: whichever commits first, none is left active.
func testAuthenticatedBeforeRacingCreate(t *testing.T, s store.SessionStore) {
	raceRevocation(t, s, func(user string, cut time.Time) store.Selection {
		return store.Selection{UserID: user, AuthenticatedBefore: cut, NotBefore: cut}
	}, func(ctx context.Context, user string, auth, now time.Time) (string, error) {
		sess := NewSession(user, now)
		sess.AuthenticatedAt = auth
		err := s.Create(ctx, sess)
		if errors.Is(err, store.ErrNotBefore) {
			return "", nil
		}
		return sess.ID, err
	})
}
