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
	return evict, nil
}
