package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// authenticatedAt sets the session's AuthenticatedAt.
func authenticatedAt(t time.Time) func(*store.Session) {
	return func(s *store.Session) { s.AuthenticatedAt = t }
}

// testNotBeforeRefusesCreate: after a revocation with a not-before time, no
// session of the user authenticated before it can be created, and nothing
// of the refused session is stored.
func testNotBeforeRefusesCreate(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const user = "nora"
	old := create(t, s, user, base)
	cut := base.Add(time.Minute)
	ids, err := s.Revoke(ctx, store.Selection{UserID: user, NotBefore: cut}, cut, "signed out everywhere")
	is.NoErr(err)
	is.Equal(ids, []string{old.ID}) // the revocation itself happened

	later := cut.Add(time.Second)
	refused := NewSession(user, later)
	refused.AuthenticatedAt = cut.Add(-time.Microsecond) // checked before the revocation, written after
	is.True(errors.Is(s.Create(ctx, refused), store.ErrNotBefore))
	_, err = s.Get(ctx, refused.ID)
	is.True(errors.Is(err, store.ErrNotFound)) // nothing stored
	_, err = s.GetByTokenHash(ctx, refused.TokenHash)
	is.True(errors.Is(err, store.ErrNotFound))

	// A zero AuthenticatedAt means CreatedAt, and is refused the same way.
	zero := NewSession(user, cut.Add(-time.Second))
	zero.AuthenticatedAt = time.Time{}
	is.True(errors.Is(s.Create(ctx, zero), store.ErrNotBefore))

	// At or after the not-before time, and for other users or no user,
	// sessions are created as usual.
	atCut := create(t, s, user, later, authenticatedAt(cut))
	is.True(get(t, s, atCut.ID).AuthenticatedAt.Equal(cut))
	create(t, s, user, later, authenticatedAt(later))
	create(t, s, "otto", later, authenticatedAt(base))
	create(t, s, "", later, authenticatedAt(base))
	fresh := NewSession(user, later)
	fresh.AuthenticatedAt = time.Time{}
	is.NoErr(s.Create(ctx, fresh))
	is.True(get(t, s, fresh.ID).AuthenticatedAt.Equal(later)) // zero reads back as CreatedAt
}

// testNotBeforeNeverMovesBack: a later revocation with an earlier
// not-before time does not lower the user's.
func testNotBeforeNeverMovesBack(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const user = "nils"
	late, early := base.Add(2*time.Minute), base.Add(time.Minute)
	_, err := s.Revoke(ctx, store.Selection{UserID: user, NotBefore: late}, late, "r")
	is.NoErr(err)
	_, err = s.Revoke(ctx, store.Selection{UserID: user, NotBefore: early}, late.Add(time.Second), "r")
	is.NoErr(err)
	between := NewSession(user, late.Add(time.Minute))
	between.AuthenticatedAt = early.Add(30 * time.Second)
	is.True(errors.Is(s.Create(ctx, between), store.ErrNotBefore))
}

// testNotBeforeSelection: a not-before time needs a user and no single
// session, and ExceptID keeps its session while the time still moves.
func testNotBeforeSelection(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const user = "nina"
	keep := create(t, s, user, base)
	other := create(t, s, user, base)
	cut := base.Add(time.Minute)
	for _, sel := range []store.Selection{
		{UserID: user, SessionID: other.ID, NotBefore: cut},
		{SessionID: other.ID, NotBefore: cut},
	} {
		_, err := s.Revoke(ctx, sel, cut, "r")
		is.True(err != nil) // refused
	}
	otherNow := get(t, s, other.ID)
	is.True(otherNow.Active(cut)) // and nothing revoked
	refusedLater := NewSession(user, cut)
	refusedLater.AuthenticatedAt = base
	is.NoErr(s.Create(ctx, refusedLater)) // nor a not-before time set

	ids, err := s.Revoke(ctx, store.Selection{UserID: user, ExceptID: keep.ID, NotBefore: cut}, cut, "r")
	is.NoErr(err)
	is.Equal(sorted(ids), sorted([]string{other.ID, refusedLater.ID}))
	kept := get(t, s, keep.ID)
	is.True(kept.Active(cut))
	stale := NewSession(user, cut.Add(time.Second))
	stale.AuthenticatedAt = base
	is.True(errors.Is(s.Create(ctx, stale), store.ErrNotBefore))
}

