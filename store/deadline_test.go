package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

func TestCallContext(t *testing.T) {
	ctx, cancel := store.CallContext(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if err := store.Unavailable(fmt.Errorf("query: %w", ctx.Err())); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a passed deadline is %v", err)
	}
	unbounded, cancel := store.CallContext(context.Background(), 0)
	defer cancel()
	if _, ok := unbounded.Deadline(); ok {
		t.Fatal("a zero timeout set a deadline")
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := store.Unavailable(canceled.Err()); errors.Is(err, store.ErrUnavailable) {
		t.Fatal("a canceled call is not an unavailable store")
	}
	if store.Unavailable(nil) != nil {
		t.Fatal("nil is nil")
	}
}
