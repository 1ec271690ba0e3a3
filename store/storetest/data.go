package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// dataStore returns s as a store.DataStore, or skips the test: the interface
// is optional, and a store without it has nothing here to conform to.
func dataStore(t *testing.T, s store.SessionStore) store.DataStore {
	t.Helper()
	ds, ok := s.(store.DataStore)
	if !ok {
		t.Skip("store does not implement store.DataStore (optional; only scsstore needs it)")
	}
	return ds
}

func testUpdate(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	is := is.New(t)
	ctx := t.Context()

	sess := create(t, s, "alice", base, func(x *store.Session) { x.Data = []byte("before") })
	other := create(t, s, "alice", base.Add(time.Second))
	bobs := create(t, s, "bob", base.Add(2*time.Second))

	// The session changes hands (a login binds it to a user), gets new data
	// and a later absolute expiry.
	now := base.Add(time.Minute)
	u := store.Update{
		UserID:        "bob",
		Data:          []byte("\x00after\xff"),
		ExpiresAt:     base.Add(48*time.Hour + 3*time.Microsecond),
		IdleExpiresAt: now.Add(2*time.Hour + 5*time.Microsecond),
	}
	is.NoErr(ds.Update(ctx, sess.ID, u, now))
	u.Data[1] ^= 0xff // the caller reuses its buffer
	want := sess
	want.UserID = "bob"
	want.Data = []byte("\x00after\xff")
	want.ExpiresAt = u.ExpiresAt
	want.IdleExpiresAt = u.IdleExpiresAt
	want.LastSeenAt = now
	is.Equal(diff(get(t, s, sess.ID), want), "") // those fields changed, nothing else
	got, err := s.GetByTokenHash(ctx, sess.TokenHash)
	is.NoErr(err)
	is.Equal(diff(got, want), "") // the token still leads to it

	list, err := s.List(ctx, "alice")
	is.NoErr(err)
	is.Equal(len(list), 1) // the old user no longer has it
	is.Equal(list[0].ID, other.ID)
	list, err = s.List(ctx, "bob")
	is.NoErr(err)
	is.Equal(len(list), 2) // the new user has it
	is.Equal(diff(list[0], bobs), "")
	is.Equal(diff(list[1], want), "") // in creation order, with the new fields

	// Near the end of its life the idle expiry is capped at ExpiresAt; nil
	// data clears it, and the user may stay the same.
	now = base.Add(time.Hour)
	u = store.Update{UserID: "bob", ExpiresAt: want.ExpiresAt, IdleExpiresAt: now.Add(50 * time.Hour)}
	is.NoErr(ds.Update(ctx, sess.ID, u, now))
	want.Data = nil
	want.IdleExpiresAt = want.ExpiresAt
	want.LastSeenAt = now
	is.Equal(diff(get(t, s, sess.ID), want), "") // IdleExpiresAt capped, data cleared

	// Revocation follows the new owner.
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, now, "old owner")
	is.True(errors.Is(err, store.ErrNotFound)) // no longer the old user's session
	is.Equal(len(ids), 0)
	ids, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, now, "old owner")
	is.NoErr(err)
	is.Equal(ids, []string{other.ID}) // revoking the old user's sessions misses it
	ids, err = s.Revoke(ctx, store.Selection{UserID: "bob", SessionID: sess.ID}, now, "new owner")
	is.NoErr(err)
	is.Equal(ids, []string{sess.ID}) // the new user revokes it
	want.RevokedAt, want.RevokeReason = now, "new owner"
	is.Equal(diff(get(t, s, sess.ID), want), "")
	is.Equal(diff(get(t, s, bobs.ID), bobs), "") // the new user's other session is untouched
}

func testUpdateInactive(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	ctx := t.Context()
	withData := func(x *store.Session) { x.Data = []byte("kept") }
	forEachInactive(t, s, func(t *testing.T, before store.Session, now time.Time) {
		is := is.New(t)
		// Everything an update could use to bring the session back.
		u := store.Update{
			UserID:        "mallory",
			Data:          []byte("revived"),
			ExpiresAt:     now.Add(48 * time.Hour),
			IdleExpiresAt: now.Add(time.Hour),
		}
		err := ds.Update(ctx, before.ID, u, now)
		is.True(errors.Is(err, store.ErrInactive))       // updating an inactive session fails
		is.Equal(diff(get(t, s, before.ID), before), "") // and changes nothing
		list, err := s.List(ctx, "mallory")
		is.NoErr(err)
		is.Equal(len(list), 0) // the session did not change hands
		got, err := s.GetByTokenHash(ctx, before.TokenHash)
		is.NoErr(err)
		is.True(!got.Active(now)) // it is still inactive
	}, withData)
}