// testNotBeforeRefusesUpdate: binding a session to a user (an scs login on
// the same token) respects the user's not-before time too.
func testNotBeforeRefusesUpdate(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	is := is.New(t)
	ctx := t.Context()
	const user = "nell"
	anon := create(t, s, "", base, func(s *store.Session) { s.Data = []byte("cart") })
	cut := base.Add(time.Minute)
	_, err := s.Revoke(ctx, store.Selection{UserID: user, NotBefore: cut}, cut, "r")
	is.NoErr(err)
	now := cut.Add(time.Second)
	u := store.Update{UserID: user, Data: []byte("logged in"), ExpiresAt: anon.ExpiresAt, IdleExpiresAt: anon.IdleExpiresAt}

	// Zero keeps the session's own AuthenticatedAt, which is before the cut.
	is.True(errors.Is(ds.Update(ctx, anon.ID, u, now), store.ErrNotBefore))
	u.AuthenticatedAt = cut.Add(-time.Microsecond)
	is.True(errors.Is(ds.Update(ctx, anon.ID, u, now), store.ErrNotBefore))
	if d := diff(get(t, s, anon.ID), anon); d != "" {
		t.Fatalf("a refused Update changed the session: %s", d)
	}

	u.AuthenticatedAt = now
	is.NoErr(ds.Update(ctx, anon.ID, u, now))
	got := get(t, s, anon.ID)
	is.Equal(got.UserID, user)
	is.True(got.AuthenticatedAt.Equal(now))
	u.AuthenticatedAt = time.Time{}
	u.Data = []byte("again")
	is.NoErr(ds.Update(ctx, anon.ID, u, now.Add(time.Second))) // zero keeps it
	is.True(get(t, s, anon.ID).AuthenticatedAt.Equal(now))

	// A session that stays anonymous is no user's, whatever its time.
	anon2 := create(t, s, "", base)
	is.NoErr(ds.Update(ctx, anon2.ID, store.Update{Data: []byte("x"), ExpiresAt: anon2.ExpiresAt, IdleExpiresAt: anon2.IdleExpiresAt}, now))
}

// testNotBeforeRacingCreate races sign-ins that checked credentials before
// a revocation against the revocation: whichever commits first, no session
// authenticated before the not-before time is left active.
func testNotBeforeRacingCreate(t *testing.T, s store.SessionStore) {
	raceNotBefore(t, s, func(ctx context.Context, user string, auth, now time.Time) (string, error) {
		sess := NewSession(user, now)
		sess.AuthenticatedAt = auth
		err := s.Create(ctx, sess)
		if errors.Is(err, store.ErrNotBefore) {
			return "", nil
		}
		return sess.ID, err
	})
}

// testNotBeforeRacingUpdate races anonymous sessions being bound to the
// user (an scs login that checked credentials before the revocation)
// against it.
func testNotBeforeRacingUpdate(t *testing.T, s store.SessionStore) {
	ds := dataStore(t, s)
	raceNotBefore(t, s, func(ctx context.Context, user string, auth, now time.Time) (string, error) {
		anon := NewSession("", now)
		if err := s.Create(ctx, anon); err != nil {
			return "", err
		}
		err := ds.Update(ctx, anon.ID, store.Update{UserID: user, Data: []byte("in"),
			ExpiresAt: anon.ExpiresAt, IdleExpiresAt: anon.IdleExpiresAt, AuthenticatedAt: auth}, now)
		if errors.Is(err, store.ErrNotBefore) {
			return "", nil
		}
		return anon.ID, err
	})
}

// raceNotBefore runs rounds of workers that each write one session of a
// fresh user authenticated before the round's cut, against one revocation
// with that cut. write returns the id of a session it bound to the user,
// or "" when the store refused it. Afterwards every such session must be
// revoked.
func raceNotBefore(t *testing.T, s store.SessionStore, write func(ctx context.Context, user string, auth, now time.Time) (string, error)) {
	raceRevocation(t, s, func(user string, cut time.Time) store.Selection {
		return store.Selection{UserID: user, NotBefore: cut}
	}, write)
}

// raceRevocation is raceNotBefore with the revocation's selection for the
// user and the cut given by sel, which must move the not-before time to
// the cut.
func raceRevocation(t *testing.T, s store.SessionStore, sel func(user string, cut time.Time) store.Selection,
	write func(ctx context.Context, user string, auth, now time.Time) (string, error)) {
	ctx := t.Context()
	for r := range rounds {
		user := fmt.Sprintf("racer-%d", r)
		auth := base.Add(time.Duration(r) * time.Minute)
		cut := auth.Add(time.Second)
		now := cut.Add(time.Second) // the writers' clock: after the cut
		var (
			mu      sync.Mutex
			written []string
			wg      sync.WaitGroup
		)
		start := make(chan struct{})
		for range workers {
			wg.Go(func() {
				<-start
				id, err := write(ctx, user, auth, now)
				if err != nil {
					t.Errorf("round %d: write: %v", r, err)
					return
				}
				if id != "" {
					mu.Lock()
					written = append(written, id)
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := s.Revoke(ctx, sel(user, cut), cut, "race"); err != nil {
				t.Errorf("round %d: revoke: %v", r, err)
			}
		})
		close(start)
		wg.Wait()
		for _, id := range written {
			if sess := get(t, s, id); sess.Active(now) {
				t.Fatalf("round %d: session %s authenticated at %v is active after a revocation with not-before %v",
					r, id, sess.AuthenticatedAt, cut)
			}
		}
	}
}
