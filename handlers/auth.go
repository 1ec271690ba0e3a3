package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/revokehq/revoke"
)

// Errors an Authorizer returns when it does not grant. The admin routes
// answer 401 when no authorizer grants and none said ErrNotPermitted, 403
// when one did; any other error is an internal failure (500).
var (
	// ErrNoCredentials means the request carries nothing this authorizer
	// understands, so it has no opinion.
	ErrNoCredentials = errors.New("handlers: no credentials")
	// ErrInvalidCredentials means the request carries credentials that are
	// unknown, expired or revoked.
	ErrInvalidCredentials = errors.New("handlers: invalid credentials")
	// ErrNotPermitted means the credentials are valid but not an
	// administrator's.
	ErrNotPermitted = errors.New("handlers: not permitted")
)

// Grant is an administrator's permission to use the admin routes.
type Grant struct {
	// Actor names the administrator in the audit trail: it becomes the
	// revoke.Cause's Actor of every revocation made under this grant.
	Actor string
}

// Authorizer decides whether a request comes from an administrator. It
// returns a Grant, or ErrNoCredentials, ErrInvalidCredentials or
// ErrNotPermitted (possibly wrapped), or another error for a failure. The
// session the request presents, if any, is in its context
// (revoke.FromContext).
//
// An authorizer need not guard against cross-site request forgery: after a
// grant, the handlers refuse an unsafe cross-origin browser request unless
// it carries X-Session-Token or an SSWS or Bearer Authorization header and
// its session, if any, did not come from the cookie. A front end on another
// origin of the app's must be named with WithTrustedOrigins.
//
// Several authorizers may be configured: the first to grant wins.
type Authorizer interface {
	Authorize(r *http.Request) (Grant, error)
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(r *http.Request) (Grant, error)

// Authorize calls f(r).
func (f AuthorizerFunc) Authorize(r *http.Request) (Grant, error) { return f(r) }

// WithAuthorizer adds an Authorizer for the admin routes, asked after those
// added before it.
func WithAuthorizer(a Authorizer) Option {
	return func(h *Handlers) error {
		if a == nil {
			return errors.New("handlers: nil authorizer")
		}
		h.authorizers = append(h.authorizers, a)
		return nil
	}
}

// minAdminToken is the shortest static admin token accepted, in bytes: a
// guessable token would make every session revocable by anyone.
const minAdminToken = 16

// WithAdminTokens accepts these static API tokens as administrators, sent as
// "Authorization: SSWS <token>" (Okta's scheme) or "Authorization: Bearer
// <token>", the scheme in any case and the space optional.
//
// At least one token must be given, and each must be at least 16 bytes
// long (16 characters of ASCII, as random tokens are) and hold no space,
// tab or line break: New fails otherwise, with an error that names a bad
// token by its position, never by its text, since a short token could be
// guessed and would let anyone revoke every session. A random one, from
// openssl rand -hex 32 for example, is right.
//
// Only the tokens' SHA-256 hashes are kept, and a presented token is
// compared with every one of them in constant time. The audit actor is
// "admin-token:" and the first 8 hex digits of the token's hash, which names
// the token without revealing it. Static tokens are checked before any other
// authorizer.
func WithAdminTokens(tokens ...string) Option {
	return func(h *Handlers) error {
		if len(tokens) == 0 {
			return errors.New("handlers: WithAdminTokens needs at least one token")
		}
		if h.tokens == nil {
			h.tokens = &adminTokens{}
		}
		for i, t := range tokens {
			switch {
			case len(t) < minAdminToken:
				return fmt.Errorf("handlers: admin token %d of %d is %d bytes long; an admin token must be at least %d bytes, without whitespace",
					i+1, len(tokens), len(t), minAdminToken)
			case strings.ContainsAny(t, " \t\r\n"):
				return fmt.Errorf("handlers: admin token %d of %d holds whitespace; an admin token must be at least %d bytes, without whitespace",
					i+1, len(tokens), minAdminToken)
			}
			h.tokens.hashes = append(h.tokens.hashes, sha256.Sum256([]byte(t)))
		}
		return nil
	}
}

// BearerFunc validates an access token sent as "Authorization: Bearer
// <token>" (the scheme in any case, the space optional) and returns the subject it was issued to. It returns
// ErrInvalidCredentials for an unknown, expired or revoked token (401) and
// ErrNotPermitted for a valid token without administrator rights (403).
type BearerFunc func(ctx context.Context, token string) (subject string, err error)

// WithBearerAuthorizer accepts the bearer access tokens f validates as
// administrators. The audit actor is "bearer:" and the subject.
func WithBearerAuthorizer(f BearerFunc) Option {
	return func(h *Handlers) error {
		if f == nil {
			return errors.New("handlers: nil bearer func")
		}
		h.authorizers = append(h.authorizers, bearerAuthorizer(f))
		return nil
	}
}

// WithAdminSessions accepts the session (cookie or X-Session-Token) of a
// user for whom isAdmin returns true. A valid session of another user gets
// 403. The audit actor is "admin:" and the user id.
func WithAdminSessions(isAdmin func(ctx context.Context, userID string) (bool, error)) Option {
	return func(h *Handlers) error {
		if isAdmin == nil {
			return errors.New("handlers: nil admin session func")
		}
		h.authorizers = append(h.authorizers, sessionAuthorizer(isAdmin))
		return nil
	}
}

// authorizeAdmin runs the authorizers, then the cross-origin check (see
// refuseCrossOrigin). On failure it has answered and returns false.
func (rq *request) authorizeAdmin(w http.ResponseWriter, r *http.Request) (Grant, bool) {
	denied := false
	for _, a := range rq.h.authorizers {
		g, err := a.Authorize(r)
		switch {
		case err == nil:
			if g.Actor == "" {
				g.Actor = "admin"
			}
			if rq.refuseCrossOrigin(w, r) {
				return Grant{}, false
			}
			return g, true
		case errors.Is(err, ErrNotPermitted):
			denied = true
		case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrInvalidCredentials):
		default:
			rq.internal(w, err)
			return Grant{}, false
		}
	}
	if denied {
		rq.fail(w, probNotPermitted)
	} else {
		rq.fail(w, probUnauthenticated)
	}
	return Grant{}, false
}

