package cachestore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
)

// Touches of a cached session while other goroutines look it up, as a
// busy session's requests do: every lookup answers from a consistent copy
// (the race detector sees no write to the copy a lookup reads), and each
// goroutine sees the last-seen time only move forward.
func TestTouchDuringLookups(t *testing.T) {
	shared := memstore.New()
	t.Cleanup(func() { _ = shared.Close() })
	c := serving(t, shared, cachestore.WithLease(time.Minute))
	t.Cleanup(func() { _ = c.Close() })
	sess := cachedEverywhere(t, []*cachestore.Store{c})
	ctx := t.Context()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var last time.Time
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := c.GetByTokenHash(ctx, sess.TokenHash)
				if err != nil {
					t.Error(err)
					return
				}
				if !got.Active(time.Now()) || got.LastSeenAt.Before(last) {
					t.Errorf("lookup: active %v, last seen %v after %v", got.Active(time.Now()), got.LastSeenAt, last)
					return
				}
				last = got.LastSeenAt
			}
		})
	}
	// At least 200 touches, and on until the lookups have been answered
	// from the cache many times between them.
	seen, deadline := sess.LastSeenAt, time.Now().Add(10*time.Second)
	for i := 0; i < 200 || (c.Stats().Hits < 1000 && time.Now().Before(deadline)); i++ {
		seen = seen.Add(time.Millisecond)
		if err := c.Touch(ctx, sess.ID, seen, seen.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if c.Stats().Hits < 1000 {
		t.Fatal("the lookups were not answered from the cache")
	}
}
