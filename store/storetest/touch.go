package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func testTouch(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	sess := create(t, s, "alice", base) // idle until base+1h, expires at base+24h

	now := base.Add(30 * time.Minute)
	is.NoErr(s.Touch(ctx, sess.ID, now, now.Add(23*time.Hour)))
	want := sess
	want.LastSeenAt, want.IdleExpiresAt = now, now.Add(23*time.Hour)
	is.Equal(diff(get(t, s, sess.ID), want), "") // LastSeenAt and IdleExpiresAt moved, nothing else

	// Near the end of its life the idle expiry is capped at ExpiresAt.
	now = base.Add(23 * time.Hour)
	is.NoErr(s.Touch(ctx, sess.ID, now, now.Add(2*time.Hour)))
	want.LastSeenAt, want.IdleExpiresAt = now, sess.ExpiresAt
	is.Equal(diff(get(t, s, sess.ID), want), "") // IdleExpiresAt capped at ExpiresAt

	err := s.Touch(ctx, "no-such-session", now, now.Add(time.Hour))
	is.True(errors.Is(err, store.ErrNotFound)) // unknown id
}

func testTouchInactive(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	forEachInactive(t, s, func(t *testing.T, before store.Session, now time.Time) {
		is := is.New(t)
		err := s.Touch(ctx, before.ID, now, now.Add(time.Hour))
		is.True(errors.Is(err, store.ErrInactive))       // touching an inactive session fails
		is.Equal(diff(get(t, s, before.ID), before), "") // and changes nothing
	})
}

// forEachInactive runs check in a subtest for each way a session can be
// inactive at the time of a call: revoked before or after that time, expired
// absolutely or when idle, and at either expiry exactly. check gets the
// session, as stored, and the time of the call. The sessions, created in s,
// belong to "alice" and are changed by the edit functions before they are
// stored.
func forEachInactive(t *testing.T, s store.SessionStore, check func(t *testing.T, before store.Session, now time.Time), edit ...func(*store.Session)) {
	shortLived := func(x *store.Session) {
		x.ExpiresAt = base.Add(time.Minute)
		x.IdleExpiresAt = base.Add(time.Minute)
	}
	revoke := func(t *testing.T, sess store.Session, at time.Time) store.Session {
		t.Helper()
		if _, err := s.Revoke(t.Context(), store.Selection{UserID: sess.UserID, SessionID: sess.ID}, at, "test"); err != nil {
			t.Fatal(err)
		}
		return get(t, s, sess.ID)
	}
	newSession := func(t *testing.T, more ...func(*store.Session)) store.Session {
		t.Helper()
		return create(t, s, "alice", base, slices.Concat(more, edit)...)
	}
	cases := []struct {
		name string
		// prepare returns the session, as stored, and the time of the call.
		prepare func(t *testing.T) (store.Session, time.Time)
	}{
		{"revoked", func(t *testing.T) (store.Session, time.Time) {
			sess := newSession(t)
			return revoke(t, sess, base.Add(time.Second)), base.Add(2 * time.Second)
		}},
		{"revoked later than now", func(t *testing.T) (store.Session, time.Time) {
			// A revocation is final, whatever the clock of the call says.
			sess := newSession(t)
			return revoke(t, sess, base.Add(time.Minute)), base.Add(time.Second)
		}},
		{"absolutely expired", func(t *testing.T) (store.Session, time.Time) {
			sess := newSession(t, shortLived)
			return sess, base.Add(2 * time.Minute)
		}},
		{"absolute expiry reached", func(t *testing.T) (store.Session, time.Time) {
			sess := newSession(t, shortLived)
			return sess, sess.ExpiresAt
		}},
		{"idle expired", func(t *testing.T) (store.Session, time.Time) {
			sess := newSession(t)
			return sess, sess.IdleExpiresAt.Add(time.Second)
		}},
		{"idle expiry reached", func(t *testing.T) (store.Session, time.Time) {
			sess := newSession(t)
			return sess, sess.IdleExpiresAt
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, now := c.prepare(t)
			is.New(t).True(!before.Active(now)) // the case is set up right
			check(t, before, now)
		})
	}
}

