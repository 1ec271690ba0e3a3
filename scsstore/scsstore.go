// Package scsstore lets an application that manages sessions with
// github.com/alexedwards/scs/v2 gain revocation without a rewrite: it is an
// scs store (scs.CtxStore and scs.IterableCtxStore) whose sessions live in a
// revoke store.DataStore, indexed by user.
//
// Swap the scs store line and mount the revoke handlers:
//
//	st, _ := memstore.New() // or sqlitestore, pgstore, ...
//	sm := scs.New()
//	sm.Store, _ = scsstore.New(st, scsstore.WithUserKey("userID"))
//	// After sm's Lifetime, IdleTimeout and Cookie.Name are set:
//	m, _ := revoke.New(st, scsstore.ManagerOptions(sm)...)
//
// From then on every revocation (m.RevokeAll, the handlers, an administrator)
// ends the matching scs sessions: the next request with such a cookie gets a
// fresh, empty scs session. The Manager's middleware and the handlers resolve
// scs's cookie (and the same token in X-Session-Token) as a session of the
// user it is bound to, and keep it alive by scs's idle timeout, not their
// own (see ManagerOptions).
//
// A session is bound to a user through the value scs holds under the user
// key (decoded with the manager's codec, scs.GobCodec by default), or
// explicitly with BindUser after login. Sessions bound to no one are kept
// like any other but never count as logged in.
package scsstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// BoundUserKey is the scs key under which BindUser records the user.
const BoundUserKey = "revoke.userID"

// AuthenticatedAtKey is the scs key under which BindUser records when the
// user's credentials were checked (RFC 3339 text). The session's
// AuthenticatedAt is taken from it, or else from the time of the commit
// that binds the session to its user.
const AuthenticatedAtKey = "revoke.authenticatedAt"

// SessionKey is the scs key under which the store records the id of the
// revoke session that the values are stored under. It travels with the
// values through scs's RenewToken, which is how a commit under a new token
// is known as the renewal of that session (see CommitCtx). Apps leave it
// alone; it is public because sm.Keys lists it.
const SessionKey = "revoke.sessionID"

// ReasonEndedTwice is the reason of the marker row DeleteCtx stores when
// scs ends a session that had already ended: a logout racing a renewal of
// the same session in another request. The renewal then creates nothing.
const ReasonEndedTwice = "scs: session ended again; its renewal is refused"

// ReasonDestroyed is the revocation reason recorded when scs destroys a
// session (Destroy, RenewToken).
const ReasonDestroyed = "scs: session destroyed"

// iteratedPrefix starts every key AllCtx hands out in place of a token. '.'
// is not in the alphabet of scs's tokens (base64url), so no token scs makes
// has this prefix, and a key with it is never stored as a token.
const iteratedPrefix = "iterated."

// Store is an scs store backed by a revoke store.DataStore. It is safe for
// concurrent use.
type Store struct {
	st      store.DataStore
	codec   scs.Codec
	userKey string
	hashed  bool
	now     func() time.Time
	log     *slog.Logger

	// Set by the Option of ManagerOptions: the scs manager the store
	// serves (whose HashTokenInStore it then follows) and the revoke
	// Manager whose OnRevoke hooks hear of scs's Destroy and RenewToken.
	linked  atomic.Pointer[link]
	warnKey sync.Once // the misspelt-user-key warning

	// iterated maps what scs will pass back (with hashed tokens, the hash)
	// for each session handed out by the last AllCtx to that session's id:
	// the store keeps only token hashes, so the keys Iterate sees are
	// stand-ins, not tokens. Each AllCtx replaces the map, with fresh
	// random keys, so a key is neither guessable nor lasting.
	mu       sync.Mutex
	iterated map[string]string
}

