package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// Recording runs the conformance tests of store.RecordingStore against the
// stores open returns, which it closes when each test ends. It pins:
//
//   - RevokeRecorded revokes as Revoke does and enqueues every message,
//     each carrying the ids it revoked; it enqueues nothing when it
//     revokes nothing, nor when it fails (an unknown session).
//   - A message id already in the outbox, or twice among the messages,
//     makes it fail with ErrDuplicateMessage having revoked nothing and
//     moved no not-before time: the revocation and its messages are one
//     step.
//   - CreateLimitedRecorded does the same for the sessions it evicts:
//     nothing enqueued without an eviction, nor when it stores nothing
//     (RefuseNew, a taken message id, which also evicts and stores
//     nothing).
//   - Both, after Close, return store.ErrClosed.
func Recording(t *testing.T, open func(t *testing.T) store.RecordingStore) {
	opened := func(t *testing.T) store.RecordingStore {
		t.Helper()
		return openStore(t, func(t *testing.T) store.SessionStore { return open(t) }).(store.RecordingStore)
	}
	t.Run("RevokeRecordsIDs", func(t *testing.T) { testRecordRevoke(t, opened(t)) })
	t.Run("RevokeNothingRecordsNothing", func(t *testing.T) { testRecordNothing(t, opened(t)) })
	t.Run("RevokeDuplicateChangesNothing", func(t *testing.T) { testRecordDuplicate(t, opened(t)) })
	t.Run("LimitRecordsEvicted", func(t *testing.T) { testRecordLimit(t, opened(t)) })
	t.Run("LimitDuplicateChangesNothing", func(t *testing.T) { testRecordLimitDuplicate(t, opened(t)) })
	t.Run("RecordClosed", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := s.RevokeRecorded(t.Context(), store.Selection{UserID: "alice"}, base, "r", recordMsgs("m"))
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("RevokeRecorded after Close: %v, want ErrClosed", err)
		}
		_, err = s.CreateLimitedRecorded(t.Context(), NewSession("alice", base), evict3, base, recordMsgs("m"))
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("CreateLimitedRecorded after Close: %v, want ErrClosed", err)
		}
	})
}

// recordMsgs returns a message for each id, to two destinations in turn.
func recordMsgs(ids ...string) []store.OutboxMessage {
	out := make([]store.OutboxMessage, len(ids))
	for i, id := range ids {
		out[i] = store.OutboxMessage{ID: id, Destination: []string{"r1", "r2"}[i%2], Payload: []byte("revoked " + id),
			CreatedAt: base, NextAttempt: base}
	}
	return out
}

// leaseAll leases every message due at base, sorted by id, with their
// session ids sorted.
func leaseAll(t *testing.T, s store.OutboxStore) []store.OutboxMessage {
	t.Helper()
	got, err := s.LeaseOutbox(t.Context(), base, base.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("LeaseOutbox: %v", err)
	}
	slices.SortFunc(got, func(a, b store.OutboxMessage) int { return strings.Compare(a.ID, b.ID) })
	for i := range got {
		got[i].SessionIDs = sorted(got[i].SessionIDs)
	}
	return got
}

func testRecordRevoke(t *testing.T, s store.RecordingStore) {
	is := is.New(t)
	ctx := t.Context()
	a1 := create(t, s, "alice", base)
	a2 := create(t, s, "alice", base)
	keep := create(t, s, "alice", base)
	create(t, s, "bob", base)

	ids, err := s.RevokeRecorded(ctx, store.Selection{UserID: "alice", ExceptID: keep.ID}, base, "signed out", recordMsgs("m1", "m2"))
	is.NoErr(err)
	want := sorted([]string{a1.ID, a2.ID})
	is.Equal(sorted(ids), want) // revoked as Revoke does
	is.Equal(get(t, s, a1.ID).RevokeReason, "signed out")
	is.True(isActive(t, s, keep.ID, base))

	got := leaseAll(t, s)
	is.Equal(len(got), 2) // both messages enqueued
	for i, m := range got {
		is.Equal(m.ID, []string{"m1", "m2"}[i])
		is.Equal(m.Destination, []string{"r1", "r2"}[i])
		is.Equal(string(m.Payload), "revoked "+m.ID)
		is.Equal(m.SessionIDs, want) // each carries the revoked ids
	}

	// One named session, with the not-before time moved by a revocation of all.
	ids, err = s.RevokeRecorded(ctx, store.Selection{UserID: "alice", NotBefore: base}, base, "everywhere", recordMsgs("m3"))
	is.NoErr(err)
	is.Equal(ids, []string{keep.ID})
	got = leaseAll(t, s)
	is.Equal(len(got), 1)
	is.Equal(got[0].SessionIDs, []string{keep.ID})
	err = s.Create(ctx, NewSession("alice", base)) // authenticated a second before base
	is.True(errors.Is(err, store.ErrNotBefore))    // the not-before time moved with it
}