func testReplaceToken(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	sess := create(t, s, "alice", base)
	other := create(t, s, "bob", base)
	now := base.Add(time.Minute)

	newHash := NewTokenHash()
	is.NoErr(s.ReplaceToken(ctx, sess.ID, newHash, now))
	_, err := s.GetByTokenHash(ctx, sess.TokenHash)
	is.True(errors.Is(err, store.ErrNotFound)) // the old token stops working at once
	got, err := s.GetByTokenHash(ctx, newHash)
	is.NoErr(err) // the new token works
	want := sess
	want.TokenHash = newHash
	is.Equal(diff(got, want), "") // nothing but the hash changed

	err = s.ReplaceToken(ctx, sess.ID, other.TokenHash, now)
	is.True(errors.Is(err, store.ErrDuplicate))  // the hash belongs to another session
	is.Equal(diff(get(t, s, sess.ID), want), "") // the failed call changed nothing
	is.Equal(diff(get(t, s, other.ID), other), "")
	got, err = s.GetByTokenHash(ctx, other.TokenHash)
	is.NoErr(err)
	is.Equal(got.ID, other.ID) // the taken hash still leads to its owner

	err = s.ReplaceToken(ctx, "no-such-session", NewTokenHash(), now)
	is.True(errors.Is(err, store.ErrNotFound)) // unknown id
}

func testReplaceTokenInactive(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	forEachInactive(t, s, func(t *testing.T, before store.Session, now time.Time) {
		is := is.New(t)
		newHash := NewTokenHash()
		err := s.ReplaceToken(ctx, before.ID, newHash, now)
		is.True(errors.Is(err, store.ErrInactive))       // an inactive session gets no new token
		is.Equal(diff(get(t, s, before.ID), before), "") // and nothing changed
		_, err = s.GetByTokenHash(ctx, newHash)
		is.True(errors.Is(err, store.ErrNotFound)) // the new hash leads nowhere
		got, err := s.GetByTokenHash(ctx, before.TokenHash)
		is.NoErr(err)
		is.Equal(got.TokenHash, before.TokenHash) // the old hash still finds the session
	})
}

// testExpiry checks, around every boundary, that the store's idea of an
// active session is Session.Active: Touch succeeds and Revoke counts the
// session exactly when it is active at the time of the call.
func testExpiry(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	const us = time.Microsecond
	idle := base.Add(time.Hour)
	abs := base.Add(2 * time.Hour)
	times := []struct {
		name string
		now  time.Time
	}{
		{"at creation", base},
		{"before idle expiry", idle.Add(-us)},
		{"at idle expiry", idle},
		{"after idle expiry", idle.Add(us)},
		{"before absolute expiry", abs.Add(-us)},
		{"at absolute expiry", abs},
		{"after absolute expiry", abs.Add(us)},
	}
	shapes := []struct {
		name string
		edit func(*store.Session)
	}{
		{"idle first", func(x *store.Session) { x.IdleExpiresAt, x.ExpiresAt = idle, abs }},
		{"idle as late as absolute", func(x *store.Session) { x.IdleExpiresAt, x.ExpiresAt = abs, abs }},
		{"absolute first", func(x *store.Session) { x.IdleExpiresAt, x.ExpiresAt = abs, idle }},
	}
	for _, shape := range shapes {
		for _, tm := range times {
			t.Run(shape.name+"/"+tm.name, func(t *testing.T) {
				is := is.New(t)
				want := NewSession("alice", base)
				shape.edit(&want)
				active := want.Active(tm.now)

				touched := create(t, s, "alice", base, shape.edit)
				err := s.Touch(ctx, touched.ID, tm.now, tm.now)
				if active {
					is.NoErr(err) // Touch succeeds on an active session
				} else {
					is.True(errors.Is(err, store.ErrInactive)) // Touch fails on an expired session
				}

				revoked := create(t, s, "alice", base, shape.edit)
				ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: revoked.ID}, tm.now, "test")
				is.NoErr(err)
				is.Equal(len(ids) == 1, active) // Revoke counts the session only when active
				after := get(t, s, revoked.ID)
				is.Equal(after.Revoked(), active) // and leaves expired sessions alone
			})
		}
	}
}
