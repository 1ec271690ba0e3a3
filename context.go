package revoke

import (
	"context"
	"errors"
	"fmt"
)

// Current is the session resolved for a request, and how it was presented:
// some endpoints accept only a cookie, others only a header.
type Current struct {
	Session
	Source Source

	// bare is set when the token came from the bare token cookie (see
	// WithTokenCookie), which belongs to another library and is left alone.
	bare bool
	// stale is set when the signed session cookie is what failed, so that
	// resolution expires it.
	stale bool
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
// ErrNoSession, ErrMalformedToken, ErrUnknownToken, ErrRevoked, ErrExpired
// or ErrAmbiguousSession. It returns nil when the request has a session,
// and ErrNoMiddleware when the request never went through the Middleware,
// whatever it carried.
func FailureReason(ctx context.Context) error {
	if _, ok := FromContext(ctx); ok {
		return nil
	}
	if err, ok := ctx.Value(failureKey).(error); ok {
		return err
	}
	return ErrNoMiddleware
}

// ErrNoMiddleware is FailureReason's answer for a request that did not go
// through Manager.Middleware: no one looked for its session.
var ErrNoMiddleware = errors.New("revoke: no session resolved: the request did not go through Manager.Middleware")

// NewContext returns a copy of ctx carrying cur, as the Middleware does. It
// is useful in tests of handlers that read FromContext.
func NewContext(ctx context.Context, cur Current) context.Context {
	return &currentCtx{Context: ctx, cur: cur}
}
