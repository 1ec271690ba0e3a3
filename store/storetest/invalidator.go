package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// runInvalidatorTests checks store.Invalidator on a store that implements
// it, and skips otherwise. The suite pins:
//
//   - every write that ends or changes a session other than a Touch
//     (Revoke in each scope, ReplaceToken, DataStore.Update,
//     LimitedStore.CreateLimited's evictions, SignInStore.Reauthenticate)
//     delivers an invalidation naming the session to every listener;
//   - a Barrier or a Send made after a write returned is delivered after
//     that write's invalidation; a Barrier reaches every listener, a Send
//     only its target;
//   - Barrier returns each live lease once, with at most its duration
//     left; RenewLease never shortens a lease; a dropped or lapsed lease
//     is not returned;
//   - names outside store.CheckInstanceName are refused;
//   - Listen returns once its context ends.
func runInvalidatorTests(t *testing.T, open func(*testing.T) store.SessionStore) {
	t.Run("Invalidator", func(t *testing.T) {
		if _, ok := openStore(t, open).(store.Invalidator); !ok {
			t.Skip("the store does not implement store.Invalidator")
		}
		tests := []struct {
			name string
			fn   func(*testing.T, store.Invalidator)
		}{
			{"WritesInvalidate", testWritesInvalidate},
			{"BarrierAfterWrite", testBarrierAfterWrite},
			{"SendReachesOnlyItsTarget", testSendReachesOnlyItsTarget},
			{"Leases", testLeases},
			{"LeaseLapses", testLeaseLapses},
			{"NamesChecked", testInstanceNamesChecked},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.fn(t, openStore(t, open).(store.Invalidator))
			})
		}
	})
}

// noticeLog is a NoticeHandler that keeps what it is given.
type noticeLog struct {
	mu        sync.Mutex
	notices   []store.Notice
	listening int
	changed   chan struct{}
}

func newNoticeLog() *noticeLog { return &noticeLog{changed: make(chan struct{}, 1)} }

func (l *noticeLog) Listening() { l.update(func() { l.listening++ }) }
func (l *noticeLog) Lost(error) {}
func (l *noticeLog) Notice(n store.Notice) {
	l.update(func() { l.notices = append(l.notices, n) })
}

func (l *noticeLog) update(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until ok holds for the log's notices, and fails the test
// after a generous while.
func (l *noticeLog) waitFor(t *testing.T, what string, ok func(listening int, ns []store.Notice) bool) []store.Notice {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		done, ns := ok(l.listening, l.notices), slices.Clone(l.notices)
		l.mu.Unlock()
		if done {
			return ns
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("waiting for %s; have %+v", what, ns)
		}
	}
}

// listen starts instance listening on inv until the test ends, and waits
// until it listens.
func listen(t *testing.T, inv store.Invalidator, instance string) *noticeLog {
	t.Helper()
	l := newNoticeLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Listen(ctx, instance, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Listen(%s) returned %v, want context.Canceled", instance, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Listen(%s) did not return after its context ended", instance)
		}
	})
	l.waitFor(t, instance+" listening", func(n int, _ []store.Notice) bool { return n > 0 })
	return l
}

// invalidated returns the session ids of the invalidations in ns.
func invalidated(ns []store.Notice) []string {
	var ids []string
	for _, n := range ns {
		if n.Kind == store.NoticeInvalidated {
			ids = append(ids, n.SessionID)
		}
	}
	return ids
}

// hasNotice reports whether ns holds a notice of kind from with id.
func hasNotice(ns []store.Notice, kind store.NoticeKind, from, id string) bool {
	return slices.ContainsFunc(ns, func(n store.Notice) bool { return n.Kind == kind && n.From == from && n.ID == id })
}

