// Package store defines the SessionStore interface that every revoke backend
// implements, together with the session record and the errors they share.
//
// A backend lives in a package of its own (store/memstore, store/sqlitestore,
// ...) and proves its conformance by running store/storetest.
//
// The rules every backend follows live here once, so that a backend keeps
// only its dialect and driver: what a Revoke picks (Selection.Picks), what a
// cleanup removes (Session.Old), the settings every backend has and their
// checks (Settings, with the options WithCleanupInterval, WithRetention,
// WithLogger and WithCallTimeout in each backend), and the background
// cleanup (StartCleanup, DeleteInBatches). A backend on a database
// implements Database, one atomic statement a method, and embeds Rules,
// which makes a SessionStore, DataStore and Cleaner of it: the closed
// check, the deadline of each call, the checks of arguments, and what a
// write that changed nothing means.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors returned by every SessionStore. Test for them with errors.Is.
var (
	// ErrNotFound means no session matches: the id or token hash is unknown,
	// or (for calls that name a user) the session belongs to another user.
	ErrNotFound = errors.New("store: session not found")
	// ErrDuplicate means a session with the same id or token hash exists.
	ErrDuplicate = errors.New("store: duplicate session")
	// ErrInactive means the session exists but is revoked or expired, so the
	// requested change (touch, new token) was not made.
	ErrInactive = errors.New("store: session revoked or expired")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrNoUser means a Revoke Selection has neither a UserID nor a
	// SessionID. "Every session of no user" would be every anonymous
	// session at once, which no caller means, so it is refused.
	ErrNoUser = errors.New("store: revoke selection names no user")
	// ErrUnavailable means the store did not answer within its deadline,
	// or could not be reached. Callers answer 503 and may retry later;
	// nothing is known to have changed.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrNotBefore means a Create or Update was refused because the
	// session's AuthenticatedAt is before its user's not-before time: every
	// session of the user was revoked after the credentials were checked
	// (see Selection.NotBefore), so the sign-in must be done again.
	ErrNotBefore = errors.New("store: session authenticated before its user's revocation")
)

// Session is the stored record of one session.
//
// The token itself is never stored: TokenHash is its SHA-256 digest. ID is
// public and safe to show and list; the token is the secret.
//
// TokenHash and Data are left out of JSON: a session listed to its user or
// an administrator must not carry what resolves its token or the app's
// private values.
type Session struct {
	ID        string            // public, random, stable for the session's life
	UserID    string            // empty for a session bound to no user (see scsstore)
	TokenHash [sha256.Size]byte `json:"-"` // SHA-256 of the current token

	CreatedAt time.Time
	// AuthenticatedAt is when the user's credentials were checked for this
	// session: at sign-in, usually just before CreatedAt. A renewal (new
	// token, new scs session) keeps it. A session authenticated before its
	// user's not-before time (see Selection.NotBefore) is never created.
	// Zero in a session given to Create means CreatedAt.
	AuthenticatedAt time.Time
	LastSeenAt      time.Time
	// ExpiresAt is the absolute end of the session's life; it never moves.
	ExpiresAt time.Time
	// IdleExpiresAt is when the session ends unless it is seen again; a
	// touch moves it forward, never past ExpiresAt.
	IdleExpiresAt time.Time

	// RevokedAt is zero while the session has not been revoked.
	RevokedAt    time.Time
	RevokeReason string

	IP        string // client address the session was created from
	UserAgent string // User-Agent the session was created with

	// AuthMethods are how the user proved who they are for this session,
	// in the order they did (see Assurance), and Labels are the app's
	// small labels given at sign-in (tenant, device name). Only a
	// SignInStore keeps them; see CheckSignIn for their bounds.
	AuthMethods []AuthMethod      `json:",omitempty"`
	Labels      map[string]string `json:",omitempty"`

	// Data is an opaque payload kept with the session, such as scs's
	// encoded session values (see scsstore). Most sessions have none.
	Data []byte `json:"-"`
}

