package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// pageTests check ListPage (see the package doc for what they pin).
var pageTests = []struct {
	name string
	fn   func(*testing.T, store.SessionStore)
}{
	{"ListPageAll", testListPageAll},
	{"ListPageActive", testListPageActive},
	{"ListPageStable", testListPageStable},
	{"ListPageAnyPosition", testListPageAnyPosition},
	{"ListPageEmpty", testListPageEmpty},
	{"ListPageBadQuery", testListPageBadQuery},
	{"ListPageCopies", testListPageCopies},
	{"ListPageClosed", testListPageClosed},
	{"ListPageAfterUpdate", testListPageAfterUpdate},
	{"ListPageAfterCleanup", testListPageAfterCleanup},
	{"ListPageConcurrent", testListPageConcurrent},
}

// walk lists every page of q for user and returns the sessions in the order
// listed, checking each page's size and Next on the way.
func walk(t *testing.T, s store.SessionStore, user string, q store.PageQuery) []store.Session {
	t.Helper()
	var out []store.Session
	for range 10_000 {
		p, err := s.ListPage(t.Context(), user, q)
		if err != nil {
			t.Fatalf("ListPage(%q, %+v): %v", user, q, err)
		}
		if len(p.Sessions) > q.Limit {
			t.Fatalf("ListPage(%q, limit %d) listed %d sessions", user, q.Limit, len(p.Sessions))
		}
		out = append(out, p.Sessions...)
		if p.Next.IsZero() {
			return out
		}
		if len(p.Sessions) != q.Limit {
			t.Fatalf("a page with a Next holds %d sessions, not its limit %d", len(p.Sessions), q.Limit)
		}
		if last := store.CursorOf(p.Sessions[len(p.Sessions)-1]); p.Next.Compare(last) != 0 {
			t.Fatalf("Next is %+v, not the position of the page's last session %+v", p.Next, last)
		}
		q.After = p.Next
	}
	t.Fatal("ListPage never reached a last page")
	return nil
}

// inOrder returns sessions sorted in listing order (store.Cursor's).
func inOrder(sessions ...store.Session) []store.Session {
	out := slices.Clone(sessions)
	slices.SortFunc(out, func(a, b store.Session) int { return store.CursorOf(a).Compare(store.CursorOf(b)) })
	return out
}

// samePages fails unless got lists exactly want, in that order, every field
// as stored.
func samePages(t *testing.T, got, want []store.Session) {
	t.Helper()
	ids := func(ss []store.Session) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d sessions %v, want %d %v", len(got), ids(got), len(want), ids(want))
	}
	for i := range want {
		if d := diff(got[i], want[i]); d != "" {
			t.Fatalf("session %d of %v: %s (want order %v)", i, ids(got), d, ids(want))
		}
	}
}

// withID gives a session a chosen id, to pin the order among equal times.
func withID(id string) func(*store.Session) { return func(s *store.Session) { s.ID = id } }