func testRecordNothing(t *testing.T, s store.RecordingStore) {
	is := is.New(t)
	ctx := t.Context()
	a := create(t, s, "alice", base)
	_, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: a.ID}, base, "logout")
	is.NoErr(err)

	ids, err := s.RevokeRecorded(ctx, store.Selection{UserID: "alice", SessionID: a.ID}, base, "again", recordMsgs("m1"))
	is.NoErr(err)
	is.Equal(len(ids), 0) // already revoked
	ids, err = s.RevokeRecorded(ctx, store.Selection{UserID: "nobody"}, base, "none", recordMsgs("m2"))
	is.NoErr(err)
	is.Equal(len(ids), 0)
	_, err = s.RevokeRecorded(ctx, store.Selection{UserID: "alice", SessionID: "no-such-session"}, base, "none", recordMsgs("m3"))
	is.True(errors.Is(err, store.ErrNotFound))
	_, err = s.RevokeRecorded(ctx, store.Selection{}, base, "none", recordMsgs("m4"))
	is.True(errors.Is(err, store.ErrNoUser))

	is.Equal(len(leaseAll(t, s)), 0) // no revocation, no message

	// Without messages it is Revoke.
	b := create(t, s, "alice", base)
	ids, err = s.RevokeRecorded(ctx, store.Selection{UserID: "alice"}, base, "all", nil)
	is.NoErr(err)
	is.Equal(ids, []string{b.ID})
	is.Equal(len(leaseAll(t, s)), 0)
}

func testRecordDuplicate(t *testing.T, s store.RecordingStore) {
	is := is.New(t)
	ctx := t.Context()
	a := create(t, s, "alice", base)
	is.NoErr(s.EnqueueOutbox(ctx, recordMsgs("taken")))

	for _, msgs := range [][]store.OutboxMessage{
		recordMsgs("new", "taken"),
		{recordMsgs("twice")[0], recordMsgs("twice")[0]},
	} {
		_, err := s.RevokeRecorded(ctx, store.Selection{UserID: "alice", NotBefore: base}, base, "r", msgs)
		is.True(errors.Is(err, store.ErrDuplicateMessage))
		is.True(isActive(t, s, a.ID, base)) // nothing revoked
		_, err = s.RevokeRecorded(ctx, store.Selection{UserID: "alice", SessionID: a.ID}, base, "r", msgs)
		is.True(errors.Is(err, store.ErrDuplicateMessage))
		is.True(isActive(t, s, a.ID, base))
	}
	// The not-before time did not move either.
	is.NoErr(s.Create(ctx, NewSession("alice", base)))

	got := leaseAll(t, s)
	is.Equal(len(got), 1) // the outbox is as it was
	is.Equal(got[0].ID, "taken")
	is.Equal(len(got[0].SessionIDs), 0)
}

func testRecordLimit(t *testing.T, s store.RecordingStore) {
	is := is.New(t)
	ctx := t.Context()
	var made []store.Session
	for i := range 3 {
		sess := NewSession("alice", base)
		sess.LastSeenAt = base.Add(time.Duration(i) * time.Second)
		ids, err := s.CreateLimitedRecorded(ctx, sess, evict3, base, recordMsgs("fill"+string(rune('0'+i))))
		is.NoErr(err)
		is.Equal(len(ids), 0) // room left: nothing evicted
		made = append(made, sess)
	}
	is.Equal(len(leaseAll(t, s)), 0) // and nothing recorded

	ids, err := s.CreateLimitedRecorded(ctx, NewSession("alice", base), evict3, base, recordMsgs("m1", "m2"))
	is.NoErr(err)
	is.Equal(ids, []string{made[0].ID}) // the least recently seen
	is.True(!isActive(t, s, made[0].ID, base))
	got := leaseAll(t, s)
	is.Equal(len(got), 2)
	for _, m := range got {
		is.Equal(m.SessionIDs, []string{made[0].ID})
	}

	_, err = s.CreateLimitedRecorded(ctx, NewSession("alice", base), refuse3, base, recordMsgs("m3"))
	is.True(errors.Is(err, store.ErrSessionLimit))
	is.Equal(len(leaseAll(t, s)), 0) // refused: nothing recorded
}

func testRecordLimitDuplicate(t *testing.T, s store.RecordingStore) {
	is := is.New(t)
	ctx := t.Context()
	one := store.Limit{Max: 1, Policy: store.EvictLeastRecentlySeen, Reason: "session_limit"}
	old := create(t, s, "alice", base)
	is.NoErr(s.EnqueueOutbox(ctx, recordMsgs("taken")))

	sess := NewSession("alice", base)
	_, err := s.CreateLimitedRecorded(ctx, sess, one, base, recordMsgs("new", "taken"))
	is.True(errors.Is(err, store.ErrDuplicateMessage))
	is.True(isActive(t, s, old.ID, base)) // nothing evicted
	_, err = s.Get(ctx, sess.ID)
	is.True(errors.Is(err, store.ErrNotFound)) // nothing stored
	got := leaseAll(t, s)
	is.Equal(len(got), 1)
	is.Equal(got[0].ID, "taken")
}

// isActive reports whether the session id is active at now.
func isActive(t *testing.T, s store.SessionStore, id string, now time.Time) bool {
	t.Helper()
	sess := get(t, s, id)
	return sess.Active(now)
}