// TokenHashOf returns b, a token hash as a database stores it, as a
// Session.TokenHash, or an error when b is not a SHA-256 digest long.
func TokenHashOf(b []byte) ([sha256.Size]byte, error) {
	if len(b) != sha256.Size {
		return [sha256.Size]byte{}, fmt.Errorf("store: a token hash of %d bytes, not %d", len(b), sha256.Size)
	}
	return [sha256.Size]byte(b), nil
}

// Revoked reports whether the session has been revoked.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Expired reports whether the session has passed its absolute or idle expiry at t.
func (s *Session) Expired(t time.Time) bool {
	return !t.Before(s.ExpiresAt) || !t.Before(s.IdleExpiresAt)
}

// Active reports whether the session is neither revoked nor expired at t.
func (s *Session) Active(t time.Time) bool { return !s.Revoked() && !s.Expired(t) }

// Old reports whether a cleanup at t removes the session (see Cleaner): a
// session that is not revoked once it has expired at t, a revoked one once
// it was revoked before t and its absolute expiry is at or before t too.
// Until then a revoked session's row is a tombstone that keeps its token
// hash taken.
func (s *Session) Old(t time.Time) bool {
	if s.Revoked() {
		return s.RevokedAt.Before(t) && !t.Before(s.ExpiresAt)
	}
	return s.Expired(t)
}

// CheckTimes returns an error unless every time of the session except
// RevokedAt and AuthenticatedAt is set and within [earliest, latest];
// those two may be zero (not revoked; authenticated when created), and
// otherwise must be within that range too. The error names the
// first time that is not. A backend's Create calls it with the range of times
// it can store, so that it refuses a session rather than store other times
// than it was given.
func (s *Session) CheckTimes(earliest, latest time.Time) error {
	for _, f := range []struct {
		name string
		t    time.Time
	}{
		{"CreatedAt", s.CreatedAt},
		{"AuthenticatedAt", s.AuthenticatedAt},
		{"LastSeenAt", s.LastSeenAt},
		{"ExpiresAt", s.ExpiresAt},
		{"IdleExpiresAt", s.IdleExpiresAt},
		{"RevokedAt", s.RevokedAt},
	} {
		if (f.name == "RevokedAt" || f.name == "AuthenticatedAt") && f.t.IsZero() {
			continue
		}
		if f.t.IsZero() || f.t.Before(earliest) || f.t.After(latest) {
			return fmt.Errorf("%s %v is zero or outside the range", f.name, f.t)
		}
	}
	return nil
}

// Authenticated returns when the session was authenticated: AuthenticatedAt,
// or CreatedAt when that is zero. Backends store this time.
func (s *Session) Authenticated() time.Time {
	if s.AuthenticatedAt.IsZero() {
		return s.CreatedAt
	}
	return s.AuthenticatedAt
}

// Selection picks the sessions a Revoke call applies to.
type Selection struct {
	// UserID names the user whose sessions are revoked: revocation always
	// stays within one user's sessions. It may be empty only when SessionID
	// is set; the call then matches that session only if it is bound to no
	// user (an anonymous scs session ending with Destroy or RenewToken). An
	// empty UserID without a SessionID is refused with ErrNoUser.
	UserID string
	// SessionID, when set, limits the call to that one session.
	SessionID string
	// ExceptID, when set, leaves that one session untouched.
	ExceptID string
	// NotBefore, when set, also moves the user's not-before time forward to
	// it (never back), in the same atomic step as the revocation: from then
	// on Create and Update refuse, with ErrNotBefore, any session of the
	// user whose AuthenticatedAt is before it, whoever writes it and
	// however late. This is what makes "sign out everywhere" final for a
	// request that checked the password, or loaded a session, before it
	// and writes after it. It needs a UserID and no SessionID.
	NotBefore time.Time
	// AuthenticatedBefore, when set, limits the call to the sessions whose
	// AuthenticatedAt is before it: "revoke every session signed in before
	// T", after a password leak say. It is normally given with a NotBefore
	// of the same time, so that no session authenticated before T can be
	// written afterwards either. It needs a UserID and no SessionID.
	AuthenticatedBefore time.Time
}

