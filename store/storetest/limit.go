package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// Session limits are optional. When the store under test implements
// store.LimitedStore, Run checks it too; the suite pins:
//
//   - CreateLimited under EvictLeastRecentlySeen revokes, with the
//     Limit's reason, the user's active sessions seen least recently, as
//     many as make room, and returns their ids; revoked and expired
//     sessions and other users' do not count.
//   - Under RefuseNew it stores nothing and returns ErrSessionLimit.
//   - Refused for the user's not-before time, it revokes nothing.
//   - Of many concurrent CreateLimited calls for one user, none leaves more
//     than Max active sessions: under RefuseNew exactly Max succeed.
//   - After Close it returns store.ErrClosed.
func runLimitTests(t *testing.T, open func(*testing.T) store.SessionStore) {
	probe := open(t)
	_, limited := probe.(store.LimitedStore)
	if err := probe.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, store.LimitedStore)
	}{
		{"LimitEvictsLeastRecentlySeen", testLimitEvicts},
		{"LimitRefusesNew", testLimitRefuses},
		{"LimitCountsActiveOnly", testLimitCountsActiveOnly},
		{"LimitNotBefore", testLimitNotBefore},
		{"LimitConcurrent", testLimitConcurrent},
		{"LimitClosed", testLimitClosed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !limited {
				t.Skip("the store does not implement store.LimitedStore")
			}
			tt.fn(t, openStore(t, open).(store.LimitedStore))
		})
	}
}

var (
	evict3  = store.Limit{Max: 3, Policy: store.EvictLeastRecentlySeen, Reason: "session_limit"}
	refuse3 = store.Limit{Max: 3, Policy: store.RefuseNew}
)

// activeIDs returns the ids of the user's sessions active at now.
func activeIDs(t *testing.T, s store.SessionStore, user string, now time.Time) []string {
	t.Helper()
	p, err := s.ListPage(t.Context(), user, store.PageQuery{Limit: store.MaxPageLimit, Now: now})
	if err != nil {
		t.Fatalf("ListPage: %v", err)
	}
	ids := make([]string, len(p.Sessions))
	for i, x := range p.Sessions {
		ids[i] = x.ID
	}
	return sorted(ids)
}

func lastSeen(at time.Time) func(*store.Session) {
	return func(s *store.Session) { s.LastSeenAt = at }
}

func testLimitEvicts(t *testing.T, s store.LimitedStore) {
	is := is.New(t)
	now := base.Add(time.Minute)
	// Created in one order, seen in another: the least recently seen go.
	a := create(t, s, "alice", base, lastSeen(base.Add(30*time.Second)))
	b := create(t, s, "alice", base.Add(time.Second), lastSeen(base.Add(10*time.Second)))
	c := create(t, s, "alice", base.Add(2*time.Second), lastSeen(base.Add(20*time.Second)))
	create(t, s, "bob", base)
	next := NewSession("alice", now)
	revoked, err := s.CreateLimited(t.Context(), next, evict3, now)
	is.NoErr(err)
	is.Equal(revoked, []string{b.ID})
	is.Equal(activeIDs(t, s, "alice", now), sorted([]string{a.ID, c.ID, next.ID}))
	got := get(t, s, b.ID)
	is.True(got.RevokedAt.Equal(now))
	is.Equal(got.RevokeReason, "session_limit")
	is.Equal(len(activeIDs(t, s, "bob", now)), 1)

	// A Max of 1 makes room for the new session alone.
	one := store.Limit{Max: 1, Policy: store.EvictLeastRecentlySeen, Reason: "session_limit"}
	last := NewSession("alice", now.Add(time.Second))
	revoked, err = s.CreateLimited(t.Context(), last, one, now.Add(time.Second))
	is.NoErr(err)
	is.Equal(revoked, sorted([]string{a.ID, c.ID, next.ID}))
	is.Equal(activeIDs(t, s, "alice", now.Add(time.Second)), []string{last.ID})
}

