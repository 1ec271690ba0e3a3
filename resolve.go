package revoke

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/revokehq/revoke/internal/otelstore"
	"github.com/revokehq/revoke/store"
)

// maxCookieTokens bounds the store lookups one request's cookies can cost:
// more distinct tokens than this are ambiguous without a lookup.
const maxCookieTokens = 4

// Anonymous reports whether err, from ResolveRequest or Resolve, means that
// the request has no usable session (ErrNoSession, ErrMalformedToken,
// ErrUnknownToken, ErrRevoked, ErrExpired, ErrAmbiguousSession) rather than
// that the store failed.
func Anonymous(err error) bool {
	return errors.Is(err, ErrNoSession) || errors.Is(err, ErrMalformedToken) ||
		errors.Is(err, ErrUnknownToken) || errors.Is(err, ErrRevoked) ||
		errors.Is(err, ErrExpired) || errors.Is(err, ErrAmbiguousSession)
}

// ResolveRequest resolves the session r presents exactly as Middleware does,
// for handlers that answer in their own format: X-Session-Token first, then
// the session cookies; last-seen writes throttled; and on w, when the signed
// session cookie is what failed, that cookie is expired. A bare token
// cookie (WithTokenCookie) belongs to the library that set it, and is never
// expired here, nor is any cookie of an ambiguous request. w may be nil.
//
// The returned Current's Source tells how the token was presented, even when
// resolution fails. The error is nil for a usable session; for an anonymous
// request Anonymous(err) is true; any other error is a store failure.
func (m *Manager) ResolveRequest(w http.ResponseWriter, r *http.Request) (Current, error) {
	cur, err := m.resolveRequest(r)
	if w != nil && cur.stale {
		m.expireSignedCookie(w)
	}
	return cur, err
}

// resolveRequest is ResolveRequest without the response. A session that
// has no device yet (an scs session) gets r's.
func (m *Manager) resolveRequest(r *http.Request) (Current, error) {
	cur, err := m.resolveTokens(r)
	m.tel.resolution(r.Context(), err)
	if err == nil && cur.IP == "" && cur.UserAgent == "" {
		m.recordDevice(r, &cur)
	}
	return cur, err
}

// recordDevice records r's device on cur's session, when the store can.
func (m *Manager) recordDevice(r *http.Request, cur *Current) {
	rec, ok := m.store.(store.DeviceRecorder)
	if !ok {
		return
	}
	d := m.DeviceOf(r)
	if len(d.UserAgent) > maxUserAgent {
		d.UserAgent = d.UserAgent[:maxUserAgent]
	}
	if err := m.calls.Do(r.Context(), otelstore.OpRecordDevice, cur.ID, func(ctx context.Context) error {
		return rec.RecordDevice(ctx, cur.ID, d.IP, d.UserAgent)
	}); err != nil {
		m.logger.WarnContext(r.Context(), "revoke: record the device of a session", "session", cur.ID, "err", err)
		return
	}
	cur.IP, cur.UserAgent = d.IP, d.UserAgent
}

// resolveTokens finds and resolves the token r presents.
func (m *Manager) resolveTokens(r *http.Request) (Current, error) {
	ctx, now := r.Context(), m.now()
	if vs := r.Header.Values(HeaderName); len(vs) > 0 {
		// The header wins over the cookie, as in Ory Kratos: a client that
		// sends a header means it.
		cur := Current{Source: SourceHeader}
		if len(vs) > 1 {
			return cur, ErrMalformedToken
		}
		return m.touched(ctx, cur, vs[0], now)
	}
	signed, bare, signedSeen := m.cookieTokens(r)
	if !signedSeen && len(bare) == 0 {
		return Current{}, ErrNoSession
	}
	cur := Current{Source: SourceCookie}
	err := error(ErrNoSession)
	if signedSeen {
		var s Session
		if s, err = m.pick(ctx, signed, now); err == nil {
			return m.touchedSession(ctx, cur, s, now)
		}
		if !Anonymous(err) || errors.Is(err, ErrAmbiguousSession) {
			return cur, err
		}
	}
	if len(bare) > 0 {
		s, berr := m.pick(ctx, bare, now)
		switch {
		case berr == nil:
			cur.bare = true
			return m.touchedSession(ctx, cur, s, now)
		case !Anonymous(berr) || errors.Is(berr, ErrAmbiguousSession) || !signedSeen:
			cur.bare = true
			return cur, berr
		}
	}
	cur.stale = true // the signed cookie is what failed
	return cur, err
}

