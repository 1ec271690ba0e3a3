package revoke

import (
	"context"
	"errors"
	"net/http"

	"github.com/revokehq/revoke/store"
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
		cur, err := m.ResolveRequest(w, r)
		ctx := r.Context()
		switch {
		case err == nil:
			ctx = NewContext(ctx, cur)
		case Anonymous(err):
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
// Middleware: outside it no request has a session, and the first one is
// logged as an error.
func (m *Manager) RequireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			m.warnNoMiddleware(r)
			m.unauthorized.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// warnNoMiddleware logs, once per Manager, a guard reached by a request
// that did not go through the Middleware: no session can ever pass it, and
// a sign-in form behind RedirectToLogin sends the user back to itself.
func (m *Manager) warnNoMiddleware(r *http.Request) {
	if FailureReason(r.Context()) == ErrNoMiddleware && m.noMiddlewareWarned.CompareAndSwap(false, true) {
		m.logger.ErrorContext(r.Context(), "revoke: a route guarded by RequireSession, RedirectToLogin or RequireFresh "+
			"is not wrapped in m.Middleware, so no request can pass it: wrap the routes in m.Middleware",
			"method", r.Method, "path", r.URL.Path)
	}
}

// defaultErrorFunc answers a store failure with 500, or 503 and Retry-After
// when the store did not answer in time (store.ErrUnavailable).
func (m *Manager) defaultErrorFunc(w http.ResponseWriter, r *http.Request, err error) {
	m.logger.ErrorContext(r.Context(), "revoke: resolving session failed", "err", err, "method", r.Method, "path", r.URL.Path)
	status := http.StatusInternalServerError
	if errors.Is(err, store.ErrUnavailable) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(status), status)
}

func defaultUnauthorized(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"unauthorized","message":"a valid session is required"}` + "\n"))
}
