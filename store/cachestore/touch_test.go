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
	c := serving(t, shared)
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
	seen := sess.LastSeenAt
	for range 200 {
		seen = seen.Add(time.Millisecond)
		if err := c.Touch(ctx, sess.ID, seen, seen.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if c.Stats().Hits < 2 {
		t.Fatal("the lookups were not answered from the cache")
	}
}
