package cachestore_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// TestNoLateAccepts resolves sessions on three caches while another
// goroutine revokes them one by one on a random cache and the instances
// are frozen, cut and broken at random: no lookup that starts after a
// revocation returned may find the session active.
func TestNoLateAccepts(t *testing.T) {
	_, ins, caches := fleet(t, 3, 200*time.Millisecond)
	ctx := t.Context()
	var sessions []store.Session
	for range 40 {
		s := storetest.NewSession("u"+store.NewID()[:4], time.Now())
		if err := caches[0].Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	var (
		clock    atomic.Int64 // moves once per returned revocation
		returned sync.Map     // session id -> clock after its revocation returned
		lookups  atomic.Int64
		late     atomic.Int64
	)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range caches {
		for range 3 {
			wg.Go(func() {
				for runCtx.Err() == nil {
					s := sessions[rand.IntN(len(sessions))]
					began := clock.Load()
					got, err := c.GetByTokenHash(runCtx, s.TokenHash)
					if err != nil {
						continue
					}
					lookups.Add(1)
					if at, ok := returned.Load(s.ID); ok && at.(int64) <= began && !got.Revoked() {
						late.Add(1)
						t.Errorf("instance %s accepted session %s after its revocation returned", c.Instance(), s.ID)
					}
				}
			})
		}
	}
	wg.Go(func() { // faults
		for runCtx.Err() == nil {
			in := ins[rand.IntN(len(ins))]
			switch rand.IntN(3) {
			case 0:
				in.hold()
				time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
				in.resume()
			case 1:
				in.cut()
			case 2:
				in.breakSubscription()
			}
			time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		}
	})
	for _, s := range sessions {
		c := caches[rand.IntN(len(caches))]
		if _, err := c.Revoke(ctx, store.Selection{UserID: s.UserID, SessionID: s.ID}, time.Now(), "test"); err != nil {
			t.Fatal(err)
		}
		returned.Store(s.ID, clock.Add(1))
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	var hits uint64
	for _, c := range caches {
		hits += c.Stats().Hits
	}
	t.Logf("%d lookups (%d from a cache), %d revocations, %d late accepts", lookups.Load(), hits, len(sessions), late.Load())
	if hits == 0 {
		t.Fatal("no lookup was answered from a cache: the test proves nothing")
	}
}
