package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func testCleaner(t *testing.T, s store.SessionStore) {
	c, ok := s.(store.Cleaner)
	if !ok {
		t.Skip("store does not implement store.Cleaner")
	}
	is := is.New(t)
	ctx := t.Context()

	cut := base.Add(48 * time.Hour)
	long := func(x *store.Session) {
		x.ExpiresAt, x.IdleExpiresAt = base.Add(100*time.Hour), base.Add(100*time.Hour)
	}
	expiring := func(absolute, idle time.Time) func(*store.Session) {
		return func(x *store.Session) { x.ExpiresAt, x.IdleExpiresAt = absolute, idle }
	}
	revokeAt := func(sess store.Session, at time.Time) {
		t.Helper()
		_, err := s.Revoke(ctx, store.Selection{UserID: sess.UserID, SessionID: sess.ID}, at, "test")
		is.NoErr(err)
	}

	gone := []store.Session{
		create(t, s, "alice", base, expiring(base.Add(time.Hour), base.Add(time.Hour))),     // absolutely expired
		create(t, s, "alice", base, expiring(base.Add(100*time.Hour), base.Add(time.Hour))), // idle expired
		create(t, s, "alice", base, expiring(cut, cut)),                                     // expired exactly at the cut
		create(t, s, "bob", base, expiring(base.Add(10*time.Hour), base.Add(5*time.Hour))),  // revoked, then expired, before the cut
		create(t, s, "bob", base, expiring(cut, base.Add(5*time.Hour))),                     // revoked before the cut, expires at it
	}
	revokeAt(gone[3], base.Add(2*time.Hour))
	revokeAt(gone[4], base.Add(2*time.Hour))

	kept := []store.Session{
		create(t, s, "alice", base, long), // active
		create(t, s, "alice", base, long), // revoked after the cut, below
		create(t, s, "bob", base, long),   // revoked exactly at the cut, below
		create(t, s, "bob", base, expiring(cut.Add(time.Microsecond), cut.Add(time.Microsecond))), // expires just after the cut
		// Revoked long before the cut, but its token could still be
		// valid after it: the row is a tombstone, whether it went idle...
		create(t, s, "carol", base, expiring(base.Add(100*time.Hour), base.Add(3*time.Hour))),
		// ...or not,
		create(t, s, "carol", base, long),
		// ...however close to the cut its absolute expiry is.
		create(t, s, "carol", base, expiring(cut.Add(time.Microsecond), base.Add(3*time.Hour))),
		// Stored revoked at the cut though expired before it (Create
		// takes RevokedAt as given): the revocation is not before the cut.
		create(t, s, "dave", base, expiring(base.Add(time.Hour), base.Add(time.Hour)), func(x *store.Session) {
			x.RevokedAt, x.RevokeReason = cut, "test"
		}),
	}
	revokeAt(kept[1], base.Add(50*time.Hour))
	revokeAt(kept[2], cut)
	for _, sess := range kept[4:7] {
		revokeAt(sess, base.Add(2*time.Hour))
	}

	n, err := c.DeleteBefore(ctx, cut)
	is.NoErr(err)
	is.Equal(n, len(gone)) // sessions that expired before the cut, revoked ones absolutely
	for _, sess := range gone {
		_, err := s.Get(ctx, sess.ID)
		is.True(errors.Is(err, store.ErrNotFound)) // removed
		_, err = s.GetByTokenHash(ctx, sess.TokenHash)
		is.True(errors.Is(err, store.ErrNotFound)) // its token hash is gone too
	}
	perUser := map[string]int{}
	for _, sess := range kept {
		got := get(t, s, sess.ID)
		is.Equal(got.ID, sess.ID) // kept
		got, err = s.GetByTokenHash(ctx, sess.TokenHash)
		is.NoErr(err)
		is.Equal(got.ID, sess.ID) // and its token hash still taken
		perUser[sess.UserID]++
	}
	for user, want := range perUser {
		list, err := s.List(ctx, user)
		is.NoErr(err)
		is.Equal(len(list), want) // List no longer shows the removed sessions
	}

	n, err = c.DeleteBefore(ctx, cut)
	is.NoErr(err)
	is.Equal(n, 0) // nothing left to remove

	// A removed session's token hash and id are free again; a tombstone's
	// are not.
	reuse := NewSession("erin", base)
	reuse.ID, reuse.TokenHash = gone[0].ID, gone[0].TokenHash
	is.NoErr(s.Create(ctx, reuse))
	reuse = NewSession("erin", base)
	reuse.TokenHash = kept[4].TokenHash
	is.Equal(s.Create(ctx, reuse), store.ErrDuplicate)

	// Once its absolute expiry is before the cut too, a tombstone goes.
	n, err = c.DeleteBefore(ctx, base.Add(100*time.Hour))
	is.NoErr(err)
	is.Equal(n, len(kept)+1) // every session left, the reused one too
	for _, sess := range kept[4:7] {
		_, err := s.Get(ctx, sess.ID)
		is.True(errors.Is(err, store.ErrNotFound))
	}
}

func testClose(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	sess := create(t, s, "alice", base)
	is.NoErr(s.Close())

	err := s.Close()
	is.True(err == nil || errors.Is(err, store.ErrClosed)) // a second Close is harmless

	closed := func(err error) bool { return errors.Is(err, store.ErrClosed) }
	_, err = s.Get(ctx, sess.ID)
	is.True(closed(err)) // Get
	_, err = s.GetByTokenHash(ctx, sess.TokenHash)
	is.True(closed(err)) // GetByTokenHash
	_, err = s.List(ctx, "alice")
	is.True(closed(err))                                                // List
	is.True(closed(s.Create(ctx, NewSession("alice", base))))           // Create
	is.True(closed(s.Touch(ctx, sess.ID, base, base.Add(time.Hour))))   // Touch
	is.True(closed(s.ReplaceToken(ctx, sess.ID, NewTokenHash(), base))) // ReplaceToken
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, base, "closed")
	is.True(closed(err)) // Revoke
	if c, ok := s.(store.Cleaner); ok {
		_, err = c.DeleteBefore(ctx, base)
		is.True(closed(err)) // DeleteBefore
	}
	if ds, ok := s.(store.DataStore); ok {
		u := store.Update{UserID: "alice", ExpiresAt: base.Add(time.Hour), IdleExpiresAt: base.Add(time.Hour)}
		is.True(closed(ds.Update(ctx, sess.ID, u, base))) // Update
		_, err = ds.ListActive(ctx, base)
		is.True(closed(err)) // ListActive
	}
}
