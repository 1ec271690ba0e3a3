package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Source tells how a request presented its session.
type Source int

// The ways a session can be presented.
const (
	SourceNone   Source = iota // no session
	SourceHeader               // the X-Session-Token header
	SourceCookie               // the session cookie
)

// String returns "header", "cookie" or "none".
func (s Source) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourceCookie:
		return "cookie"
	}
	return "none"
}

// Current is the session resolved for a request, and how it was presented:
// some endpoints accept only a cookie, others only a header.
type Current struct {
	Session
	Source Source

	// bare is set when the token came from the bare token cookie (see
	// WithTokenCookie), which belongs to another library and is left alone.
	bare bool
}

type contextKey int

const (
	currentKey contextKey = iota
	failureKey
)

// currentCtx is a context carrying a request's session. It takes one
// allocation where context.WithValue takes two (the boxed value and the
// context), and FromContext copies the session out of it without another.
type currentCtx struct {
	context.Context
	cur Current
}

func (c *currentCtx) Value(key any) any {
	if key == any(currentKey) {
		return c
	}
	return c.Context.Value(key)
}

// String names the context without printing the session, as
// context.WithValue does for values that are not Stringers.
func (c *currentCtx) String() string {
	if s, ok := c.Context.(fmt.Stringer); ok {
		return s.String() + ".WithValue(revoke.Current)"
	}
	return "context.WithValue(revoke.Current)"
}

// FromContext returns the session the Middleware resolved for the request
// whose context is ctx. ok is false for an anonymous request.
func FromContext(ctx context.Context) (cur Current, ok bool) {
	if c, ok := ctx.Value(currentKey).(*currentCtx); ok {
		return c.cur, true
	}
	return Current{}, false
}

// FailureReason returns why the Middleware left the request anonymous:
// ErrNoSession, ErrMalformedToken, ErrUnknownToken, ErrRevoked or ErrExpired.
// It returns nil when the request has a session.
func FailureReason(ctx context.Context) error {
	if _, ok := FromContext(ctx); ok {
		return nil
	}
	if err, ok := ctx.Value(failureKey).(error); ok {
		return err
	}
	return ErrNoSession
}

// NewContext returns a copy of ctx carrying cur, as the Middleware does. It
// is useful in tests of handlers that read FromContext.
func NewContext(ctx context.Context, cur Current) context.Context {
	return &currentCtx{Context: ctx, cur: cur}
}

// Middleware resolves the session of every request: from the
// X-Session-Token header when present, else from the session cookie. A
// valid session is put into the request context (see FromContext). An
// invalid, expired or revoked token leaves the request anonymous, and a
// stale cookie is expired; it never fails the request. Only a store failure
// stops the request, through the error func (see WithErrorFunc).
//
// The session's last-seen time is written at most once per touch interval.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, err := m.resolveRequest(r)
		ctx := r.Context()
		switch {
		case err == nil:
			ctx = NewContext(ctx, cur)
		case isTokenError(err) || errors.Is(err, ErrNoSession):
			if cur.Source == SourceCookie && !cur.bare {
				m.expireSignedCookie(w)
			}
			if err == ErrNoSession && ctx.Value(failureKey) == nil {
				// FailureReason already says ErrNoSession for this
				// context: a request without a token, the common case on
				// public pages, needs no copy.
				next.ServeHTTP(w, r)
				return
			}
			ctx = context.WithValue(ctx, failureKey, err)
		default:
			m.errorFunc(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequireSession answers requests without a valid session with 401 (see
// WithUnauthorizedHandler) and passes the others on. Use it inside
// Middleware.
func (m *Manager) RequireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			m.unauthorized.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ResolveRequest resolves the session r presents exactly as Middleware does
// (X-Session-Token first, then the cookie; last-seen writes throttled), but
// leaves the response to the caller, for handlers that must answer a store
// failure in their own error format. The returned Current's Source tells how
// the token was presented, even when resolution fails. The error is nil for a
// usable session; ErrNoSession, ErrMalformedToken, ErrUnknownToken,
// ErrRevoked and ErrExpired mean the request is anonymous; any other error is
// a store failure.
func (m *Manager) ResolveRequest(r *http.Request) (Current, error) {
	return m.resolveRequest(r)
}

// resolveRequest returns the session r presents. A token error
// (isTokenError) means the request is anonymous; any other error is a store
// failure.
func (m *Manager) resolveRequest(r *http.Request) (Current, error) {
	token, src, bare, err := m.tokenOf(r)
	cur := Current{Source: src, bare: bare}
	if err != nil {
		return cur, err
	}
	now := m.now()
	s, err := m.resolve(r.Context(), token, now)
	if err == nil {
		s, err = m.touch(r.Context(), s, now)
	}
	if err != nil {
		return cur, err
	}
	cur.Session = s
	return cur, nil
}

// tokenOf finds the token a request presents. The header wins over the
// cookie, as in Ory Kratos: a client that sends a header means it.
// bare reports that the token came from the bare token cookie.
func (m *Manager) tokenOf(r *http.Request) (token string, src Source, bare bool, err error) {
	if vs := r.Header.Values(HeaderName); len(vs) > 0 {
		if len(vs) > 1 {
			return "", SourceHeader, false, ErrMalformedToken
		}
		return vs[0], SourceHeader, false, nil
	}
	token, found, bare, err := m.tokenFromCookie(r)
	switch {
	case !found:
		return "", SourceNone, false, ErrNoSession
	case err != nil:
		return "", SourceCookie, bare, err
	}
	return token, SourceCookie, bare, nil
}

// current returns the session of r: the one the Middleware put in its
// context, or else the one r presents, for routes outside the Middleware.
func (m *Manager) current(r *http.Request) (Current, error) {
	if cur, ok := FromContext(r.Context()); ok {
		return cur, nil
	}
	return m.resolveRequest(r)
}

func isTokenError(err error) bool {
	return errors.Is(err, ErrMalformedToken) || errors.Is(err, ErrUnknownToken) ||
		errors.Is(err, ErrRevoked) || errors.Is(err, ErrExpired)
}

func (m *Manager) defaultErrorFunc(w http.ResponseWriter, r *http.Request, err error) {
	m.logger.ErrorContext(r.Context(), "revoke: resolving session failed", "err", err, "method", r.Method, "path", r.URL.Path)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

func defaultUnauthorized(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"unauthorized","message":"a valid session is required"}` + "\n"))
}
