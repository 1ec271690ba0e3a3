package cachestore

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/revokehq/revoke/store"
)

// The writes that end or change a session write through and then settle:
// they return once no instance can serve what they changed from its cache.

// Revoke implements store.SessionStore. It settles even when it revoked
// nothing: what it found revoked already may be the work of a call whose
// reply was lost after the store made it, which never settled.
func (s *Store) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	ids, err := s.b.Revoke(ctx, sel, now, reason)
	if err == nil {
		s.settleAll(ids...)
	}
	return ids, err
}

// ReplaceToken implements store.SessionStore.
func (s *Store) ReplaceToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) error {
	err := s.b.ReplaceToken(ctx, id, newHash, now)
	if err == nil {
		s.settle(id)
	}
	return err
}

// Update implements store.DataStore.
func (s *Store) Update(ctx context.Context, id string, u store.Update, now time.Time) error {
	err := s.b.Update(ctx, id, u, now)
	if err == nil {
		s.settle(id)
	}
	return err
}

// CreateLimited implements store.LimitedStore.
func (s *Store) CreateLimited(ctx context.Context, sess store.Session, l store.Limit, now time.Time) ([]string, error) {
	evicted, err := s.b.CreateLimited(ctx, sess, l, now)
	if err == nil {
		s.settle(evicted...)
	}
	return evicted, err
}

// RevokeRecorded implements store.RecordingStore. It settles even when it
// revoked nothing, as Revoke does.
func (s *Store) RevokeRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	ids, err := s.b.RevokeRecorded(ctx, sel, now, reason, msgs)
	if err == nil {
		s.settleAll(ids...)
	}
	return ids, err
}

// CreateLimitedRecorded implements store.RecordingStore.
func (s *Store) CreateLimitedRecorded(ctx context.Context, sess store.Session, l store.Limit, now time.Time, msgs []store.OutboxMessage) ([]string, error) {
	evicted, err := s.b.CreateLimitedRecorded(ctx, sess, l, now, msgs)
	if err == nil {
		s.settle(evicted...)
	}
	return evicted, err
}

// Reauthenticate implements store.SignInStore.
func (s *Store) Reauthenticate(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) error {
	err := s.b.Reauthenticate(ctx, id, newHash, at, methods, now)
	if err == nil {
		s.settle(id)
	}
	return err
}

// The rest goes to the store as it is.

// Create implements store.SessionStore.
func (s *Store) Create(ctx context.Context, sess store.Session) error { return s.b.Create(ctx, sess) }

// Get implements store.SessionStore.
func (s *Store) Get(ctx context.Context, id string) (store.Session, error) { return s.b.Get(ctx, id) }

// List implements store.SessionStore.
func (s *Store) List(ctx context.Context, userID string) ([]store.Session, error) {
	return s.b.List(ctx, userID)
}

// ListPage implements store.SessionStore.
func (s *Store) ListPage(ctx context.Context, userID string, q store.PageQuery) (store.Page, error) {
	return s.b.ListPage(ctx, userID, q)
}

// ListActive implements store.DataStore.
func (s *Store) ListActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	return s.b.ListActive(ctx, now)
}

// DeleteBefore implements store.Cleaner, and empties the cache here: it
// removes only sessions that are no longer active at t, but the cache
// judges activity by this machine's clock, not by t.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.b.DeleteBefore(ctx, t)
	if n > 0 {
		s.flush()
	}
	return n, err
}

// LinkProviderSession implements store.ProviderStore.
func (s *Store) LinkProviderSession(ctx context.Context, l store.ProviderLink, now time.Time) error {
	return s.b.LinkProviderSession(ctx, l, now)
}

// EndProviderSession implements store.ProviderStore. It revokes nothing
// itself: the sessions it returns are revoked with Revoke.
func (s *Store) EndProviderSession(ctx context.Context, issuer, sid string, now, until time.Time) ([]store.ProviderLink, error) {
	return s.b.EndProviderSession(ctx, issuer, sid, now, until)
}

// ProviderUser implements store.ProviderStore.
func (s *Store) ProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	return s.b.ProviderUser(ctx, issuer, subject)
}

// UseTokenID implements store.TokenIDStore.
func (s *Store) UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error {
	return s.b.UseTokenID(ctx, issuer, jti, now, until)
}

// TokenIDUsed implements store.TokenIDStore.
func (s *Store) TokenIDUsed(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	return s.b.TokenIDUsed(ctx, issuer, jti, now)
}

// EnqueueOutbox implements store.OutboxStore.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []store.OutboxMessage) error {
	return s.b.EnqueueOutbox(ctx, msgs)
}

// LeaseOutbox implements store.OutboxStore.
func (s *Store) LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	return s.b.LeaseOutbox(ctx, now, leaseUntil, n)
}

// AckOutbox implements store.OutboxStore.
func (s *Store) AckOutbox(ctx context.Context, id string) error { return s.b.AckOutbox(ctx, id) }

// RetryOutbox implements store.OutboxStore.
func (s *Store) RetryOutbox(ctx context.Context, id string, next time.Time) error {
	return s.b.RetryOutbox(ctx, id, next)
}

// Compile-time checks: a Store is everything its Backend is but an
// Invalidator.
var (
	_ store.DataStore      = (*Store)(nil)
	_ store.Cleaner        = (*Store)(nil)
	_ store.DeviceRecorder = (*Store)(nil)
	_ store.LimitedStore   = (*Store)(nil)
	_ store.SignInStore    = (*Store)(nil)
	_ store.ProviderStore  = (*Store)(nil)
	_ store.TokenIDStore   = (*Store)(nil)
	_ store.OutboxStore    = (*Store)(nil)
	_ store.RecordingStore = (*Store)(nil)
	_ store.SystemNamer    = (*Store)(nil)
)
