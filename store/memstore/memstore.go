// Package memstore is an in-memory revoke SessionStore for tests and
// single-process apps. Sessions are lost when the process exits.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/revokehq/revoke/store"
)

// Store is an in-memory store.SessionStore and store.DataStore, safe for
// concurrent use. It keeps
// a per-user index, so revoking a user's sessions costs O(their sessions).
type Store struct {
	mu      sync.RWMutex
	byID    map[string]*store.Session
	byHash  map[string]string              // token hash -> id
	byUser  map[string]map[string]struct{} // user id -> ids
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Option configures a Store.
type Option func(*config)

type config struct {
	cleanupInterval time.Duration
	retention       time.Duration
	now             func() time.Time
}

// WithCleanup makes the store delete, every interval, sessions that expired
// or were revoked more than retention ago. By default nothing is deleted,
// which suits tests; long-running apps should turn it on.
func WithCleanup(interval, retention time.Duration) Option {
	return func(c *config) { c.cleanupInterval, c.retention = interval, retention }
}

// New returns an empty store.
func New(opts ...Option) *Store {
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	s := &Store{
		byID:    make(map[string]*store.Session),
		byHash:  make(map[string]string),
		byUser:  make(map[string]map[string]struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if c.cleanupInterval > 0 {
		go s.cleanupLoop(c)
	} else {
		close(s.stopped)
	}
	return s
}

func (s *Store) cleanupLoop(c config) {
	defer close(s.stopped)
	t := time.NewTicker(c.cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.DeleteBefore(context.Background(), c.now().Add(-c.retention))
		}
	}
}

// Create implements store.SessionStore.
func (s *Store) Create(_ context.Context, sess store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if _, ok := s.byID[sess.ID]; ok {
		return store.ErrDuplicate
	}
	if _, ok := s.byHash[string(sess.TokenHash)]; ok {
		return store.ErrDuplicate
	}
	sess = copyOf(&sess)
	s.byID[sess.ID] = &sess
	s.byHash[string(sess.TokenHash)] = sess.ID
	s.indexLocked(&sess)
	return nil
}

// Get implements store.SessionStore.
func (s *Store) Get(_ context.Context, id string) (store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Session{}, store.ErrClosed
	}
	p, ok := s.byID[id]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return copyOf(p), nil
}

// GetByTokenHash implements store.SessionStore.
func (s *Store) GetByTokenHash(_ context.Context, hash []byte) (store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Session{}, store.ErrClosed
	}
	id, ok := s.byHash[string(hash)]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return copyOf(s.byID[id]), nil
}

// List implements store.SessionStore.
func (s *Store) List(_ context.Context, userID string) ([]store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	ids := s.byUser[userID]
	out := make([]store.Session, 0, len(ids))
	for id := range ids {
		out = append(out, copyOf(s.byID[id]))
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Touch implements store.SessionStore.
func (s *Store) Touch(_ context.Context, id string, now, idleExpiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeLocked(id, now)
	if err != nil {
		return err
	}
	if idleExpiresAt.After(p.ExpiresAt) {
		idleExpiresAt = p.ExpiresAt
	}
	p.LastSeenAt = now
	p.IdleExpiresAt = idleExpiresAt
	return nil
}

// ReplaceToken implements store.SessionStore.
func (s *Store) ReplaceToken(_ context.Context, id string, newHash []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeLocked(id, now)
	if err != nil {
		return err
	}
	if _, taken := s.byHash[string(newHash)]; taken {
		return store.ErrDuplicate
	}
	delete(s.byHash, string(p.TokenHash))
	p.TokenHash = bytes.Clone(newHash)
	s.byHash[string(p.TokenHash)] = id
	return nil
}

func (s *Store) activeLocked(id string, now time.Time) (*store.Session, error) {
	if s.closed {
		return nil, store.ErrClosed
	}
	p, ok := s.byID[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	if !p.Active(now) {
		return nil, store.ErrInactive
	}
	return p, nil
}

// Revoke implements store.SessionStore.
func (s *Store) Revoke(_ context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var revoked []string
	revoke := func(id string) {
		p := s.byID[id]
		if p == nil || p.UserID != sel.UserID || id == sel.ExceptID || !p.Active(now) {
			return
		}
		p.RevokedAt, p.RevokeReason = now, reason
		revoked = append(revoked, id)
	}
	if sel.SessionID != "" {
		if p := s.byID[sel.SessionID]; p == nil || p.UserID != sel.UserID {
			return nil, store.ErrNotFound
		}
		revoke(sel.SessionID)
		return revoked, nil
	}
	for id := range s.byUser[sel.UserID] {
		revoke(id)
	}
	slices.Sort(revoked)
	return revoked, nil
}

// DeleteBefore implements store.Cleaner: it removes sessions that expired or
// were revoked before t.
func (s *Store) DeleteBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	n := 0
	for id, p := range s.byID {
		old := p.Expired(t) || (p.Revoked() && p.RevokedAt.Before(t))
		if !old {
			continue
		}
		delete(s.byID, id)
		delete(s.byHash, string(p.TokenHash))
		s.unindexLocked(p)
		n++
	}
	return n, nil
}

// Len returns the number of sessions held, in any state.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// Close implements store.SessionStore. It stops background cleanup and
// drops every session; later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.stopped
		s.mu.Lock()
		s.closed = true
		s.byID, s.byHash, s.byUser = nil, nil, nil
		s.mu.Unlock()
	})
	return nil
}

// Update implements store.DataStore.
func (s *Store) Update(_ context.Context, id string, u store.Update, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeLocked(id, now)
	if err != nil {
		return err
	}
	if u.UserID != p.UserID {
		s.unindexLocked(p)
		p.UserID = u.UserID
		s.indexLocked(p)
	}
	p.Data = bytes.Clone(u.Data)
	p.LastSeenAt = now
	p.ExpiresAt = u.ExpiresAt
	p.IdleExpiresAt = u.IdleExpiresAt
	if p.IdleExpiresAt.After(p.ExpiresAt) {
		p.IdleExpiresAt = p.ExpiresAt
	}
	return nil
}

// ListActive implements store.DataStore.
func (s *Store) ListActive(_ context.Context, now time.Time) ([]store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var out []store.Session
	for _, p := range s.byID {
		if p.Active(now) {
			out = append(out, copyOf(p))
		}
	}
	return out, nil
}

func (s *Store) indexLocked(p *store.Session) {
	ids := s.byUser[p.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		s.byUser[p.UserID] = ids
	}
	ids[p.ID] = struct{}{}
}

func (s *Store) unindexLocked(p *store.Session) {
	if ids := s.byUser[p.UserID]; ids != nil {
		delete(ids, p.ID)
		if len(ids) == 0 {
			delete(s.byUser, p.UserID)
		}
	}
}

func copyOf(p *store.Session) store.Session {
	c := *p
	c.TokenHash = bytes.Clone(p.TokenHash)
	c.Data = bytes.Clone(p.Data)
	return c
}
