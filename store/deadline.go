package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultCallTimeout bounds each call of a backend that talks to a database,
// unless its WithCallTimeout option says otherwise: a database that stops
// answering makes a call fail with ErrUnavailable in this time, rather than
// hold the request for as long as the outage lasts.
const DefaultCallTimeout = 5 * time.Second

// CallContext returns ctx bounded by timeout, for one call of a backend; a
// timeout of zero or less leaves ctx as it is. A sooner deadline that ctx
// already has still applies.
func CallContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// Unavailable returns err marked with ErrUnavailable when it comes from a
// deadline passing (context.DeadlineExceeded), so that callers can tell a
// store that did not answer in time, and answer 503, from other failures.
// Any other error is returned as it is.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
