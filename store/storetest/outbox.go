package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// Outbox runs the conformance tests of store.OutboxStore against the
// stores open returns. It is separate from Run because the outbox is
// optional.
func Outbox(t *testing.T, open func(t *testing.T) store.OutboxStore) {
	t.Run("EnqueueLeaseAck", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		msgs := []store.OutboxMessage{
			{ID: "b", Destination: "r1", Payload: []byte("second"), CreatedAt: now.Add(time.Second), NextAttempt: now},
			{ID: "a", Destination: "r1", Payload: []byte("first"), CreatedAt: now, NextAttempt: now, SessionIDs: []string{"s1", "s2"}},
			{ID: "later", Destination: "r2", Payload: []byte("later"), CreatedAt: now, NextAttempt: now.Add(time.Hour)},
		}
		if err := st.EnqueueOutbox(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		got, err := st.LeaseOutbox(ctx, now, now.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || string(got[0].Payload) != "first" || got[0].Destination != "r1" {
			t.Fatalf("leased %+v, want a then b", got)
		}
		if ids := sorted(got[0].SessionIDs); !slices.Equal(ids, []string{"s1", "s2"}) || len(got[1].SessionIDs) != 0 {
			t.Fatalf("session ids %v and %v, want [s1 s2] and none", ids, got[1].SessionIDs)
		}
		// Leased: not due again until the lease ends.
		if again, err := st.LeaseOutbox(ctx, now.Add(30*time.Second), now.Add(time.Hour), 10); err != nil || len(again) != 0 {
			t.Fatalf("leased again during the lease: %v %v", again, err)
		}
		if err := st.AckOutbox(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := st.AckOutbox(ctx, "a"); err != nil {
			t.Fatalf("ack twice: %v", err)
		}
		// The lease of b ended without an ack: it is taken again.
		again, err := st.LeaseOutbox(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 10)
		if err != nil || len(again) != 1 || again[0].ID != "b" {
			t.Fatalf("after the lease: %+v %v, want b", again, err)
		}
	})
	t.Run("LeaseLimit", func(t *testing.T) {
		st := open(t)
		now := time.Unix(1_700_000_000, 0)
		var msgs []store.OutboxMessage
		for i := range 5 {
			msgs = append(msgs, store.OutboxMessage{ID: string(rune('a' + i)), Payload: []byte{1}, CreatedAt: now.Add(time.Duration(i)), NextAttempt: now})
		}
		if err := st.EnqueueOutbox(t.Context(), msgs); err != nil {
			t.Fatal(err)
		}
		got, err := st.LeaseOutbox(t.Context(), now, now.Add(time.Minute), 3)
		if err != nil || len(got) != 3 {
			t.Fatalf("leased %d (%v), want 3", len(got), err)
		}
		rest, err := st.LeaseOutbox(t.Context(), now, now.Add(time.Minute), 10)
		if err != nil || len(rest) != 2 {
			t.Fatalf("then leased %d (%v), want 2", len(rest), err)
		}
	})
	t.Run("Retry", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		if err := st.EnqueueOutbox(ctx, []store.OutboxMessage{{ID: "m", Payload: []byte("x"), CreatedAt: now, NextAttempt: now}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.LeaseOutbox(ctx, now, now.Add(time.Minute), 1); err != nil {
			t.Fatal(err)
		}
		if err := st.RetryOutbox(ctx, "m", now.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.LeaseOutbox(ctx, now.Add(9*time.Second), now.Add(time.Hour), 1); len(got) != 0 {
			t.Fatalf("due before its retry time: %+v", got)
		}
		got, err := st.LeaseOutbox(ctx, now.Add(10*time.Second), now.Add(time.Hour), 1)
		if err != nil || len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("at its retry time: %+v %v, want one with 1 attempt", got, err)
		}
		if err := st.RetryOutbox(ctx, "unknown", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retry of an unknown id: %v, want ErrNotFound", err)
		}
	})
	t.Run("DuplicateStoresNothing", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		if err := st.EnqueueOutbox(ctx, []store.OutboxMessage{{ID: "m", Payload: []byte("x"), CreatedAt: now, NextAttempt: now}}); err != nil {
			t.Fatal(err)
		}
		err := st.EnqueueOutbox(ctx, []store.OutboxMessage{
			{ID: "new", Payload: []byte("y"), CreatedAt: now, NextAttempt: now},
			{ID: "m", Payload: []byte("z"), CreatedAt: now, NextAttempt: now},
		})
		if !errors.Is(err, store.ErrDuplicateMessage) {
			t.Fatalf("duplicate id: %v, want ErrDuplicateMessage", err)
		}
		got, _ := st.LeaseOutbox(ctx, now, now.Add(time.Minute), 10)
		if len(got) != 1 || got[0].ID != "m" || string(got[0].Payload) != "x" {
			t.Fatalf("after a refused batch: %+v, want m alone, unchanged", got)
		}
	})
}
