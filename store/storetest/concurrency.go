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

// Sizes of the concurrent tests: enough goroutines and rounds for the race
// detector and for real interleavings, few enough to stay fast on a backend
// that serialises every write.
const (
	workers = 8
	rounds  = 12
)

// testConcurrentUse has many goroutines create, touch, list, renew and revoke
// one user's sessions at once. Afterwards every session is listed, and each
// revoked session was reported revoked by exactly one Revoke call.
func testConcurrentUse(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const user = "carol"
	bystander := create(t, s, "dave", base)
	now := base.Add(time.Minute)

	var (
		mu       sync.Mutex
		reported = map[string]int{} // id -> how many Revoke calls returned it
		created  = map[string]bool{}
	)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for r := range rounds {
				if err := concurrentRound(ctx, s, user, w, r, now, func(ids []string, id string) {
					mu.Lock()
					defer mu.Unlock()
					for _, id := range ids {
						reported[id]++
					}
					if id != "" {
						created[id] = true
					}
				}); err != nil {
					t.Errorf("worker %d, round %d: %v", w, r, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}

	list, err := s.List(ctx, user)
	is.NoErr(err)
	is.Equal(len(list), workers*rounds) // every created session is listed
	revoked := 0
	for _, sess := range list {
		is.True(created[sess.ID]) // only sessions the workers created
		if sess.Revoked() {
			revoked++
			is.Equal(reported[sess.ID], 1) // a revoked session was reported by exactly one Revoke
			is.True(sess.RevokedAt.Equal(now))
		} else {
			is.Equal(reported[sess.ID], 0) // an active session was never reported revoked
		}
	}
	is.Equal(len(reported), revoked)                       // no phantom ids were reported
	is.Equal(diff(get(t, s, bystander.ID), bystander), "") // another user is untouched
}

// concurrentRound is one worker's round in testConcurrentUse. It reports the
// ids each Revoke returned and the id of the session it created.
func concurrentRound(ctx context.Context, s store.SessionStore, user string, w, r int, now time.Time, report func(ids []string, created string)) error {
	sess := NewSession(user, base)
	if err := s.Create(ctx, sess); err != nil {
		return fmt.Errorf("s.Create: %w", err)
	}
	report(nil, sess.ID)
	// Another worker may have revoked the session already.
	if err := s.Touch(ctx, sess.ID, now, now.Add(time.Hour)); err != nil && !errors.Is(err, store.ErrInactive) {
		return fmt.Errorf("s.Touch: %w", err)
	}
	list, err := s.List(ctx, user)
	if err != nil {
		return fmt.Errorf("s.List: %w", err)
	}
	found := false
	for _, l := range list {
		if l.UserID != user {
			return fmt.Errorf("List(%q) returned a session of %q", user, l.UserID)
		}
		found = found || l.ID == sess.ID
	}
	if !found {
		return fmt.Errorf("s.List does not include the session just created")
	}
	// Only this round renews this session's token, and only further down.
	if got, err := s.GetByTokenHash(ctx, sess.TokenHash); err != nil {
		return fmt.Errorf("GetByTokenHash: %w", err)
	} else if got.ID != sess.ID {
		return fmt.Errorf("GetByTokenHash returned session %s, want %s", got.ID, sess.ID)
	}

	var sel store.Selection
	switch (w + r) % 3 {
	case 0:
		sel = store.Selection{UserID: user, SessionID: sess.ID}
	case 1:
		sel = store.Selection{UserID: user, ExceptID: sess.ID}
	case 2:
		if err := s.ReplaceToken(ctx, sess.ID, NewTokenHash(), now); err != nil && !errors.Is(err, store.ErrInactive) {
			return fmt.Errorf("ReplaceToken: %w", err)
		}
		if r%2 == 0 {
			return nil
		}
		sel = store.Selection{UserID: user}
	}
	ids, err := s.Revoke(ctx, sel, now, fmt.Sprintf("worker %d", w))
	if err != nil {
		return fmt.Errorf("Revoke(%+v): %w", sel, err)
	}
	for _, id := range ids {
		if sel.ExceptID != "" && id == sel.ExceptID {
			return fmt.Errorf("s.Revoke returned the excepted session")
		}
		if sel.SessionID != "" && id != sel.SessionID {
			return fmt.Errorf("s.Revoke of one session returned another")
		}
	}
	report(ids, "")
	return nil
}

// testRevokedNeverComesBack races Touch and ReplaceToken against Revoke on
// the same sessions. Whatever the interleaving, once a goroutine has seen a
// session inactive it never sees it active again, and in the end every
// session is revoked, once, with its original time and reason.
func testRevokedNeverComesBack(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	const (
		user   = "erin"
		reason = "compromised"
	)
	ids, revokeAt := raceRevoke(t, s, revokeRace{
		user:   user,
		reason: reason,
		write: func(w, k int, id string, now time.Time) error {
			if k%2 == 0 {
				return s.Touch(ctx, id, now, now.Add(time.Hour))
			}
			return s.ReplaceToken(ctx, id, NewTokenHash(), now)
		},
		// Alternate one-session and all-but-one revocations.
		wide: func(ids []string) store.Selection { return store.Selection{UserID: user, ExceptID: ids[0]} },
	})
	if t.Failed() {
		return
	}

	ids2, err := s.Revoke(ctx, store.Selection{UserID: user}, revokeAt.Add(time.Hour), "again")
	is.NoErr(err)
	is.Equal(len(ids2), 0) // nothing left to revoke

	later := revokeAt.Add(time.Minute)
	for _, id := range ids {
		sess := checkRevoked(t, s, id, revokeAt, reason)
		err := s.Touch(ctx, id, later, later.Add(time.Hour))
		is.True(errors.Is(err, store.ErrInactive)) // Touch cannot revive it
		err = s.ReplaceToken(ctx, id, NewTokenHash(), later)
		is.True(errors.Is(err, store.ErrInactive)) // nor can a new token
		got, err := s.GetByTokenHash(ctx, sess.TokenHash)
		is.NoErr(err)
		is.Equal(got.ID, id) // its last token still identifies it
		is.True(!got.Active(later))
	}
}

// revokeRace is a race of writes against Revoke on one user's sessions, for
// raceRevoke.
type revokeRace struct {
	user, reason string
	// write is worker w's k-th write, to session id at now. It returns nil
	// or an error matching store.ErrInactive; any other error fails the test.
	write func(w, k int, id string, now time.Time) error
	// wide is the selection of every fourth revocation, one that takes more
	// than one session; the others each revoke the next session by id.
	wide func(ids []string) store.Selection
}

// raceRevoke creates r.user's sessions and has workers write to them with
// r.write, at times that straddle the revocation time, while one goroutine
// revokes them all at that time for r.reason. A session a worker has seen
// inactive must never accept that worker's write again. Once the race is
// over, every session must have been reported revoked exactly once.
// raceRevoke returns the sessions' ids and the revocation time; the caller
// checks the sessions further unless t has failed.
func raceRevoke(t *testing.T, s store.SessionStore, r revokeRace) (ids []string, revokeAt time.Time) {
	t.Helper()
	is := is.New(t)
	ctx := t.Context()
	const (
		sessions = 16
		iters    = 48
	)
	ids = make([]string, sessions)
	for i := range ids {
		ids[i] = create(t, s, r.user, base).ID
	}
	revokeAt = base.Add(10 * time.Minute)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			inactive := make([]bool, sessions)
			for k := range iters {
				i := (w*5 + k) % sessions
				// Write times straddle the revocation time: a revocation is
				// final whatever the clock of a later call says.
				now := base.Add(5*time.Minute + time.Duration(w*iters+k)*time.Second)
				err := r.write(w, k, ids[i], now)
				switch {
				case errors.Is(err, store.ErrInactive):
					inactive[i] = true
				case err != nil:
					t.Errorf("worker %d: %v", w, err)
					return
				case inactive[i]:
					t.Errorf("worker %d: session %d came back to life after being seen inactive", w, i)
					return
				}
			}
		})
	}

	var revoked []string
	wg.Go(func() {
		<-start
		for i, id := range ids {
			sel := store.Selection{UserID: r.user, SessionID: id}
			if i%4 == 3 {
				sel = r.wide(ids)
			}
			got, err := s.Revoke(ctx, sel, revokeAt, r.reason)
			if err != nil {
				t.Errorf("Revoke: %v", err)
				return
			}
			revoked = append(revoked, got...)
		}
	})
	close(start)
	wg.Wait()
	if t.Failed() {
		return ids, revokeAt
	}

	is.Equal(sorted(revoked), sorted(ids)) // every session revoked, each reported once
	return ids, revokeAt
}

// checkRevoked checks that session id is still revoked with the time and
// reason of its revocation, and returns it as stored.
func checkRevoked(t *testing.T, s store.SessionStore, id string, at time.Time, reason string) store.Session {
	t.Helper()
	is := is.New(t)
	sess := get(t, s, id)
	is.True(sess.Revoked())             // still revoked
	is.True(sess.RevokedAt.Equal(at))   // with its original time
	is.Equal(sess.RevokeReason, reason) // and reason
	return sess
}