func testListPageAll(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	// Created out of order, with three at the same time, so that neither
	// insertion order nor time alone is the answer.
	var alice []store.Session
	add := func(at time.Time, edit ...func(*store.Session)) store.Session {
		sess := create(t, s, "alice", at, edit...)
		alice = append(alice, sess)
		return sess
	}
	add(base.Add(2 * time.Minute))
	add(base.Add(time.Minute), withID("tie-b"))
	add(base, func(x *store.Session) { // long expired
		x.ExpiresAt, x.IdleExpiresAt = base.Add(time.Second), base.Add(time.Second)
	})
	add(base.Add(time.Minute), withID("tie-c"))
	add(base.Add(time.Minute), withID("tie-a"))
	revoked := add(base.Add(3 * time.Minute))
	add(base.Add(time.Minute + time.Microsecond))
	create(t, s, "bob", base.Add(time.Minute))

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: revoked.ID}, base.Add(4*time.Minute), "test")
	if err != nil || len(ids) != 1 {
		t.Fatalf("Revoke: %v %v", ids, err)
	}
	alice[5].RevokedAt, alice[5].RevokeReason = base.Add(4*time.Minute), "test"

	want := inOrder(alice...)
	for _, limit := range []int{1, 2, 3, len(want) - 1, len(want), len(want) + 1, store.MaxPageLimit} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			samePages(t, walk(t, s, "alice", store.PageQuery{Limit: limit, All: true}), want)
		})
	}
	// Now does not filter a listing of all sessions.
	samePages(t, walk(t, s, "alice", store.PageQuery{Limit: 3, All: true, Now: base.Add(100 * time.Hour)}), want)

	p, err := s.ListPage(ctx, "alice", store.PageQuery{Limit: len(want), All: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Next.IsZero() {
		t.Fatalf("a full last page has Next %+v", p.Next)
	}
}

func testListPageActive(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	now := base.Add(2 * time.Hour)
	expiresAt := func(abs, idle time.Time) func(*store.Session) {
		return func(x *store.Session) { x.ExpiresAt, x.IdleExpiresAt = abs, idle }
	}
	later := now.Add(time.Hour)

	var active []store.Session
	for i, at := range []time.Time{now.Add(-time.Minute), now.Add(-3 * time.Minute), now.Add(-2 * time.Minute), now.Add(-2 * time.Minute)} {
		active = append(active, create(t, s, "alice", at, expiresAt(later, later), withID(fmt.Sprintf("active-%d", i))))
	}
	// Inactive at now in every way there is, several of them newer than
	// the active ones.
	create(t, s, "alice", now.Add(-30*time.Second), expiresAt(now.Add(-time.Second), later))   // absolutely expired
	create(t, s, "alice", now.Add(-20*time.Second), expiresAt(later, now.Add(-time.Second)))   // idle expired
	create(t, s, "alice", now.Add(-10*time.Second), expiresAt(now, later))                     // expired at now exactly
	create(t, s, "alice", now.Add(-5*time.Second), expiresAt(later, now))                      // idle expired at now exactly
	create(t, s, "alice", now.Add(-4*time.Second), expiresAt(now, later.Add(time.Hour)))       // idle expiry past the absolute one
	revoked := create(t, s, "alice", now.Add(-time.Second), expiresAt(later, later))           // revoked below
	create(t, s, "alice", now.Add(-time.Millisecond), expiresAt(later, later), revokedAt(now)) // created revoked
	create(t, s, "bob", now.Add(-time.Minute), expiresAt(later, later))
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: revoked.ID}, now.Add(-time.Millisecond), "test")
	is.NoErr(err)
	is.Equal(ids, []string{revoked.ID})

	want := inOrder(active...)
	for _, limit := range []int{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			samePages(t, walk(t, s, "alice", store.PageQuery{Limit: limit, Now: now}), want)
		})
	}
	// At other times, the sessions active then, which is what
	// Session.Active says of them.
	stored := walk(t, s, "alice", store.PageQuery{Limit: 100, All: true})
	is.Equal(len(stored), 11)
	for _, at := range []time.Time{now.Add(-25 * time.Second), now.Add(-time.Second), now.Add(-time.Microsecond), later.Add(-time.Microsecond), later} {
		var want []store.Session
		for _, x := range stored {
			if x.Active(at) {
				want = append(want, x)
			}
		}
		samePages(t, walk(t, s, "alice", store.PageQuery{Limit: 2, Now: at}), want)
	}
}

// revokedAt makes a session created already revoked.
func revokedAt(t time.Time) func(*store.Session) {
	return func(x *store.Session) { x.RevokedAt, x.RevokeReason = t, "imported" }
}

func testListPageStable(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	now := base.Add(10 * time.Minute)
	for _, all := range []bool{true, false} {
		t.Run(fmt.Sprint("all ", all), func(t *testing.T) {
			is := is.New(t)
			user := fmt.Sprint("alice-", all)
			var sessions []store.Session
			for i := range 6 {
				sessions = append(sessions, create(t, s, user, base.Add(time.Duration(i)*time.Minute)))
			}
			sessions = inOrder(sessions...)
			q := store.PageQuery{Limit: 2, All: all, Now: now}
			first, err := s.ListPage(ctx, user, q)
			is.NoErr(err)
			samePages(t, first.Sessions, sessions[:2])

			// Between pages: a newer session and one revoked further on.
			create(t, s, user, base.Add(time.Hour))
			victim := sessions[3]
			_, err = s.Revoke(ctx, store.Selection{UserID: user, SessionID: victim.ID}, now, "between pages")
			is.NoErr(err)
			q.After = first.Next
			var want []store.Session
			for _, x := range sessions[2:] {
				if x.ID == victim.ID {
					if !all {
						continue // no longer active
					}
					x = get(t, s, x.ID)
				}
				want = append(want, x)
			}
			samePages(t, walk(t, s, user, q), want)
		})
	}
}