var (
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// Option configures a Store. An option refuses a value it cannot take, and
// New then fails.
type Option func(*Store) error

// WithUserKey names the scs session key that holds the user id, as the app
// writes it with sm.Put(ctx, key, id). Strings and integers are supported.
// An empty key is an error.
func WithUserKey(key string) Option {
	return func(s *Store) error {
		if key == "" {
			return errors.New("scsstore: empty user key")
		}
		s.userKey = key
		return nil
	}
}

// WithCodec sets the codec the scs SessionManager uses, when it is not
// scs.GobCodec. A nil codec is an error.
func WithCodec(c scs.Codec) Option {
	return func(s *Store) error {
		if c == nil {
			return errors.New("scsstore: nil codec")
		}
		s.codec = c
		return nil
	}
}

// WithHashedTokens must be given when the scs SessionManager has
// HashTokenInStore set and is not linked to the store by ManagerOptions:
// scs then hands the store a hash of each token.
func WithHashedTokens() Option {
	return func(s *Store) error {
		s.hashed = true
		return nil
	}
}

// WithClock sets the store's clock, for tests. A nil clock is an error.
func WithClock(now func() time.Time) Option {
	return func(s *Store) error {
		if now == nil {
			return errors.New("scsstore: nil clock")
		}
		s.now = now
		return nil
	}
}

// WithLogger sets where the store reports a likely misconfiguration
// (default slog.Default()). A nil logger is an error.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) error {
		if l == nil {
			return errors.New("scsstore: nil logger")
		}
		s.log = l
		return nil
	}
}

type link struct {
	sm *scs.SessionManager
	m  *revoke.Manager
}

// New returns an scs store keeping its sessions in st, or an error for a
// nil st or an option that fails.
func New(st store.DataStore, opts ...Option) (*Store, error) {
	if st == nil {
		return nil, errors.New("scsstore: nil store")
	}
	s := &Store{st: st, codec: scs.GobCodec{}, now: time.Now, log: slog.Default()}
	if err := option.Apply("scsstore", s, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// BindUser binds the scs session in ctx to userID, for apps that keep the
// user id under no fixed key, and records now as the time the user
// authenticated. Call it right after checking the credentials (and after
// sm.RenewToken): a revocation of all the user's sessions that lands
// between the check and the end of the request then refuses the sign-in,
// where a session bound by the user key alone counts as authenticated when
// it is committed.
func BindUser(ctx context.Context, sm *scs.SessionManager, userID string) {
	sm.Put(ctx, BoundUserKey, userID)
	sm.Put(ctx, AuthenticatedAtKey, time.Now().UTC().Format(time.RFC3339Nano))
}

// authenticatedAt is when the values say the user authenticated, or now.
func authenticatedAt(values map[string]any, now time.Time) time.Time {
	if v, ok := values[AuthenticatedAtKey].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && !t.After(now) {
			return t
		}
	}
	return now
}

// endedTwiceID is the id of the marker row that refuses the renewal of
// session id (see ReasonEndedTwice).
func endedTwiceID(id string) string { return id + ".ended" }

// ManagerOptions returns the options that make a revoke Manager agree with
// sm: it resolves sm's cookie (revoke.WithTokenCookie), and when its
// middleware records activity on an scs session it moves the idle expiry to
// sm.IdleTimeout from now, or to the session's absolute expiry when sm has
// no idle timeout. The Manager's own defaults would keep alive sessions that
// scs would have timed out, or time out sessions that scs keeps. The touch
// interval stays below a short idle timeout. Call it once sm is configured:
//
//	m, err := revoke.New(st, scsstore.ManagerOptions(sm)...)
//
// Options given after these override them.
//
// The options read sm when they are used: the cookie name on every
// request, the timeouts when revoke.New runs. When sm.Store is a Store,
// they also link the two: the Store then follows sm.HashTokenInStore (no
// WithHashedTokens needed), and scs's Destroy and RenewToken reach the
// Manager's OnRevoke hooks like any other revocation.
func ManagerOptions(sm *scs.SessionManager) []revoke.Option {
	return []revoke.Option{
		revoke.WithTokenCookieFrom(func() string { return sm.Cookie.Name }),
		func(m *revoke.Manager) error {
			idle := max(sm.IdleTimeout, 0)
			touch := revoke.DefaultTouchInterval
			if idle > 0 {
				// revoke.New wants the touch interval shorter than the
				// idle timeout; half of it keeps a session seen now and
				// then alive.
				touch = min(touch, idle/2)
			}
			opts := []revoke.Option{revoke.WithIdleTimeout(idle), revoke.WithTouchInterval(touch)}
			if sm.Lifetime > 0 {
				opts = append(opts, revoke.WithLifetime(sm.Lifetime))
			}
			if err := option.Apply("scsstore: ManagerOptions", m, opts); err != nil {
				return err
			}
			if st, ok := sm.Store.(*Store); ok {
				st.linked.Store(&link{sm: sm, m: m})
			}
			return nil
		},
	}
}

// hashedTokens reports whether scs hands the store hashes of its tokens:
// what the linked scs manager says, else WithHashedTokens.
func (s *Store) hashedTokens() bool {
	if l := s.linked.Load(); l != nil {
		return l.sm.HashTokenInStore
	}
	return s.hashed
}

// FindCtx implements scs.CtxStore: the data of an active session. A key
// that AllCtx handed out is no token and finds nothing, so that it can
// never serve as a cookie.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if _, _, standIn := s.standIn(token); standIn {
		return nil, false, nil
	}
	sess, err := s.byToken(ctx, token)
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
// dropped. A commit creates no session that would already have expired,
// and none under a key of AllCtx: such a key only ever updates the session
// it stood for in the last AllCtx.
//
// A commit under a token the store does not know creates a session only for
// a fresh scs session, or for the renewal (scs's RenewToken) of one that
// this renewal ended; the values then carry the id of the session they were
// loaded from (see SessionKey). The renewal of a session that was revoked,
// replaced or ended by anyone else creates nothing, and a renewed session
// keeps the AuthenticatedAt of the one it replaces, so that it falls under
// its user's not-before time like the original (see store.Selection).
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	c, err := s.decode(b, expiry)
	if err != nil {
		return err
	}
	if c.u.UserID == "" {
		s.warnUnbound(c.values)
	}
	now := s.now()
	if id, ok, standIn := s.standIn(token); standIn {
		if !ok {
			// A key of an earlier AllCtx: whatever it stood for is no
			// longer known, and it must never become a token.
			return nil
		}
		sess, err := s.st.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.commitTo(ctx, sess, c, now)
	}
	for range 2 {
		sess, err := s.byToken(ctx, token)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = s.create(ctx, token, c, now)
			if errors.Is(err, store.ErrDuplicate) {
				continue // a concurrent commit of the same new token won
			}
			return err
		case err != nil:
			return err
		}
		return s.commitTo(ctx, sess, c, now)
	}
	return errors.New("scsstore: commit raced with itself")
}

