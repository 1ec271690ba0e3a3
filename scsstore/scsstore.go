// Package scsstore lets an application that manages sessions with
// github.com/alexedwards/scs/v2 gain revocation without a rewrite: it is an
// scs store (scs.CtxStore and scs.IterableCtxStore) whose sessions live in a
// revoke store.DataStore, indexed by user.
//
// Swap the scs store line and mount the revoke handlers:
//
//	st := memstore.New() // or sqlitestore, pgstore, ...
//	sm := scs.New()
//	sm.Store = scsstore.New(st, scsstore.WithUserKey("userID"))
//	m, _ := revoke.New(st, revoke.WithTokenCookie(sm.Cookie.Name))
//
// From then on every revocation (m.RevokeAll, the handlers, an administrator)
// ends the matching scs sessions: the next request with such a cookie gets a
// fresh, empty scs session. The Manager's middleware and the handlers resolve
// scs's cookie (and the same token in X-Session-Token) as a session of the
// user it is bound to.
//
// A session is bound to a user through the value scs holds under the user
// key (decoded with the manager's codec, scs.GobCodec by default), or
// explicitly with BindUser after login. Sessions bound to no one are kept
// like any other but never count as logged in.
package scsstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/revokehq/revoke/store"
)

// BoundUserKey is the scs key under which BindUser records the user.
const BoundUserKey = "revoke.userID"

// ReasonDestroyed is the revocation reason recorded when scs destroys a
// session (Destroy, RenewToken).
const ReasonDestroyed = "scs: session destroyed"

// Store is an scs store backed by a revoke store.DataStore. It is safe for
// concurrent use.
type Store struct {
	st      store.DataStore
	codec   scs.Codec
	userKey string
	hashed  bool
	now     func() time.Time

	// iterated maps what scs will pass back for each session handed out by
	// AllCtx to that session's id: the store keeps only token hashes, so the
	// keys Iterate sees are stand-ins, not tokens.
	mu       sync.Mutex
	iterated map[string]string
}

var (
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithUserKey names the scs session key that holds the user id, as the app
// writes it with sm.Put(ctx, key, id). Strings and integers are supported.
func WithUserKey(key string) Option { return func(s *Store) { s.userKey = key } }

// WithCodec sets the codec the scs SessionManager uses, when it is not
// scs.GobCodec.
func WithCodec(c scs.Codec) Option { return func(s *Store) { s.codec = c } }

// WithHashedTokens must be given when the scs SessionManager has
// HashTokenInStore set: scs then hands the store a hash of each token.
func WithHashedTokens() Option { return func(s *Store) { s.hashed = true } }

// WithClock sets the store's clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an scs store keeping its sessions in st.
func New(st store.DataStore, opts ...Option) *Store {
	s := &Store{st: st, codec: scs.GobCodec{}, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// BindUser binds the scs session in ctx to userID, for apps that keep the
// user id under no fixed key. Call it after login (after sm.RenewToken).
func BindUser(ctx context.Context, sm *scs.SessionManager, userID string) {
	sm.Put(ctx, BoundUserKey, userID)
}

// FindCtx implements scs.CtxStore: the data of an active session.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	sess, err := s.lookup(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !sess.Active(s.now()) {
		return nil, false, nil
	}
	return sess.Data, true, nil
}

// CommitCtx implements scs.CtxStore. A session revoked meanwhile stays
// revoked: the commit of a request that loaded it before the revocation is
// dropped.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	deadline, values, err := s.codec.Decode(b)
	if err != nil {
		return fmt.Errorf("scsstore: decode session: %w", err)
	}
	u := store.Update{UserID: s.userOf(values), Data: b, ExpiresAt: deadline, IdleExpiresAt: expiry}
	// scs's expiry is the earlier of its deadline and its idle timeout.
	if u.ExpiresAt.IsZero() || u.ExpiresAt.Before(expiry) {
		u.ExpiresAt = expiry
	}
	now := s.now()
	for range 2 {
		sess, err := s.lookup(ctx, token)
		switch {
		case errors.Is(err, store.ErrNotFound):
			hash, ok := s.hashOf(token)
			if !ok {
				return nil // a stand-in key from AllCtx whose session is gone
			}
			err = s.st.Create(ctx, store.Session{
				ID: store.NewID(), UserID: u.UserID, TokenHash: hash, Data: b,
				CreatedAt: now, LastSeenAt: now, ExpiresAt: u.ExpiresAt, IdleExpiresAt: u.IdleExpiresAt,
			})
			if errors.Is(err, store.ErrDuplicate) {
				continue // a concurrent commit of the same new token won
			}
			return err
		case err != nil:
			return err
		}
		err = s.st.Update(ctx, sess.ID, u, now)
		if errors.Is(err, store.ErrInactive) {
			return nil
		}
		return err
	}
	return errors.New("scsstore: commit raced with itself")
}

// DeleteCtx implements scs.CtxStore: scs's Destroy and RenewToken revoke the
// session, which keeps it in the audit trail until the store cleans it up.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	sess, err := s.lookup(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.st.Revoke(ctx, store.Selection{UserID: sess.UserID, SessionID: sess.ID}, s.now(), ReasonDestroyed)
	return err
}

// AllCtx implements scs.IterableCtxStore. It costs O(all sessions), as
// scs's Iterate does by design; to revoke a user's sessions, call the
// revoke Manager instead, which costs O(that user's sessions).
//
// The map's keys stand in for the tokens, which the store does not keep;
// scs's Destroy within Iterate works with them, with hashed tokens too.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	active, err := s.st.ListActive(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(active))
	iterated := make(map[string]string, len(active))
	for _, sess := range active {
		key := "iterated." + sess.ID // never a token: '.' is not in scs's alphabet
		out[key] = sess.Data
		if s.hashed {
			iterated[hashKey(key)] = sess.ID
		} else {
			iterated[key] = sess.ID
		}
	}
	s.mu.Lock()
	s.iterated = iterated
	s.mu.Unlock()
	return out, nil
}

// Find implements scs.Store.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// All implements scs.IterableStore.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// lookup finds the session scs means by token.
func (s *Store) lookup(ctx context.Context, token string) (store.Session, error) {
	s.mu.Lock()
	id, ok := s.iterated[token]
	s.mu.Unlock()
	if ok {
		return s.st.Get(ctx, id)
	}
	hash, ok := s.hashOf(token)
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return s.st.GetByTokenHash(ctx, hash)
}

// hashOf returns the revoke token hash (SHA-256 of the raw token) for what
// scs passes: the raw token, or with hashed tokens its SHA-256 in base64url.
func (s *Store) hashOf(token string) ([]byte, bool) {
	if !s.hashed {
		h := sha256.Sum256([]byte(token))
		return h[:], true
	}
	h, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(h) != sha256.Size {
		return nil, false
	}
	return h, true
}

func (s *Store) userOf(values map[string]any) string {
	v, ok := values[BoundUserKey]
	if !ok && s.userKey != "" {
		v, ok = values[s.userKey]
	}
	if !ok {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	}
	return ""
}

// hashKey is scs's hashing of a token when HashTokenInStore is set.
func hashKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