func testUpdateNotFound(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	is := is.New(t)
	ctx := t.Context()

	create(t, s, "alice", base)
	u := store.Update{UserID: "bob", Data: []byte("x"), ExpiresAt: base.Add(time.Hour), IdleExpiresAt: base.Add(time.Hour)}
	for _, id := range []string{"no-such-session", ""} {
		err := ds.Update(ctx, id, u, base)
		is.True(errors.Is(err, store.ErrNotFound)) // unknown or empty id
		_, err = s.Get(ctx, id)
		is.True(errors.Is(err, store.ErrNotFound)) // and no session was made up
	}
	list, err := s.List(ctx, "bob")
	is.NoErr(err)
	is.Equal(len(list), 0) // nothing was stored for the user
}

func testListActive(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	is := is.New(t)
	ctx := t.Context()

	list, err := ds.ListActive(ctx, base)
	is.NoErr(err)          // an empty store is no error
	is.Equal(len(list), 0) // and has no sessions

	now := base.Add(10 * time.Minute)
	expiresAt := func(at time.Time) func(*store.Session) {
		return func(x *store.Session) { x.ExpiresAt, x.IdleExpiresAt = at, at }
	}
	idleAt := func(at time.Time) func(*store.Session) {
		return func(x *store.Session) { x.IdleExpiresAt = at }
	}
	active := []store.Session{
		create(t, s, "alice", base, func(x *store.Session) { x.Data = []byte("\x00alice\xff") }),
		create(t, s, "bob", base),
		create(t, s, "", base), // bound to no user yet
		create(t, s, "carol", base, expiresAt(now.Add(time.Microsecond))),
		create(t, s, "carol", base, idleAt(now.Add(time.Microsecond))),
	}
	revoked := []store.Session{
		create(t, s, "alice", base),
		create(t, s, "bob", base),
	}
	inactive := []store.Session{
		create(t, s, "alice", base, expiresAt(now)),                 // absolute expiry reached
		create(t, s, "bob", base, expiresAt(now.Add(-time.Minute))), // absolutely expired
		create(t, s, "carol", base, idleAt(now)),                    // idle expiry reached
		create(t, s, "", base, idleAt(now.Add(-time.Minute))),       // idle expired
	}
	for _, sess := range revoked {
		// Revoked after now: a revocation counts whatever the clock says.
		ids, err := s.Revoke(ctx, store.Selection{UserID: sess.UserID, SessionID: sess.ID}, now.Add(time.Minute), "test")
		is.NoErr(err)
		is.Equal(len(ids), 1) // the case is set up right
	}

	byID := map[string]store.Session{}
	var want []string
	for _, sess := range active {
		byID[sess.ID] = sess
		want = append(want, sess.ID)
	}
	list, err = ds.ListActive(ctx, now)
	is.NoErr(err)
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
		if w, ok := byID[l.ID]; ok {
			is.Equal(diff(l, w), "") // every field as stored, data too
		}
	}
	is.Equal(sorted(ids), sorted(want)) // exactly the active sessions, of every user

	// At an earlier time the expired sessions were still active: the store
	// goes by the time passed in.
	list, err = ds.ListActive(ctx, base)
	is.NoErr(err)
	ids = ids[:0]
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	for _, sess := range inactive {
		want = append(want, sess.ID)
	}
	is.Equal(sorted(ids), sorted(want)) // all but the revoked ones
}

// testUpdateRacingRevoke races Update against Revoke on the same sessions, as
// when a request commits its scs session while the user is signed out
// everywhere. Whatever the interleaving, an update never undoes a
// revocation: once a goroutine has seen a session inactive it never updates
// it again, and in the end every session is revoked with its original time
// and reason.
func testUpdateRacingRevoke(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	is := is.New(t)
	ctx := t.Context()
	const (
		user   = "frank"
		reason = "signed out everywhere"
	)
	ids, revokeAt := raceRevoke(t, s, revokeRace{
		user:   user,
		reason: reason,
		// Every update pushes both expiries past the revocation time.
		write: func(w, k int, id string, now time.Time) error {
			return ds.Update(ctx, id, store.Update{
				UserID:        user,
				Data:          fmt.Appendf(nil, "worker %d, update %d", w, k),
				ExpiresAt:     base.Add(48 * time.Hour),
				IdleExpiresAt: now.Add(time.Hour),
			}, now)
		},
		// Alternate one-session and all-the-user's revocations.
		wide: func([]string) store.Selection { return store.Selection{UserID: user} },
	})
	if t.Failed() {
		return
	}

	later := revokeAt.Add(time.Minute)
	for _, id := range ids {
		before := checkRevoked(t, s, id, revokeAt, reason)
		err := ds.Update(ctx, id, store.Update{
			UserID: user, Data: []byte("late"), ExpiresAt: later.Add(time.Hour), IdleExpiresAt: later.Add(time.Hour),
		}, later)
		is.True(errors.Is(err, store.ErrInactive)) // a later update cannot revive it
		is.Equal(diff(get(t, s, id), before), "")  // nor change it
	}
	active, err := ds.ListActive(ctx, later)
	is.NoErr(err)
	is.True(!slices.ContainsFunc(active, func(x store.Session) bool { return x.UserID == user })) // none is listed active
}