func testListPageAnyPosition(t *testing.T, s store.SessionStore) {
	var sessions []store.Session
	for _, id := range []string{"m-1", "m-3", "m-5"} {
		sessions = append(sessions, create(t, s, "alice", base, withID(id)))
	}
	newer := create(t, s, "alice", base.Add(time.Minute))
	older := create(t, s, "alice", base.Add(-time.Minute))
	for _, c := range []struct {
		name  string
		after store.Cursor
		want  []store.Session
	}{
		{"between two ids of one time", store.Cursor{CreatedAt: base, ID: "m-4"}, []store.Session{sessions[1], sessions[0], older}},
		{"between two times", store.Cursor{CreatedAt: base.Add(time.Second), ID: "zzz"}, inOrder(sessions[0], sessions[1], sessions[2], older)},
		{"newer than all", store.Cursor{CreatedAt: base.Add(time.Hour), ID: "a"}, inOrder(newer, sessions[0], sessions[1], sessions[2], older)},
		{"older than all", store.Cursor{CreatedAt: base.Add(-time.Hour), ID: "a"}, nil},
		{"the time in another zone", store.Cursor{CreatedAt: base.UTC(), ID: "m-2"}, []store.Session{sessions[0], older}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, all := range []bool{true, false} {
				samePages(t, walk(t, s, "alice", store.PageQuery{Limit: 2, All: all, Now: base, After: c.after}), c.want)
			}
		})
	}
}

func testListPageEmpty(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	gone := create(t, s, "carol", base)
	_, err := s.Revoke(ctx, store.Selection{UserID: "carol"}, base.Add(time.Minute), "test")
	is.NoErr(err)
	create(t, s, "alice", base)

	for _, q := range []store.PageQuery{{Limit: 1, All: true}, {Limit: 10, Now: base}} {
		p, err := s.ListPage(ctx, "nobody", q)
		is.NoErr(err) // an unknown user is no error
		is.Equal(len(p.Sessions), 0)
		is.True(p.Next.IsZero())
	}
	// A user whose sessions are all revoked has no active page, but the
	// store still holds them: a page of one answers "known".
	p, err := s.ListPage(ctx, "carol", store.PageQuery{Limit: 10, Now: base.Add(time.Minute)})
	is.NoErr(err)
	is.Equal(len(p.Sessions), 0)
	is.True(p.Next.IsZero())
	p, err = s.ListPage(ctx, "carol", store.PageQuery{Limit: 1, All: true})
	is.NoErr(err)
	is.Equal(len(p.Sessions), 1)
	is.Equal(p.Sessions[0].ID, gone.ID)
	is.True(p.Next.IsZero())
}

func testListPageBadQuery(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	create(t, s, "alice", base)
	for _, q := range []store.PageQuery{
		{Limit: 0, All: true},
		{Limit: -1, Now: base},
		{Limit: store.MaxPageLimit + 1, All: true},
		{Limit: 10}, // active at no time
	} {
		p, err := s.ListPage(t.Context(), "alice", q)
		is.True(errors.Is(err, store.ErrBadPageQuery)) // Check's error
		is.Equal(len(p.Sessions), 0)
	}
}

func testListPageCopies(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()
	sess := create(t, s, "alice", base, func(x *store.Session) { x.Data = []byte("payload") })
	for _, all := range []bool{true, false} {
		p, err := s.ListPage(ctx, "alice", store.PageQuery{Limit: 1, All: all, Now: base})
		is.NoErr(err)
		is.Equal(len(p.Sessions), 1)
		p.Sessions[0].Data[0] ^= 0xff
	}
	got := get(t, s, sess.ID)
	is.Equal(string(got.Data), "payload") // the store handed out no slice of its own
}

func testListPageClosed(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	create(t, s, "alice", base)
	is.NoErr(s.Close())
	for _, q := range []store.PageQuery{{Limit: 1, All: true}, {Limit: 1, Now: base}} {
		_, err := s.ListPage(t.Context(), "alice", q)
		is.True(errors.Is(err, store.ErrClosed))
	}
}

