package memstore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.ProviderStore = (*Store)(nil)
	_ store.TokenIDStore  = (*Store)(nil)
)

// providerKey names a provider session or a provider subject: (issuer, sid)
// or (issuer, subject).
type providerKey struct{ issuer, id string }

// providerIndex holds what the identity-provider extensions remember. Its
// maps are made on first use and guarded by the Store's mutex.
type providerIndex struct {
	links    map[providerKey]map[string]store.ProviderLink // (issuer, sid) -> session id -> link
	ended    map[providerKey]time.Time                     // (issuer, sid) -> remembered until
	subjects map[providerKey]string                        // (issuer, subject) -> user id
	tokenIDs map[providerKey]time.Time                     // (issuer, jti) -> remembered until
}

func (p *providerIndex) init() {
	if p.links == nil {
		p.links = make(map[providerKey]map[string]store.ProviderLink)
		p.ended = make(map[providerKey]time.Time)
		p.subjects = make(map[providerKey]string)
		p.tokenIDs = make(map[providerKey]time.Time)
	}
}

// LinkProviderSession implements store.ProviderStore.
func (s *Store) LinkProviderSession(_ context.Context, l store.ProviderLink, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	p := &s.providers
	p.init()
	k := providerKey{l.Issuer, l.SID}
	if l.SID != "" {
		if until, ok := p.ended[k]; ok && now.Before(until) {
			return store.ErrProviderSessionEnded
		}
	}
	p.subjects[providerKey{l.Issuer, l.Subject}] = l.UserID
	if l.SID == "" {
		return nil
	}
	p.dropExpiredLinks(k, now)
	if p.links[k] == nil {
		p.links[k] = make(map[string]store.ProviderLink)
	}
	p.links[k][l.SessionID] = l
	return nil
}

// dropExpiredLinks forgets the expired links of one provider session; with
// every write touching only its own key, nothing else can pile up.
func (p *providerIndex) dropExpiredLinks(k providerKey, now time.Time) {
	for id, l := range p.links[k] {
		if !now.Before(l.ExpiresAt) {
			delete(p.links[k], id)
		}
	}
	if len(p.links[k]) == 0 {
		delete(p.links, k)
	}
}

// EndProviderSession implements store.ProviderStore.
func (s *Store) EndProviderSession(_ context.Context, issuer, sid string, now, until time.Time) ([]store.ProviderLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	p := &s.providers
	p.init()
	k := providerKey{issuer, sid}
	if until.After(p.ended[k]) {
		p.ended[k] = until
	}
	p.dropEnded(now)
	p.dropExpiredLinks(k, now)
	var out []store.ProviderLink
	for _, l := range p.links[k] {
		out = append(out, l)
	}
	return out, nil
}

// dropEnded forgets up to store.ExpiredBatch ended provider sessions whose
// time has passed.
func (p *providerIndex) dropEnded(now time.Time) {
	n := 0
	for k, until := range p.ended {
		if n == store.ExpiredBatch {
			return
		}
		if !now.Before(until) {
			delete(p.ended, k)
			delete(p.links, k)
			n++
		}
	}
}

// ProviderUser implements store.ProviderStore.
func (s *Store) ProviderUser(_ context.Context, issuer, subject string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return "", store.ErrClosed
	}
	u, ok := s.providers.subjects[providerKey{issuer, subject}]
	if !ok {
		return "", store.ErrNotFound
	}
	return u, nil
}

// TokenIDUsed implements store.TokenIDStore.
func (s *Store) TokenIDUsed(_ context.Context, issuer, jti string, now time.Time) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, store.ErrClosed
	}
	until, ok := s.providers.tokenIDs[providerKey{issuer, jti}]
	return ok && now.Before(until), nil
}

// UseTokenID implements store.TokenIDStore.
func (s *Store) UseTokenID(_ context.Context, issuer, jti string, now, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	p := &s.providers
	p.init()
	k := providerKey{issuer, jti}
	if old, ok := p.tokenIDs[k]; ok && now.Before(old) {
		return store.ErrReplayed
	}
	n := 0
	for k, t := range p.tokenIDs {
		if n == store.ExpiredBatch {
			break
		}
		if !now.Before(t) {
			delete(p.tokenIDs, k)
			n++
		}
	}
	p.tokenIDs[k] = until
	return nil
}
