package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of the identity-provider extensions (ProviderStore, TokenIDStore).
var (
	// ErrProviderSessionEnded means LinkProviderSession was refused because
	// the provider already ended that provider session (EndProviderSession):
	// a sign-in that the provider's logout overtook.
	ErrProviderSessionEnded = errors.New("store: the identity provider ended this provider session")
	// ErrReplayed means UseTokenID was given a token id that was used
	// before and is still remembered.
	ErrReplayed = errors.New("store: token id already used")
	// ErrUnsupported is returned by the helpers of the extensions below for
	// a store that does not implement the extension. It matches
	// errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("store: %w by this store", errors.ErrUnsupported)
)

// ProviderLink ties a session to the sign-in at an OpenID provider that
// started it, so that the provider's logout can find the session.
type ProviderLink struct {
	Issuer  string // the provider's issuer identifier (the ID token's iss)
	Subject string // the user at the provider (sub)
	// SID is the provider's session id (the ID token's sid); empty when the
	// provider sent none, in which case only the subject is recorded.
	SID       string
	SessionID string // the app's session
	UserID    string // the app's user the session belongs to
	// ExpiresAt is when the link may be forgotten: the session's absolute
	// expiry, after which nothing is left to revoke.
	ExpiresAt time.Time
}

// ProviderStore is implemented by stores that remember which sessions an
// OpenID provider's sign-ins started, indexed by the provider's session id,
// and which app user each provider subject signed in as. It is optional:
// revoke.FromProvider and the back-channel logout handler need it.
type ProviderStore interface {
	SessionStore

	// LinkProviderSession records l and maps (l.Issuer, l.Subject) to
	// l.UserID, replacing an earlier mapping. A link with an empty SID
	// records the mapping alone. When EndProviderSession has ended
	// (l.Issuer, l.SID) and that is still remembered at now, it stores
	// nothing and returns ErrProviderSessionEnded; the check and the
	// insert are atomic with respect to EndProviderSession.
	LinkProviderSession(ctx context.Context, l ProviderLink, now time.Time) error

	// EndProviderSession remembers until `until` that the provider ended
	// its session (issuer, sid), so that a later LinkProviderSession of it
	// is refused, and returns the links recorded for it that have not
	// expired at now, in any order. Its cost is proportional to those
	// links, never to all sessions.
	EndProviderSession(ctx context.Context, issuer, sid string, now, until time.Time) ([]ProviderLink, error)

	// ProviderUser returns the app user that (issuer, subject) was last
	// mapped to, or ErrNotFound.
	ProviderUser(ctx context.Context, issuer, subject string) (string, error)
}

// TokenIDStore is implemented by stores that remember the ids (jti) of
// tokens that were used once, so that every instance sharing the store
// refuses a replayed one. It is optional: the back-channel logout and
// global token revocation handlers need it.
type TokenIDStore interface {
	SessionStore

	// UseTokenID records the token id (issuer, jti) as used until `until`.
	// When it is already recorded and still remembered at now, it changes
	// nothing and returns ErrReplayed; the check and the insert are
	// atomic, so of two concurrent calls with one id exactly one succeeds.
	UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error

	// TokenIDUsed reports whether the token id (issuer, jti) is recorded
	// and still remembered at now. A caller that must not record an id
	// before its action succeeds checks with it, acts, and then records.
	TokenIDUsed(ctx context.Context, issuer, jti string, now time.Time) (bool, error)
}

// LinkProviderSession calls st's LinkProviderSession, or returns
// ErrUnsupported when st is not a ProviderStore.
func LinkProviderSession(ctx context.Context, st SessionStore, l ProviderLink, now time.Time) error {
	ps, ok := st.(ProviderStore)
	if !ok {
		return fmt.Errorf("%w: provider sessions", ErrUnsupported)
	}
	return ps.LinkProviderSession(ctx, l, now)
}

// EndProviderSession calls st's EndProviderSession, or returns
// ErrUnsupported when st is not a ProviderStore.
func EndProviderSession(ctx context.Context, st SessionStore, issuer, sid string, now, until time.Time) ([]ProviderLink, error) {
	ps, ok := st.(ProviderStore)
	if !ok {
		return nil, fmt.Errorf("%w: provider sessions", ErrUnsupported)
	}
	return ps.EndProviderSession(ctx, issuer, sid, now, until)
}

// ProviderUser calls st's ProviderUser, or returns ErrUnsupported when st
// is not a ProviderStore.
func ProviderUser(ctx context.Context, st SessionStore, issuer, subject string) (string, error) {
	ps, ok := st.(ProviderStore)
	if !ok {
		return "", fmt.Errorf("%w: provider sessions", ErrUnsupported)
	}
	return ps.ProviderUser(ctx, issuer, subject)
}

// UseTokenID calls st's UseTokenID, or returns ErrUnsupported when st is
// not a TokenIDStore.
func UseTokenID(ctx context.Context, st SessionStore, issuer, jti string, now, until time.Time) error {
	ts, ok := st.(TokenIDStore)
	if !ok {
		return fmt.Errorf("%w: token ids", ErrUnsupported)
	}
	return ts.UseTokenID(ctx, issuer, jti, now, until)
}

// TokenIDUsed calls st's TokenIDUsed, or returns ErrUnsupported when st is
// not a TokenIDStore.
func TokenIDUsed(ctx context.Context, st SessionStore, issuer, jti string, now time.Time) (bool, error) {
	ts, ok := st.(TokenIDStore)
	if !ok {
		return false, fmt.Errorf("%w: token ids", ErrUnsupported)
	}
	return ts.TokenIDUsed(ctx, issuer, jti, now)
}

// ExpiredBatch is how many expired rows of the extension tables (links,
// ended provider sessions, used token ids) a backend deletes, at most, on
// each write to them. Each write adds at most one row, so the tables stay
// bounded by what is still remembered, with no background work.
const ExpiredBatch = 16