// commit is one decoded scs commit.
type commit struct {
	deadline time.Time
	values   map[string]any
	u        store.Update
}

func (s *Store) decode(b []byte, expiry time.Time) (commit, error) {
	deadline, values, err := s.codec.Decode(b)
	if err != nil {
		return commit{}, fmt.Errorf("scsstore: decode session: %w", err)
	}
	u := store.Update{UserID: s.userOf(values), Data: b, ExpiresAt: deadline, IdleExpiresAt: expiry}
	// scs's expiry is the earlier of its deadline and its idle timeout.
	if u.ExpiresAt.IsZero() || u.ExpiresAt.Before(expiry) {
		u.ExpiresAt = expiry
	}
	return commit{deadline: deadline, values: values, u: u}, nil
}

// commitTo writes a commit to the existing session sess. Binding it to a
// user is a sign-in, authenticated now (or when BindUser says); a session
// that is revoked, expired, gone or refused for its user's not-before time
// stays as it is.
func (s *Store) commitTo(ctx context.Context, sess store.Session, c commit, now time.Time) error {
	if c.u.UserID != "" && c.u.UserID != sess.UserID {
		c.u.AuthenticatedAt = authenticatedAt(c.values, now)
	}
	if err := s.withOrigin(&c, sess.ID); err != nil {
		return err
	}
	return s.update(ctx, sess.ID, c.u, now)
}

// create stores a commit under a token the store does not know.
func (s *Store) create(ctx context.Context, token string, c commit, now time.Time) error {
	// A request that loaded a session which has since been revoked and
	// cleaned up commits here too; past its expiry it must not come back.
	if !c.u.IdleExpiresAt.After(now) || (!c.deadline.IsZero() && !c.deadline.After(now)) {
		return nil
	}
	hash, ok := s.hashOf(token)
	if !ok {
		return nil // not a token scs could have made
	}
	sess := store.Session{
		ID: store.NewID(), UserID: c.u.UserID, TokenHash: hash,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: c.u.ExpiresAt, IdleExpiresAt: c.u.IdleExpiresAt,
	}
	if sess.UserID != "" {
		sess.AuthenticatedAt = authenticatedAt(c.values, now)
	}
	if from, _ := c.values[SessionKey].(string); from != "" {
		prev, ok, err := s.renewed(ctx, from)
		if !ok || err != nil {
			return err
		}
		if sess.UserID != "" && sess.UserID == prev.UserID {
			sess.AuthenticatedAt = prev.Authenticated()
		}
		sess.IP, sess.UserAgent = prev.IP, prev.UserAgent
	}
	if err := s.withOrigin(&c, sess.ID); err != nil {
		return err
	}
	sess.Data = c.u.Data
	err := s.st.Create(ctx, sess)
	if errors.Is(err, store.ErrNotBefore) {
		return nil // signed in before the user's sessions were all revoked
	}
	return err
}