// tokenSchemes are the Authorization schemes that carry an API or access
// token, as authorization returns them.
var tokenSchemes = [...]string{"SSWS", "Bearer"}

// authorization returns the scheme and credentials of the Authorization
// header. present is false without one; ok is false for several. SSWS and
// Bearer are recognised in any case, with or without whitespace before the
// token (Okta's Python SDK v3 sends "SSWS<token>"), and returned as spelt
// in tokenSchemes.
func authorization(r *http.Request) (scheme, cred string, present, ok bool) {
	vs := r.Header.Values("Authorization")
	switch len(vs) {
	case 0:
		return "", "", false, false
	case 1:
	default:
		return "", "", true, false
	}
	v := strings.TrimSpace(vs[0])
	for _, s := range tokenSchemes {
		if len(v) >= len(s) && strings.EqualFold(v[:len(s)], s) {
			return s, strings.TrimSpace(v[len(s):]), true, true
		}
	}
	scheme, cred, _ = strings.Cut(v, " ")
	return scheme, strings.TrimSpace(cred), true, true
}

// apiScheme reports whether scheme is one that carries an API or access
// token.
func apiScheme(scheme string) bool {
	return strings.EqualFold(scheme, "SSWS") || strings.EqualFold(scheme, "Bearer")
}

type adminTokens struct {
	hashes [][sha256.Size]byte
}

// match reports whether token is one of the admin tokens. It compares with
// all of them, so the time taken does not tell which, or how close.
func (a *adminTokens) match(token string) ([sha256.Size]byte, bool) {
	sum := sha256.Sum256([]byte(token))
	found := 0
	for i := range a.hashes {
		found |= subtle.ConstantTimeCompare(a.hashes[i][:], sum[:])
	}
	return sum, found == 1
}

// fromRequest returns the hash of the admin token r presents, if it
// presents one.
func (a *adminTokens) fromRequest(r *http.Request) ([sha256.Size]byte, bool) {
	scheme, cred, _, ok := authorization(r)
	if !ok || !apiScheme(scheme) || cred == "" {
		return [sha256.Size]byte{}, false
	}
	return a.match(cred)
}

func (a *adminTokens) Authorize(r *http.Request) (Grant, error) {
	scheme, _, present, ok := authorization(r)
	switch {
	case !present:
		return Grant{}, ErrNoCredentials
	case !ok:
		return Grant{}, ErrInvalidCredentials
	case !apiScheme(scheme):
		return Grant{}, ErrNoCredentials
	}
	sum, ok := a.fromRequest(r)
	if !ok {
		return Grant{}, ErrInvalidCredentials
	}
	return Grant{Actor: "admin-token:" + hex.EncodeToString(sum[:4])}, nil
}

type bearerAuthorizer BearerFunc

func (f bearerAuthorizer) Authorize(r *http.Request) (Grant, error) {
	scheme, cred, present, ok := authorization(r)
	switch {
	case !present || (ok && !strings.EqualFold(scheme, "Bearer")):
		return Grant{}, ErrNoCredentials
	case !ok || cred == "":
		return Grant{}, ErrInvalidCredentials
	}
	subject, err := f(r.Context(), cred)
	if err != nil {
		return Grant{}, err
	}
	if subject == "" {
		sum := sha256.Sum256([]byte(cred))
		subject = hex.EncodeToString(sum[:4])
	}
	return Grant{Actor: "bearer:" + subject}, nil
}

type sessionAuthorizer func(ctx context.Context, userID string) (bool, error)

func (f sessionAuthorizer) Authorize(r *http.Request) (Grant, error) {
	cur, ok := revoke.FromContext(r.Context())
	if !ok {
		if rq := requestFrom(r.Context()); rq != nil && !errors.Is(rq.why, revoke.ErrNoSession) {
			return Grant{}, ErrInvalidCredentials
		}
		return Grant{}, ErrNoCredentials
	}
	admin, err := f(r.Context(), cur.UserID)
	switch {
	case err != nil:
		return Grant{}, err
	case !admin:
		return Grant{}, ErrNotPermitted
	}
	return Grant{Actor: "admin:" + cur.UserID}, nil
}