// Check returns ErrNoUser for a selection that names neither a user nor a
// session, which every backend refuses: it would reach every anonymous
// session at once.
//
// It also refuses a NotBefore or an AuthenticatedBefore without a UserID
// or with a SessionID: a not-before time belongs to a user, and revoking
// one session says nothing about when the others were authenticated.
func (sel Selection) Check() error {
	if sel.UserID == "" && sel.SessionID == "" {
		return ErrNoUser
	}
	if !sel.NotBefore.IsZero() && (sel.UserID == "" || sel.SessionID != "") {
		return errors.New("store: a NotBefore selection needs a UserID and no SessionID")
	}
	if !sel.AuthenticatedBefore.IsZero() && (sel.UserID == "" || sel.SessionID != "") {
		return errors.New("store: an AuthenticatedBefore selection needs a UserID and no SessionID")
	}
	return nil
}

// Picks reports whether a Revoke of sel at now revokes s: s belongs to
// sel.UserID (for an empty UserID, to no user), is sel.SessionID when that
// is set, is not sel.ExceptID, was authenticated before
// sel.AuthenticatedBefore when that is set, and is active at now. Backends
// on a database say the same in the WHERE clause of their revocation.
func (sel Selection) Picks(s *Session, now time.Time) bool {
	return s.UserID == sel.UserID &&
		(sel.SessionID == "" || s.ID == sel.SessionID) &&
		s.ID != sel.ExceptID &&
		(sel.AuthenticatedBefore.IsZero() || s.Authenticated().Before(sel.AuthenticatedBefore)) &&
		s.Active(now)
}

// Scope names which of a user's sessions a Selection picks.
type Scope int

// The scopes of a Selection.
const (
	ScopeAll    Scope = iota // every session of the user
	ScopeOne                 // the one session SessionID names
	ScopeAllBut              // every session of the user but ExceptID
)

// Scope returns which of the user's sessions sel picks. A backend on a
// database picks its revocation statement by it.
func (sel Selection) Scope() Scope {
	switch {
	case sel.SessionID != "":
		return ScopeOne
	case sel.ExceptID != "":
		return ScopeAllBut
	}
	return ScopeAll
}

// RevokeArgs returns the arguments of a revocation statement for sel, in
// the order the statements of every backend on a database take them: at
// (the time of the revocation as the database takes it), reason, the
// user, before (sel.AuthenticatedBefore as the database takes it, which
// the caller gives as nil, SQL's NULL, when it is zero), and the session
// the scope names (SessionID for ScopeOne, ExceptID for ScopeAllBut; none
// for ScopeAll).
func (sel Selection) RevokeArgs(at any, reason string, before any) []any {
	switch sel.Scope() {
	case ScopeOne:
		return []any{at, reason, sel.UserID, before, sel.SessionID}
	case ScopeAllBut:
		return []any{at, reason, sel.UserID, before, sel.ExceptID}
	}
	return []any{at, reason, sel.UserID, before}
}

// RefusedBy reports whether a session of a user authenticated at
// authenticatedAt must be refused under the user's not-before time
// notBefore (zero: none). Every backend decides with it or with the same
// comparison in its query language.
func RefusedBy(notBefore, authenticatedAt time.Time) bool {
	return authenticatedAt.Before(notBefore)
}

