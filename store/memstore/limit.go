package memstore

import (
	"context"
	"errors"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.LimitedStore = (*Store)(nil)

// CreateLimited implements store.LimitedStore: the count, the evictions
// and the insert happen under the store's lock.
func (s *Store) CreateLimited(_ context.Context, sess store.Session, l store.Limit, now time.Time) ([]string, error) {
	return s.createLimited(sess, l, now, nil)
}

// createLimited is CreateLimited that, when it evicts at least one
// session, also enqueues msgs with their ids, under the same lock.
func (s *Store) createLimited(sess store.Session, l store.Limit, now time.Time, msgs []store.OutboxMessage) ([]string, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	if sess.UserID == "" {
		return nil, errors.New("store: a limited session needs a user")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if err := s.insertableLocked(&sess); err != nil {
		return nil, err
	}
	if err := s.enqueuableLocked(msgs); err != nil {
		return nil, err
	}
	var active []store.Session
	for p := range s.byUser[sess.UserID] {
		if p.Active(now) {
			active = append(active, *p)
		}
	}
	evict, err := l.Evict(active)
	if err != nil {
		return nil, err
	}
	for _, id := range evict {
		p := s.byID[id]
		p.RevokedAt, p.RevokeReason = now, l.Reason
	}
	s.invalidateLocked(evict...)
	s.pruneRevokedLocked(sess.UserID)
	s.insertLocked(sess)
	if len(evict) > 0 {
		s.enqueueLocked(store.WithSessionIDs(msgs, evict))
	}
	return evict, nil
}