func testWritesInvalidate(t *testing.T, inv store.Invalidator) {
	ctx := t.Context()
	a, b := listen(t, inv, "instance-a"), listen(t, inv, "instance-b")
	now := base
	var want []string
	wrote := func(ids ...string) { want = append(want, ids...) }

	one := create(t, inv, "alice", now)
	if _, err := inv.Revoke(ctx, store.Selection{UserID: "alice", SessionID: one.ID}, now, "one"); err != nil {
		t.Fatal(err)
	}
	wrote(one.ID)
	keep, other := create(t, inv, "alice", now), create(t, inv, "alice", now)
	if _, err := inv.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: keep.ID}, now, "others"); err != nil {
		t.Fatal(err)
	}
	wrote(other.ID)
	if _, err := inv.Revoke(ctx, store.Selection{UserID: "alice", NotBefore: now}, now, "all"); err != nil {
		t.Fatal(err)
	}
	wrote(keep.ID)
	renewed := create(t, inv, "bob", now)
	if err := inv.ReplaceToken(ctx, renewed.ID, NewTokenHash(), now); err != nil {
		t.Fatal(err)
	}
	wrote(renewed.ID)
	if ds, ok := inv.(store.DataStore); ok {
		s := create(t, inv, "", now)
		if err := ds.Update(ctx, s.ID, store.Update{UserID: "carol", Data: []byte("x"), ExpiresAt: s.ExpiresAt, IdleExpiresAt: s.IdleExpiresAt}, now); err != nil {
			t.Fatal(err)
		}
		wrote(s.ID)
	}
	if ls, ok := inv.(store.LimitedStore); ok {
		old := create(t, inv, "dave", now)
		evicted, err := ls.CreateLimited(ctx, NewSession("dave", now.Add(time.Second)), store.Limit{Max: 1, Policy: store.EvictLeastRecentlySeen, Reason: "cap"}, now.Add(time.Second))
		if err != nil || !slices.Equal(evicted, []string{old.ID}) {
			t.Fatalf("CreateLimited evicted %v, %v; want %s", evicted, err, old.ID)
		}
		wrote(old.ID)
	}
	if ss, ok := inv.(store.SignInStore); ok {
		s := create(t, inv, "erin", now)
		if err := ss.Reauthenticate(ctx, s.ID, NewTokenHash(), now, []store.AuthMethod{{Method: "password", AAL: "aal1", CompletedAt: now}}, now); err != nil {
			t.Fatal(err)
		}
		wrote(s.ID)
	}
	for _, l := range []*noticeLog{a, b} {
		l.waitFor(t, "an invalidation of every write", func(_ int, ns []store.Notice) bool {
			got := invalidated(ns)
			return !slices.ContainsFunc(want, func(id string) bool { return !slices.Contains(got, id) })
		})
	}
}

func testBarrierAfterWrite(t *testing.T, inv store.Invalidator) {
	ctx := t.Context()
	a, b := listen(t, inv, "instance-a"), listen(t, inv, "instance-b")
	for i := range 20 {
		s := create(t, inv, "alice", base)
		if _, err := inv.Revoke(ctx, store.Selection{UserID: "alice", SessionID: s.ID}, base, "test"); err != nil {
			t.Fatal(err)
		}
		id := "barrier-" + strings.Repeat("x", i)
		if _, err := inv.Barrier(ctx, "instance-a", id); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*noticeLog{a, b} {
			ns := l.waitFor(t, "barrier "+id, func(_ int, ns []store.Notice) bool {
				return hasNotice(ns, store.NoticeBarrier, "instance-a", id)
			})
			at := slices.IndexFunc(ns, func(n store.Notice) bool { return n.Kind == store.NoticeBarrier && n.ID == id })
			if !slices.Contains(invalidated(ns[:at]), s.ID) {
				t.Fatalf("barrier %s delivered before the invalidation of %s: %+v", id, s.ID, ns)
			}
		}
	}
}