// pick returns the one usable session that tokens name. With several
// tokens, all the usable ones must name the same session: otherwise the
// request is ambiguous. With none usable, the error is the first token's.
func (m *Manager) pick(ctx context.Context, tokens []string, now time.Time) (Session, error) {
	switch {
	case len(tokens) == 0:
		return Session{}, ErrMalformedToken // no cookie passed the signature check
	case len(tokens) > maxCookieTokens:
		return Session{}, ErrAmbiguousSession
	}
	var (
		picked Session
		found  bool
		first  error
	)
	for _, t := range tokens {
		s, err := m.resolve(ctx, t, now)
		switch {
		case err == nil && found && s.ID != picked.ID:
			return Session{}, ErrAmbiguousSession
		case err == nil:
			picked, found = s, true
		case !Anonymous(err):
			return Session{}, err
		case first == nil:
			first = err
		}
	}
	if !found {
		return Session{}, first
	}
	return picked, nil
}

// touched resolves token into cur at now and records the activity.
func (m *Manager) touched(ctx context.Context, cur Current, token string, now time.Time) (Current, error) {
	s, err := m.resolve(ctx, token, now)
	if err != nil {
		return cur, err
	}
	return m.touchedSession(ctx, cur, s, now)
}

// touchedSession records the activity on s, resolved at now, into cur.
func (m *Manager) touchedSession(ctx context.Context, cur Current, s Session, now time.Time) (Current, error) {
	s, err := m.touch(ctx, s, now)
	if err != nil {
		return cur, err
	}
	cur.Session = s
	return cur, nil
}

// current returns the session of r: the one the Middleware put in its
// context, or else the one r presents, for routes outside the Middleware.
func (m *Manager) current(r *http.Request) (Current, error) {
	if cur, ok := FromContext(r.Context()); ok {
		return cur, nil
	}
	return m.resolveRequest(r)
}

// Resolve returns the active session a token belongs to. It fails with
// ErrMalformedToken, ErrUnknownToken, ErrRevoked or ErrExpired, or with a
// wrapped store error when the store fails.
func (m *Manager) Resolve(ctx context.Context, token string) (Session, error) {
	s, err := m.resolve(ctx, token, m.now())
	m.tel.resolution(ctx, err)
	return s, err
}

// touch records activity on s at now when the touch interval has passed
// since it was last written, and returns s as it now stands.
func (m *Manager) touch(ctx context.Context, s Session, now time.Time) (Session, error) {
	if now.Sub(s.LastSeenAt) < m.touchInterval {
		return s, nil
	}
	idle := m.idleDeadline(now)
	err := m.calls.Touch(ctx, s.ID, now, idle)
	switch {
	case errors.Is(err, store.ErrInactive), errors.Is(err, store.ErrNotFound):
		// Revoked or deleted between the lookup and now.
		return Session{}, ErrRevoked
	case err != nil:
		// The session is valid; a lost last-seen update is not worth
		// failing the request for.
		m.logger.WarnContext(ctx, "revoke: touch session failed", "session", s.ID, "err", err)
		return s, nil
	}
	if idle.After(s.ExpiresAt) {
		idle = s.ExpiresAt
	}
	s.LastSeenAt, s.IdleExpiresAt = now, idle
	return s, nil
}

// resolve is Resolve at the time now, which the middleware reads once per
// request for the lookup and the touch alike.
func (m *Manager) resolve(ctx context.Context, token string, now time.Time) (Session, error) {
	if !ValidToken(token) {
		return Session{}, ErrMalformedToken
	}
	hash := HashToken(token)
	s, err := m.calls.GetByTokenHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrUnknownToken
	}
	if err != nil {
		return Session{}, fmt.Errorf("revoke: resolve session: %w", err)
	}
	// The lookup was by hash already; comparing again in constant time
	// keeps a lenient backend from ever matching a near miss.
	if subtle.ConstantTimeCompare(s.TokenHash[:], hash[:]) != 1 {
		return Session{}, ErrUnknownToken
	}
	switch {
	case s.UserID == "":
		// An anonymous session (scs keeps those) is nobody's login.
		return Session{}, ErrUnknownToken
	case s.Revoked():
		return Session{}, ErrRevoked
	case s.Expired(now):
		return Session{}, ErrExpired
	}
	return s, nil
}