func testLimitRefuses(t *testing.T, s store.LimitedStore) {
	is := is.New(t)
	now := base.Add(time.Minute)
	var ids []string
	for i := range 3 {
		x := NewSession("alice", base.Add(time.Duration(i)*time.Second))
		revoked, err := s.CreateLimited(t.Context(), x, refuse3, now)
		is.NoErr(err)
		is.Equal(len(revoked), 0)
		ids = append(ids, x.ID)
	}
	extra := NewSession("alice", now)
	_, err := s.CreateLimited(t.Context(), extra, refuse3, now)
	is.True(errors.Is(err, store.ErrSessionLimit))
	_, err = s.Get(t.Context(), extra.ID)
	is.True(errors.Is(err, store.ErrNotFound)) // nothing stored
	is.Equal(activeIDs(t, s, "alice", now), sorted(ids))
}

func testLimitCountsActiveOnly(t *testing.T, s store.LimitedStore) {
	is := is.New(t)
	now := base.Add(2 * time.Hour)
	create(t, s, "alice", base) // idle-expired at now
	gone := create(t, s, "alice", now.Add(-time.Minute))
	_, err := s.Revoke(t.Context(), store.Selection{UserID: "alice", SessionID: gone.ID}, now, "logout")
	is.NoErr(err)
	live := create(t, s, "alice", now.Add(-time.Second))
	for range 2 {
		revoked, err := s.CreateLimited(t.Context(), NewSession("alice", now), refuse3, now)
		is.NoErr(err)
		is.Equal(len(revoked), 0)
	}
	_, err = s.CreateLimited(t.Context(), NewSession("alice", now), refuse3, now)
	is.True(errors.Is(err, store.ErrSessionLimit))
	got := get(t, s, live.ID)
	is.True(got.Active(now))
}

func testLimitNotBefore(t *testing.T, s store.LimitedStore) {
	is := is.New(t)
	now := base.Add(time.Minute)
	_, err := s.Revoke(t.Context(), store.Selection{UserID: "alice", NotBefore: now}, now, "password changed")
	is.NoErr(err)
	kept := make([]string, 3)
	for i := range kept {
		kept[i] = create(t, s, "alice", now, authenticatedAt(now)).ID
	}
	stale := NewSession("alice", now) // authenticated a second before now
	_, err = s.CreateLimited(t.Context(), stale, evict3, now)
	is.True(errors.Is(err, store.ErrNotBefore))
	is.Equal(activeIDs(t, s, "alice", now), sorted(kept)) // nothing evicted for it
}

// testLimitConcurrent starts many capped creates for one user at once: the
// count and the insert must be one step, or several see room for one.
func testLimitConcurrent(t *testing.T, s store.LimitedStore) {
	for _, l := range []store.Limit{evict3, refuse3} {
		t.Run(map[store.LimitPolicy]string{store.EvictLeastRecentlySeen: "Evict", store.RefuseNew: "Refuse"}[l.Policy], func(t *testing.T) {
			is := is.New(t)
			user := fmt.Sprintf("user-%d", l.Policy)
			now := base.Add(time.Minute)
			const workers = 24
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				created int
			)
			for range workers {
				wg.Go(func() {
					_, err := s.CreateLimited(t.Context(), NewSession(user, now), l, now)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						created++
					case !errors.Is(err, store.ErrSessionLimit):
						t.Errorf("CreateLimited: %v", err)
					}
				})
			}
			wg.Wait()
			is.Equal(len(activeIDs(t, s, user, now)), l.Max)
			if l.Policy == store.RefuseNew {
				is.Equal(created, l.Max)
			} else {
				is.Equal(created, workers)
			}
		})
	}
}

func testLimitClosed(t *testing.T, s store.LimitedStore) {
	is := is.New(t)
	is.NoErr(s.Close())
	_, err := s.CreateLimited(t.Context(), NewSession("alice", base), evict3, base)
	is.True(errors.Is(err, store.ErrClosed))
}
