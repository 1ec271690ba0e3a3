// Package memstore is an in-memory revoke SessionStore for tests and
// single-process apps. Sessions are lost when the process exits.
//
// New returns a store without background cleanup, which suits tests; Open
// takes the options a long-running app wants, under the names every
// backend uses: WithCleanupInterval, WithRetention and WithLogger.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Store is an in-memory store.SessionStore and store.DataStore, safe for
// concurrent use. It keeps
// a per-user index, so revoking a user's sessions costs O(their sessions).
//
// The indexes point straight at the sessions, and a token hash is its own
// map key, held in the map's slot: resolving a token touches the map and the
// session and nothing else, which keeps its cost flat in a store of millions
// of sessions, where each further pointer to follow is a cache miss.
type Store struct {
	mu        sync.RWMutex
	byID      map[string]*store.Session
	byHash    map[[sha256.Size]byte]*store.Session   // token hash -> session
	byUser    map[string]map[*store.Session]struct{} // user id -> sessions
	notBefore map[string]time.Time                   // user id -> not-before time
	pages     map[string]*userPages                  // user id -> sessions in listing order (page.go)
	providers providerIndex                          // see provider.go
	outbox    outbox                                 // see outbox.go
	inv       invalidations                          // see invalidator.go
	closed    bool
	cleaning  *store.Cleanup
	once      sync.Once
}

// Option configures a Store. An option refuses a value it cannot take, and
// Open then fails.
type Option func(*config) error

type config struct{ store.Settings }

// setting makes an Option of a store.Setting.
func setting(f store.Setting) Option { return func(c *config) error { return f(&c.Settings) } }

// WithCleanupInterval turns on the background cleanup: every interval, it
// deletes the sessions that have been old (store.Session.Old) for longer
// than the retention (WithRetention). By default nothing is deleted, which
// suits tests; long-running apps should turn it on. Zero leaves it off; a
// negative interval is an error.
func WithCleanupInterval(d time.Duration) Option { return setting(store.CleanupInterval(d)) }

// WithRetention sets how long revoked and expired sessions are kept, with
// their revocation time and reason, before the background cleanup deletes
// them; a revoked session is kept until its absolute expiry, too, is that
// long ago. The default is store.DefaultRetention; a negative retention is
// an error.
func WithRetention(d time.Duration) Option { return setting(store.Retention(d)) }

// WithLogger sets the logger of the background cleanup (default
// slog.Default()). A nil logger is an error.
func WithLogger(l *slog.Logger) Option { return setting(store.Logger(l)) }

// New returns an empty store without background cleanup: Open with no
// options, which cannot fail.
func New() *Store {
	s, _ := Open()
	return s
}

// Open returns an empty store configured by opts, or an error for an
// option that fails.
func Open(opts ...Option) (*Store, error) {
	c := config{store.Settings{Retention: store.DefaultRetention, Logger: slog.Default()}}
	if err := option.Apply("memstore: open", &c, opts); err != nil {
		return nil, err
	}
	s := &Store{
		byID:      make(map[string]*store.Session),
		byHash:    make(map[[sha256.Size]byte]*store.Session),
		byUser:    make(map[string]map[*store.Session]struct{}),
		notBefore: make(map[string]time.Time),
		pages:     make(map[string]*userPages),
	}
	s.cleaning = store.StartCleanup("memstore", c.Settings, func(ctx context.Context, cut time.Time) (int, bool, error) {
		n, err := s.DeleteBefore(ctx, cut)
		return n, true, err
	})
	return s, nil
}

// Create implements store.SessionStore.
func (s *Store) Create(_ context.Context, sess store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if err := s.insertableLocked(&sess); err != nil {
		return err
	}
	s.insertLocked(sess)
	return nil
}

// insertableLocked sets sess's authentication time and returns the error
// Create gives for it: a taken id or token hash, or its user's not-before
// time.
func (s *Store) insertableLocked(sess *store.Session) error {
	if _, ok := s.byID[sess.ID]; ok {
		return store.ErrDuplicate
	}
	if _, ok := s.byHash[sess.TokenHash]; ok {
		return store.ErrDuplicate
	}
	if err := sess.CheckSignIn(time.Time{}, latest); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	sess.AuthenticatedAt = sess.Authenticated()
	if sess.UserID != "" && store.RefusedBy(s.notBefore[sess.UserID], sess.AuthenticatedAt) {
		return store.ErrNotBefore
	}
	return nil
}

// insertLocked adds sess, which insertableLocked accepted, to every index.
func (s *Store) insertLocked(sess store.Session) {
	p := new(store.Session)
	*p = copyOf(&sess)
	s.byID[p.ID] = p
	s.byHash[p.TokenHash] = p
	s.indexLocked(p)
	s.pageIndexLocked(p)
}

// Get implements store.SessionStore.
func (s *Store) Get(_ context.Context, id string) (store.Session, error) {
	return lookup(s, &s.byID, id)
}

