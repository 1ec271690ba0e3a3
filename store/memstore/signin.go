package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.SignInStore = (*Store)(nil)

// latest is the last time a sign-in detail may name: memstore keeps any.
var latest = time.Unix(1<<62, 0)

// Reauthenticate implements store.SignInStore.
func (s *Store) Reauthenticate(_ context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("memstore: reauthenticate: no time")
	}
	if err := store.CheckMethods(methods, time.Time{}, latest); err != nil {
		return fmt.Errorf("memstore: reauthenticate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeLocked(id, now)
	if err != nil {
		return err
	}
	if p.UserID != "" && store.RefusedBy(s.notBefore[p.UserID], at) {
		return store.ErrNotBefore
	}
	if _, ok := s.byHash[newHash]; ok && newHash != p.TokenHash {
		return store.ErrDuplicate
	}
	delete(s.byHash, p.TokenHash)
	p.TokenHash = newHash
	s.byHash[newHash] = p
	p.AuthenticatedAt = at
	p.AuthMethods = slices.Clone(methods)
	s.invalidateLocked(id)
	return nil
}