// renewed returns the session from, whose values a commit under an unknown
// token carries, when that commit may continue it: from was ended by scs
// (Destroy or RenewToken) and no request tried to end it again afterwards.
// ok is false when the commit must create nothing: from is gone, still
// active under another token (revoke's Manager.Renew replaced it), or was
// revoked by anyone other than scs.
func (s *Store) renewed(ctx context.Context, from string) (prev store.Session, ok bool, err error) {
	prev, err = s.st.Get(ctx, from)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, false, nil
	}
	if err != nil {
		return store.Session{}, false, err
	}
	if !prev.Revoked() || prev.RevokeReason != ReasonDestroyed {
		return store.Session{}, false, nil
	}
	_, err = s.st.Get(ctx, endedTwiceID(from))
	if errors.Is(err, store.ErrNotFound) {
		return prev, true, nil
	}
	return store.Session{}, false, err
}

// withOrigin records in the commit's values the id of the session they are
// stored under, re-encoding them only when it changes.
func (s *Store) withOrigin(c *commit, id string) error {
	if from, _ := c.values[SessionKey].(string); from == id {
		return nil
	}
	c.values[SessionKey] = id
	b, err := s.codec.Encode(c.deadline, c.values)
	if err != nil {
		return fmt.Errorf("scsstore: encode session: %w", err)
	}
	c.u.Data = b
	return nil
}

// update writes a commit to an existing session; one that is revoked,
// expired, gone or refused for its user's not-before time stays as it is.
func (s *Store) update(ctx context.Context, id string, u store.Update, now time.Time) error {
	err := s.st.Update(ctx, id, u, now)
	if errors.Is(err, store.ErrInactive) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotBefore) {
		return nil
	}
	return err
}

// DeleteCtx implements scs.CtxStore: scs's Destroy and RenewToken revoke the
// session, which keeps it in the audit trail until the store cleans it up.
// Sessions bound to no user (before login) are revoked by id alone. Ending
// a session that has already ended stores a marker that refuses any
// renewal of it (see ReasonEndedTwice).
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	for range 2 {
		sess, err := s.lookup(ctx, token)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := s.now()
		ids, err := s.revoke(ctx, store.Selection{UserID: sess.UserID, SessionID: sess.ID}, now)
		if err == nil && len(ids) == 0 {
			return s.markEndedTwice(ctx, sess, now)
		}
		if err == nil {
			s.report(ctx, sess.UserID, ids, now)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Rebound to another user (or deleted) since the lookup: look again.
	}
	return errors.New("scsstore: delete raced with a change of user")
}

// revoke ends the session sel names: through the linked Manager when it
// works on the same store, so that an outbox it records revocations in
// (revoke.WithOutbox) holds this one too, written with it.
func (s *Store) revoke(ctx context.Context, sel store.Selection, now time.Time) ([]string, error) {
	if l := s.linked.Load(); l != nil && sel.UserID != "" && l.m.Store() == s.st {
		return l.m.RevokeSelection(ctx, sel, now, revoke.Cause{Actor: revoke.UserActor(sel.UserID), Reason: ReasonDestroyed})
	}
	return s.st.Revoke(ctx, sel, now, ReasonDestroyed)
}

// report tells the linked Manager's OnRevoke hooks that scs ended a
// user's session.
func (s *Store) report(ctx context.Context, user string, ids []string, at time.Time) {
	if l := s.linked.Load(); l != nil && user != "" {
		l.m.Report(ctx, revoke.Event{
			Cause:  revoke.Cause{Actor: revoke.UserActor(user), Reason: ReasonDestroyed},
			UserID: user, SessionIDs: ids, At: at,
		})
	}
}

