package cachestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"time"

	"github.com/revokehq/revoke/store"
)

// GetByTokenHash implements store.SessionStore: from memory while the
// instance holds its lease and the session is cached and active, and from
// the store otherwise, filling the cache with an active session.
func (s *Store) GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	now := time.Now()
	mono := s.mono(now)
	if mono < s.servingUntil.Load() {
		s.mu.RLock()
		e := s.byHash[hash]
		s.mu.RUnlock()
		if e != nil && mono-e.filled < int64(s.cfg.maxAge) && e.s.Active(now) {
			s.stats.hits.Add(1)
			return clone(e.s), nil
		}
	}
	s.stats.misses.Add(1)
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	sess, err := s.b.GetByTokenHash(ctx, hash)
	if err != nil || !sess.Active(time.Now()) {
		return sess, err
	}
	s.fill(gen, sess)
	return sess, nil
}

// fill caches sess, read from the store when the generation was gen,
// unless an eviction or a flush came since: what it read may be what that
// eviction was about.
func (s *Store) fill(gen uint64, sess store.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	old, ok := s.byID[sess.ID]
	if ok && old != sess.TokenHash {
		delete(s.byHash, old)
	}
	if !ok && len(s.byHash) >= s.cfg.capacity {
		return
	}
	s.byHash[sess.TokenHash] = &entry{s: clone(sess), filled: s.mono(time.Now())}
	s.byID[sess.ID] = sess.TokenHash
}

// evict drops the cached session id, and makes every fill that read the
// store before now stay out.
func (s *Store) evict(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for _, id := range ids {
		if h, ok := s.byID[id]; ok {
			delete(s.byHash, h)
			delete(s.byID, id)
		}
	}
}

// sweepEvery removes, every interval until ctx ends, the sessions that
// are past the max age or no longer active, so that the cache holds only
// what it may still serve.
func (s *Store) sweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep(time.Now())
		}
	}
}

func (s *Store) sweep(now time.Time) {
	mono := s.mono(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, e := range s.byHash {
		if mono-e.filled >= int64(s.cfg.maxAge) || !e.s.Active(now) {
			delete(s.byHash, h)
			delete(s.byID, e.s.ID)
		}
	}
}

// flush empties the cache.
func (s *Store) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	clear(s.byHash)
	clear(s.byID)
}

// cached changes the cached copy of session id, if there is one. It
// replaces the entry rather than writing to it: a lookup reads the entry
// it found after letting go of the lock.
func (s *Store) cached(id string, change func(*store.Session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.byID[id]; ok {
		e := *s.byHash[h]
		e.s = clone(e.s)
		change(&e.s)
		s.byHash[h] = &e
	}
}

// clone returns a copy of sess that shares no slice or map with it: the
// cache hands out none of its own.
func clone(sess store.Session) store.Session {
	sess.Data = bytes.Clone(sess.Data)
	sess.AuthMethods = slices.Clone(sess.AuthMethods)
	sess.Labels = maps.Clone(sess.Labels)
	return sess
}

// Touch implements store.SessionStore, and moves the cached copy's last
// seen and idle expiry along.
func (s *Store) Touch(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	if err := s.b.Touch(ctx, id, now, idleExpiresAt); err != nil {
		return err
	}
	s.cached(id, func(c *store.Session) {
		c.LastSeenAt, c.IdleExpiresAt = now, idleExpiresAt
		if idleExpiresAt.After(c.ExpiresAt) {
			c.IdleExpiresAt = c.ExpiresAt
		}
	})
	return nil
}

// RecordDevice implements store.DeviceRecorder, and drops the cached copy:
// the store keeps the first device recorded, which may be another
// instance's, and its invalidation reaches the other instances.
func (s *Store) RecordDevice(ctx context.Context, id, ip, userAgent string) error {
	if err := s.b.RecordDevice(ctx, id, ip, userAgent); err != nil {
		return err
	}
	s.evict(id)
	return nil
}
