package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.RecordingStore = (*Store)(nil)

// outbox holds the messages of store.OutboxStore, by id. Lost with the
// process, like everything in this store.
type outbox map[string]store.OutboxMessage

// EnqueueOutbox implements store.OutboxStore.
func (s *Store) EnqueueOutbox(_ context.Context, msgs []store.OutboxMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if err := s.enqueuableLocked(msgs); err != nil {
		return err
	}
	s.enqueueLocked(msgs)
	return nil
}

// RevokeRecorded implements store.RecordingStore: the revocation and the
// messages under one lock.
func (s *Store) RevokeRecorded(_ context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	return s.revoke(sel, now, reason, msgs)
}

// CreateLimitedRecorded implements store.RecordingStore.
func (s *Store) CreateLimitedRecorded(_ context.Context, sess store.Session, l store.Limit, now time.Time, msgs []store.OutboxMessage) ([]string, error) {
	return s.createLimited(sess, l, now, msgs)
}

// enqueuableLocked returns ErrDuplicateMessage unless every id of msgs is
// new to the outbox and to msgs.
func (s *Store) enqueuableLocked(msgs []store.OutboxMessage) error {
	if err := store.CheckOutbox(msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		if _, dup := s.outbox[m.ID]; dup {
			return store.ErrDuplicateMessage
		}
	}
	return nil
}

// enqueueLocked stores msgs, which enqueuableLocked has accepted.
func (s *Store) enqueueLocked(msgs []store.OutboxMessage) {
	if s.outbox == nil && len(msgs) > 0 {
		s.outbox = outbox{}
	}
	for _, m := range msgs {
		m.Payload = slices.Clone(m.Payload)
		m.SessionIDs = slices.Clone(m.SessionIDs)
		s.outbox[m.ID] = m
	}
}

// LeaseOutbox implements store.OutboxStore. It scans the outbox, which a
// sender keeps short by delivering.
func (s *Store) LeaseOutbox(_ context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var due []store.OutboxMessage
	for _, m := range s.outbox {
		if !m.NextAttempt.After(now) {
			due = append(due, m)
		}
	}
	// The longest due first, as sqlitestore's index takes them.
	slices.SortFunc(due, func(a, b store.OutboxMessage) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(due) > n {
		due = due[:n]
	}
	store.SortOutbox(due)
	for i := range due {
		m := s.outbox[due[i].ID]
		m.NextAttempt = leaseUntil
		s.outbox[m.ID] = m
		due[i].Payload = slices.Clone(due[i].Payload)
		due[i].SessionIDs = slices.Clone(due[i].SessionIDs)
	}
	return due, nil
}

// AckOutbox implements store.OutboxStore.
func (s *Store) AckOutbox(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.outbox, id)
	return nil
}

// RetryOutbox implements store.OutboxStore.
func (s *Store) RetryOutbox(_ context.Context, id string, next time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	m, ok := s.outbox[id]
	if !ok {
		return store.ErrNotFound
	}
	m.Attempts++
	m.NextAttempt = next
	s.outbox[id] = m
	return nil
}