// warnUnbound logs, once, a commit bound to no user whose values hold a
// key that looks like a user id: most likely WithUserKey is missing or
// misspelt, and such sessions cannot be revoked by user.
func (s *Store) warnUnbound(values map[string]any) {
	for k := range values {
		if k != SessionKey && k != AuthenticatedAtKey && strings.Contains(strings.ToLower(k), "user") {
			s.warnKey.Do(func() {
				s.log.Warn("scsstore: a session holds a value that looks like a user id but is bound to no user, "+
					"so revoking the user's sessions will not end it: check WithUserKey, or call BindUser",
					"key", k, "user_key", s.userKey)
			})
			return
		}
	}
}

// markEndedTwice stores the marker that refuses a renewal of sess: a
// revoked row bound to no user, so no one can sign in with it or see it in
// a user's list, kept as long as sess is.
func (s *Store) markEndedTwice(ctx context.Context, sess store.Session, now time.Time) error {
	expires := sess.ExpiresAt
	if !expires.After(now) {
		expires = now.Add(time.Second)
	}
	err := s.st.Create(ctx, store.Session{
		ID: endedTwiceID(sess.ID), TokenHash: randomHash(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: expires, IdleExpiresAt: expires,
		RevokedAt: now, RevokeReason: ReasonEndedTwice,
	})
	if errors.Is(err, store.ErrDuplicate) {
		return nil // marked already
	}
	return err
}

func randomHash() [sha256.Size]byte {
	var b [sha256.Size]byte
	_, _ = rand.Read(b[:]) // never fails: see crypto/rand.Read
	return b
}

// AllCtx implements scs.IterableCtxStore. It costs O(all sessions), as
// scs's Iterate does by design; to revoke a user's sessions, call the
// revoke Manager instead, which costs O(that user's sessions).
//
// The map's keys stand in for the tokens, which the store does not keep;
// scs's Destroy and Commit within Iterate work with them, with hashed
// tokens too. They are random, and valid only until the next AllCtx: the
// keys of an earlier Iterate then change nothing, so Iterate runs must not
// overlap. A key is never accepted as a token (FindCtx finds nothing).
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	active, err := s.st.ListActive(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(active))
	iterated := make(map[string]string, len(active))
	for _, sess := range active {
		key := newStandIn()
		out[key] = sess.Data
		if s.hashedTokens() {
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

// lookup finds the session scs means by token, a token or a key of the
// last AllCtx.
func (s *Store) lookup(ctx context.Context, token string) (store.Session, error) {
	if id, ok, standIn := s.standIn(token); standIn {
		if !ok {
			return store.Session{}, store.ErrNotFound
		}
		return s.st.Get(ctx, id)
	}
	return s.byToken(ctx, token)
}

// byToken finds the session whose token scs passes (see hashOf).
func (s *Store) byToken(ctx context.Context, token string) (store.Session, error) {
	hash, ok := s.hashOf(token)
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return s.st.GetByTokenHash(ctx, hash)
}

// standIn reports whether scs passes a key of AllCtx rather than a token,
// and if so which session it stands for in the last AllCtx (ok is false for
// a key of an earlier one). Plain keys are known by their prefix; a hashed
// key looks like any hashed token, so it is known only while it is in the
// map.
func (s *Store) standIn(token string) (id string, ok, standIn bool) {
	prefixed := strings.HasPrefix(token, iteratedPrefix)
	if !s.hashedTokens() && !prefixed {
		return "", false, false // a plain token: no need to take the lock
	}
	s.mu.Lock()
	id, ok = s.iterated[token]
	s.mu.Unlock()
	return id, ok, ok || prefixed
}

// newStandIn returns a fresh key for AllCtx: random, so that no one can
// derive it from what they know of a session (its public id, say).
func newStandIn() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails: see crypto/rand.Read
	return iteratedPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashOf returns the revoke token hash (SHA-256 of the raw token) for what
// scs passes: the raw token, or with hashed tokens its SHA-256 in base64url.
func (s *Store) hashOf(token string) ([sha256.Size]byte, bool) {
	if !s.hashedTokens() {
		return sha256.Sum256([]byte(token)), true
	}
	h, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(h) != sha256.Size {
		return [sha256.Size]byte{}, false
	}
	return [sha256.Size]byte(h), true
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