// GetByTokenHash implements store.SessionStore.
func (s *Store) GetByTokenHash(_ context.Context, hash [sha256.Size]byte) (store.Session, error) {
	return lookup(s, &s.byHash, hash)
}

// lookup returns a copy of the session that the index of s holds under key.
// It takes the index's address, so as to read it under the lock.
func lookup[K comparable](s *Store, index *map[K]*store.Session, key K) (store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Session{}, store.ErrClosed
	}
	p, ok := (*index)[key]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return copyOf(p), nil
}

// List implements store.SessionStore.
func (s *Store) List(_ context.Context, userID string) ([]store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	sessions := s.byUser[userID]
	out := make([]store.Session, 0, len(sessions))
	for p := range sessions {
		out = append(out, copyOf(p))
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
func (s *Store) ReplaceToken(_ context.Context, id string, newHash [sha256.Size]byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeLocked(id, now)
	if err != nil {
		return err
	}
	if _, ok := s.byHash[newHash]; ok {
		return store.ErrDuplicate
	}
	delete(s.byHash, p.TokenHash)
	p.TokenHash = newHash
	s.byHash[newHash] = p
	s.invalidateLocked(id)
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
	return s.revoke(sel, now, reason, nil)
}

// revoke revokes what sel picks and, when that is at least one session,
// enqueues msgs with their ids, all under the store's lock.
func (s *Store) revoke(sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if err := sel.Check(); err != nil {
		return nil, err
	}
	if err := s.enqueuableLocked(msgs); err != nil {
		return nil, err
	}
	if sel.SessionID != "" {
		p := s.byID[sel.SessionID]
		if p == nil || p.UserID != sel.UserID {
			return nil, store.ErrNotFound
		}
	}
	if !sel.NotBefore.IsZero() && sel.NotBefore.After(s.notBefore[sel.UserID]) {
		s.notBefore[sel.UserID] = sel.NotBefore
	}
	defer s.pruneRevokedLocked(sel.UserID)
	var revoked []string
	revoke := func(p *store.Session) {
		if sel.Picks(p, now) {
			p.RevokedAt, p.RevokeReason = now, reason
			revoked = append(revoked, p.ID)
			s.invalidateLocked(p.ID)
		}
	}
	if sel.SessionID != "" {
		revoke(s.byID[sel.SessionID])
	} else {
		sessions := s.byUser[sel.UserID]
		if len(sessions) > 0 {
			revoked = make([]string, 0, len(sessions))
		}
		for p := range sessions {
			revoke(p)
		}
		slices.Sort(revoked)
	}
	if len(revoked) > 0 {
		s.enqueueLocked(store.WithSessionIDs(msgs, revoked))
	}
	return revoked, nil
}

// DeleteBefore implements store.Cleaner: it removes the sessions that are
// old at t (store.Session.Old).
func (s *Store) DeleteBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	n := 0
	users := make(map[string]struct{})
	defer s.pruneDeletedLocked(users)
	for id, p := range s.byID {
		if !p.Old(t) {
			continue
		}
		delete(s.byID, id)
		delete(s.byHash, p.TokenHash)
		s.unindexLocked(p)
		users[p.UserID] = struct{}{}
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
		s.cleaning.Stop()
		s.mu.Lock()
		s.closed = true
		s.byID, s.byHash, s.byUser, s.notBefore, s.pages = nil, nil, nil, nil, nil
		s.providers = providerIndex{}
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
	auth := p.AuthenticatedAt
	if !u.AuthenticatedAt.IsZero() {
		auth = u.AuthenticatedAt
	}
	if u.UserID != "" && store.RefusedBy(s.notBefore[u.UserID], auth) {
		return store.ErrNotBefore
	}
	p.AuthenticatedAt = auth
	if u.UserID != p.UserID {
		s.unindexLocked(p)
		s.pageUnindexLocked(p)
		p.UserID = u.UserID
		s.indexLocked(p)
		s.pageIndexLocked(p)
	}
	p.Data = bytes.Clone(u.Data)
	p.LastSeenAt = now
	p.ExpiresAt = u.ExpiresAt
	p.IdleExpiresAt = u.IdleExpiresAt
	if p.IdleExpiresAt.After(p.ExpiresAt) {
		p.IdleExpiresAt = p.ExpiresAt
	}
	s.invalidateLocked(id)
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
	sessions := s.byUser[p.UserID]
	if sessions == nil {
		sessions = make(map[*store.Session]struct{})
		s.byUser[p.UserID] = sessions
	}
	sessions[p] = struct{}{}
}

func (s *Store) unindexLocked(p *store.Session) {
	if sessions := s.byUser[p.UserID]; sessions != nil {
		delete(sessions, p)
		if len(sessions) == 0 {
			delete(s.byUser, p.UserID)
		}
	}
}

// copyOf returns a copy of *p that shares no memory with it.
func copyOf(p *store.Session) store.Session {
	c := *p
	c.Data = bytes.Clone(p.Data)
	c.AuthMethods = slices.Clone(p.AuthMethods)
	c.Labels = maps.Clone(p.Labels)
	return c
}
