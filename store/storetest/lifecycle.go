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
	revokeAt := func(sess store.Session, at time.Time) {
		t.Helper()
		_, err := s.Revoke(ctx, store.Selection{UserID: sess.UserID, SessionID: sess.ID}, at, "test")
		is.NoErr(err)
	}

	gone := []store.Session{
		create(t, s, "alice", base, func(x *store.Session) { // absolutely expired
			x.ExpiresAt, x.IdleExpiresAt = base.Add(time.Hour), base.Add(time.Hour)
		}),
		create(t, s, "alice", base, func(x *store.Session) { // idle expired
			x.ExpiresAt, x.IdleExpiresAt = base.Add(100*time.Hour), base.Add(time.Hour)
		}),
		create(t, s, "alice", base, func(x *store.Session) { // expired exactly at the cut
			x.ExpiresAt, x.IdleExpiresAt = cut, cut
		}),
		create(t, s, "bob", base, long), // revoked before the cut, below
	}
	revokeAt(gone[3], base.Add(2*time.Hour))

	kept := []store.Session{
		create(t, s, "alice", base, long), // active
		create(t, s, "alice", base, long), // revoked after the cut, below
		create(t, s, "bob", base, long),   // revoked exactly at the cut, below
		create(t, s, "bob", base, func(x *store.Session) { // expires just after the cut
			x.ExpiresAt, x.IdleExpiresAt = cut.Add(time.Microsecond), cut.Add(time.Microsecond)
		}),
	}
	revokeAt(kept[1], base.Add(50*time.Hour))
	revokeAt(kept[2], cut)

	n, err := c.DeleteBefore(ctx, cut)
	is.NoErr(err)
	is.Equal(n, len(gone)) // sessions that expired or were revoked before the cut
	for _, sess := range gone {
		_, err := s.Get(ctx, sess.ID)
		is.True(errors.Is(err, store.ErrNotFound)) // removed
		_, err = s.GetByTokenHash(ctx, sess.TokenHash)
		is.True(errors.Is(err, store.ErrNotFound)) // its token hash is gone too
	}
	for _, sess := range kept {
		got := get(t, s, sess.ID)
		is.Equal(got.ID, sess.ID) // kept
	}
	for _, user := range []string{"alice", "bob"} {
		list, err := s.List(ctx, user)
		is.NoErr(err)
		is.Equal(len(list), 2) // List no longer shows the removed sessions
	}

	n, err = c.DeleteBefore(ctx, cut)
	is.NoErr(err)
	is.Equal(n, 0) // nothing left to remove

	// A removed session's token hash and id are free again.
	reuse := NewSession("carol", base)
	reuse.ID, reuse.TokenHash = gone[0].ID, gone[0].TokenHash
	is.NoErr(s.Create(ctx, reuse))
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