func testListPageAfterUpdate(t *testing.T, s store.SessionStore) {
	ds, ok := s.(store.DataStore)
	if !ok {
		t.Skip("not a store.DataStore")
	}
	is := is.New(t)
	ctx := t.Context()
	moved := create(t, s, "", base)
	stays := create(t, s, "alice", base.Add(time.Second))
	u := store.Update{UserID: "alice", Data: []byte("d"), ExpiresAt: moved.ExpiresAt, IdleExpiresAt: moved.IdleExpiresAt}
	is.NoErr(ds.Update(ctx, moved.ID, u, base.Add(time.Minute)))
	moved = get(t, s, moved.ID)
	for _, all := range []bool{true, false} {
		q := store.PageQuery{Limit: 1, All: all, Now: base.Add(time.Minute)}
		samePages(t, walk(t, s, "alice", q), []store.Session{stays, moved})
		samePages(t, walk(t, s, "", q), nil)
	}

	// And away again, to another user.
	u.UserID = "bob"
	is.NoErr(ds.Update(ctx, moved.ID, u, base.Add(2*time.Minute)))
	moved = get(t, s, moved.ID)
	for _, all := range []bool{true, false} {
		q := store.PageQuery{Limit: 1, All: all, Now: base.Add(2 * time.Minute)}
		samePages(t, walk(t, s, "alice", q), []store.Session{stays})
		samePages(t, walk(t, s, "bob", q), []store.Session{moved})
	}
}

func testListPageAfterCleanup(t *testing.T, s store.SessionStore) {
	c, ok := s.(store.Cleaner)
	if !ok {
		t.Skip("not a store.Cleaner")
	}
	is := is.New(t)
	ctx := t.Context()
	var kept []store.Session
	for i := range 9 {
		at := base.Add(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			kept = append(kept, create(t, s, "alice", at, func(x *store.Session) { x.ExpiresAt, x.IdleExpiresAt = base.Add(time.Hour), base.Add(time.Hour) }))
			continue
		}
		create(t, s, "alice", at, func(x *store.Session) { x.ExpiresAt, x.IdleExpiresAt = at.Add(time.Second), at.Add(time.Second) })
	}
	n, err := c.DeleteBefore(ctx, base.Add(30*time.Minute))
	is.NoErr(err)
	is.Equal(n, 6)
	want := inOrder(kept...)
	samePages(t, walk(t, s, "alice", store.PageQuery{Limit: 2, All: true}), want)
	samePages(t, walk(t, s, "alice", store.PageQuery{Limit: 2, Now: base.Add(30 * time.Minute)}), want)
}

// testListPageConcurrent pages through one user's sessions while others
// create and revoke them: every walk is in order, lists no session twice
// and, without All, only active ones.
func testListPageConcurrent(t *testing.T, s store.SessionStore) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	const seeded, writers = 20, workers / 2
	for i := range seeded {
		create(t, s, "carol", base.Add(time.Duration(i)*time.Second))
	}
	var writing, reading sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		writing.Go(func() {
			for r := range rounds {
				sess := NewSession("carol", base.Add(time.Duration(w*rounds+r)*time.Millisecond))
				if err := s.Create(ctx, sess); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				if r%2 == 0 {
					if _, err := s.Revoke(ctx, store.Selection{UserID: "carol", SessionID: sess.ID}, now, "race"); err != nil {
						t.Errorf("Revoke: %v", err)
						return
					}
				}
			}
		})
	}
	for range workers - writers {
		reading.Go(func() {
			for {
				for _, all := range []bool{true, false} {
					if err := checkWalk(ctx, s, "carol", store.PageQuery{Limit: 3, All: all, Now: now}); err != nil {
						t.Error(err)
						return
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	writing.Wait()
	close(done)
	reading.Wait()
	if n := len(walk(t, s, "carol", store.PageQuery{Limit: 7, All: true})); n != seeded+writers*rounds {
		t.Fatalf("listed %d sessions, want %d", n, seeded+writers*rounds)
	}
}

// checkWalk pages through q and reports a session listed twice or out of
// order, or an inactive one on an active page.
func checkWalk(ctx context.Context, s store.SessionStore, user string, q store.PageQuery) error {
	seen := map[string]bool{}
	var last store.Cursor
	for {
		p, err := s.ListPage(ctx, user, q)
		if err != nil {
			return fmt.Errorf("ListPage: %w", err)
		}
		for _, x := range p.Sessions {
			c := store.CursorOf(x)
			switch {
			case seen[x.ID]:
				return fmt.Errorf("session %s listed twice", x.ID)
			case len(seen) > 0 && last.Compare(c) >= 0:
				return fmt.Errorf("session %s listed out of order", x.ID)
			case !q.All && !x.Active(q.Now):
				return fmt.Errorf("inactive session %s on an active page", x.ID)
			}
			seen[x.ID], last = true, c
		}
		if p.Next.IsZero() {
			return nil
		}
		q.After = p.Next
	}
}
