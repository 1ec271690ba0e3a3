package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.OutboxStore = (*Store)(nil)

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
	if s.outbox == nil {
		s.outbox = outbox{}
	}
	for i, m := range msgs {
		if _, dup := s.outbox[m.ID]; dup || slices.ContainsFunc(msgs[:i], func(o store.OutboxMessage) bool { return o.ID == m.ID }) {
			return store.ErrDuplicateMessage
		}
	}
	for _, m := range msgs {
		m.Payload = slices.Clone(m.Payload)
		s.outbox[m.ID] = m
	}
	return nil
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