func testSendReachesOnlyItsTarget(t *testing.T, inv store.Invalidator) {
	ctx := t.Context()
	a, b := listen(t, inv, "instance-a"), listen(t, inv, "instance-b")
	s := create(t, inv, "alice", base)
	if _, err := inv.Revoke(ctx, store.Selection{UserID: "alice"}, base, "test"); err != nil {
		t.Fatal(err)
	}
	if err := inv.Send(ctx, "instance-b", store.Notice{Kind: store.NoticeSent, From: "instance-a", ID: "ack-1"}); err != nil {
		t.Fatal(err)
	}
	ns := b.waitFor(t, "the sent notice", func(_ int, ns []store.Notice) bool {
		return hasNotice(ns, store.NoticeSent, "instance-a", "ack-1")
	})
	at := slices.IndexFunc(ns, func(n store.Notice) bool { return n.Kind == store.NoticeSent })
	if !slices.Contains(invalidated(ns[:at]), s.ID) {
		t.Fatalf("sent notice delivered before the earlier invalidation: %+v", ns)
	}
	// a sees the same write's invalidation, and then a barrier, but never b's notice.
	if _, err := inv.Barrier(ctx, "instance-b", "after"); err != nil {
		t.Fatal(err)
	}
	ns = a.waitFor(t, "the barrier", func(_ int, ns []store.Notice) bool {
		return hasNotice(ns, store.NoticeBarrier, "instance-b", "after")
	})
	if hasNotice(ns, store.NoticeSent, "instance-a", "ack-1") {
		t.Fatalf("a notice sent to instance-b reached instance-a: %+v", ns)
	}
}

// leases returns the leases a barrier finds, by instance.
func leases(t *testing.T, inv store.Invalidator) map[string]time.Duration {
	t.Helper()
	ls, err := inv.Barrier(t.Context(), "probe", store.NewID())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]time.Duration, len(ls))
	for _, l := range ls {
		if _, dup := out[l.Instance]; dup {
			t.Fatalf("lease of %s returned twice: %+v", l.Instance, ls)
		}
		out[l.Instance] = l.Left
	}
	return out
}

func testLeases(t *testing.T, inv store.Invalidator) {
	ctx := t.Context()
	if got := leases(t, inv); len(got) != 0 {
		t.Fatalf("leases of a new store: %v", got)
	}
	if err := inv.RenewLease(ctx, "instance-a", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := inv.RenewLease(ctx, "instance-b", time.Hour); err != nil {
		t.Fatal(err)
	}
	got := leases(t, inv)
	if len(got) != 2 || got["instance-a"] <= 50*time.Minute || got["instance-a"] > time.Hour {
		t.Fatalf("leases %v, want instance-a and instance-b with under an hour left", got)
	}
	// A shorter renewal keeps the longer lease.
	if err := inv.RenewLease(ctx, "instance-a", time.Second); err != nil {
		t.Fatal(err)
	}
	if left := leases(t, inv)["instance-a"]; left <= 50*time.Minute {
		t.Fatalf("a shorter renewal shortened the lease to %v", left)
	}
	if err := inv.DropLease(ctx, "instance-a"); err != nil {
		t.Fatal(err)
	}
	if got := leases(t, inv); len(got) != 1 || got["instance-b"] == 0 {
		t.Fatalf("leases after dropping instance-a: %v", got)
	}
	if err := inv.DropLease(ctx, "never-leased"); err != nil {
		t.Fatalf("dropping an unknown lease: %v", err)
	}
}

func testLeaseLapses(t *testing.T, inv store.Invalidator) {
	if err := inv.RenewLease(t.Context(), "short", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Lapsed by the store's clock however slowly the test runs: it only
	// waits longer than the lease.
	time.Sleep(300 * time.Millisecond)
	if left, ok := leases(t, inv)["short"]; ok {
		t.Fatalf("a lapsed lease is still returned, with %v left", left)
	}
}

func testInstanceNamesChecked(t *testing.T, inv store.Invalidator) {
	ctx := t.Context()
	for _, name := range []string{"", "has space", "new\nline", strings.Repeat("x", store.MaxInstanceName+1), "caf\u00e9"} {
		if err := inv.RenewLease(ctx, name, time.Second); err == nil {
			t.Errorf("RenewLease(%q) accepted the name", name)
		}
		if _, err := inv.Barrier(ctx, name, "id"); err == nil {
			t.Errorf("Barrier(%q) accepted the name", name)
		}
		if _, err := inv.Barrier(ctx, "a", name); err == nil {
			t.Errorf("Barrier with the id %q accepted it", name)
		}
		if err := inv.Send(ctx, name, store.Notice{Kind: store.NoticeSent, From: "a", ID: "id"}); err == nil {
			t.Errorf("Send(%q) accepted the name", name)
		}
		if err := inv.Listen(ctx, name, newNoticeLog()); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Listen(%q) = %v, want an error for the name", name, err)
		}
	}
}