// SessionStore is the storage a revoke Manager works on. Implementations must
// be safe for concurrent use by many goroutines and, where the backend is
// shared, by many processes.
//
// Times passed in are the caller's clock; a store never reads its own clock
// for session semantics, so that every instance agrees on what "now" means
// for a call.
type SessionStore interface {
	// Create stores a new session. It returns ErrDuplicate when the id or the
	// token hash is already taken, and ErrNotBefore, storing nothing, for a
	// session bound to a user whose not-before time (see
	// Selection.NotBefore) is after its AuthenticatedAt; that check and the
	// insert are atomic with respect to Revoke.
	Create(ctx context.Context, s Session) error

	// Get returns the session with the given public id, active or not.
	Get(ctx context.Context, id string) (Session, error)

	// GetByTokenHash returns the session whose current token hashes to hash,
	// active or not. Unknown hashes give ErrNotFound.
	GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (Session, error)

	// List returns every session the store holds for the user, active,
	// revoked and expired alike, newest first (in Cursor's order). An
	// unknown user gives an empty slice and no error. It costs O(all the
	// user's rows); a request path lists with ListPage instead.
	List(ctx context.Context, userID string) ([]Session, error)

	// ListPage returns one page of the user's sessions, at most q.Limit of
	// them, in Cursor's order (newest first) and after q.After. Without
	// q.All it lists only the sessions active at q.Now, and the user's
	// revoked sessions add nothing to its cost (what expired ones not yet
	// cleaned up add, a backend documents). With q.All it lists every
	// session the store holds for the user, at the cost of a page. An
	// unknown user gives an
	// empty page and no error; a q that fails Check gives Check's error
	// and lists nothing. A page with Limit 1 and All is how to ask whether
	// the store holds any session of a user at all.
	ListPage(ctx context.Context, userID string, q PageQuery) (Page, error)

	// Touch records activity: it sets LastSeenAt to now and IdleExpiresAt to
	// idleExpiresAt (capped at ExpiresAt). It never revives a session: when
	// the session is revoked or expired at now it changes nothing and returns
	// ErrInactive, and a touch racing a revoke cannot undo the revoke.
	Touch(ctx context.Context, id string, now, idleExpiresAt time.Time) error

	// ReplaceToken gives an active session a new token hash (token renewal,
	// against session fixation). The old token stops working at once. It
	// returns ErrInactive for a revoked or expired session and ErrDuplicate
	// when the new hash is taken.
	ReplaceToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) error

	// Revoke marks every session picked by sel that is active at now as
	// revoked at now with the given reason, atomically, and returns the ids
	// it revoked. Sessions already revoked keep their original time and
	// reason, and expired ones are left alone; neither is counted. Its cost
	// is proportional to the user's sessions, never to all sessions. When
	// sel names a session that is unknown or belongs to another user (for
	// an empty UserID: is bound to a user), it returns ErrNotFound; when
	// sel has neither UserID nor SessionID, it revokes nothing and returns
	// ErrNoUser.
	Revoke(ctx context.Context, sel Selection, now time.Time, reason string) ([]string, error)

	// Close releases the store's resources and stops any background work.
	Close() error
}

// Cleaner is implemented by stores that can delete old rows on demand.
// Backends that clean up in the background call it themselves.
type Cleaner interface {
	// DeleteBefore removes the sessions that are old at t, and returns how
	// many it removed. A session that is not revoked is old once it has
	// expired (Session.Expired(t), absolutely or idle). A revoked session
	// is old once it was revoked before t and its absolute expiry
	// (ExpiresAt) is at or before t too: until then its row is a tombstone
	// that keeps its token hash taken, so that nothing (such as a late
	// scs commit, see scsstore) can create a live session under a token
	// that might still be presented.
	DeleteBefore(ctx context.Context, t time.Time) (int, error)
}

// Update holds the fields DataStore.Update replaces.
type Update struct {
	UserID        string
	Data          []byte
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	// AuthenticatedAt replaces the session's when set; zero keeps it. The
	// result is checked against the (new) user's not-before time.
	AuthenticatedAt time.Time
}

// DataStore is implemented by backends that keep application data with each
// session and let it change, which the scs adapter (scsstore) needs.
type DataStore interface {
	SessionStore

	// Update replaces the user, data and expiry times of the session with
	// the given id when it is active at now (IdleExpiresAt is capped at
	// ExpiresAt), and sets LastSeenAt to now. Like Touch, it never revives
	// a session: a revoked or expired one is left as it is and ErrInactive
	// returned. When the session would be bound to a user (u.UserID set)
	// with an AuthenticatedAt before that user's not-before time, nothing
	// changes and ErrNotBefore is returned.
	Update(ctx context.Context, id string, u Update, now time.Time) error

	// ListActive returns every session active at now, of every user. It
	// costs O(all sessions) and exists for scs's Iterate; revoking a user's
	// sessions never needs it.
	ListActive(ctx context.Context, now time.Time) ([]Session, error)
}
