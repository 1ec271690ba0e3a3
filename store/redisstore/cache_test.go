package redisstore

import (
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/storetest"
)

// cached returns a cache in front of st once it serves; it closes st when
// the test ends.
func cached(t *testing.T, st *Store, opts ...cachestore.Option) *cachestore.Store {
	t.Helper()
	c, err := cachestore.New(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for deadline := time.Now().Add(wait); !c.Stats().Serving; {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not start serving")
		}
		time.Sleep(time.Millisecond)
	}
	return c
}

// TestConformanceThroughCache runs the suite on a cache in front of the
// Store, answering lookups from memory.
func TestConformanceThroughCache(t *testing.T) {
	redistest.URL(t)
	var hits uint64
	storetest.Run(t, func(t *testing.T) store.SessionStore {
		c := cached(t, open(t))
		t.Cleanup(func() { hits += c.Stats().Hits })
		return c
	})
	if hits == 0 {
		t.Fatal("no lookup was answered from the cache")
	}
}

// TestCachesAcrossInstances puts a cache in front of each of two Stores on
// one prefix, as two app instances would, and checks that a write made
// through one is seen by the other's very next lookup, also after the
// other's pub/sub connection was killed.
func TestCachesAcrossInstances(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	ropts, err := redis.ParseURL(url)
	is.NoErr(err)
	ropts.ClientName = "revoketest-b-" + store.NewID()[:8]
	ropts.ContextTimeoutEnabled = true
	rb := redis.NewClient(ropts)
	t.Cleanup(func() { rb.Close() })
	sb, err := New(ctx, rb, WithPrefix(prefix), WithCleanupInterval(0))
	is.NoErr(err)
	a, b := cached(t, openShared(t, url, prefix)), cached(t, sb)

	// active reports whether b finds the session active, twice, so that
	// the second answer comes from its cache when it caches.
	active := func(s store.Session) bool {
		t.Helper()
		var on bool
		for range 2 {
			got, err := b.GetByTokenHash(ctx, s.TokenHash)
			is.NoErr(err)
			on = got.Active(time.Now())
		}
		return on
	}
	for i := range 20 {
		now := time.Now()
		s := storetest.NewSession("alice", now)
		is.NoErr(a.Create(ctx, s))
		is.True(active(s))
		switch i % 3 {
		case 0:
			_, err = a.Revoke(ctx, store.Selection{UserID: "alice", SessionID: s.ID}, now, "one")
		case 1:
			_, err = a.Revoke(ctx, store.Selection{UserID: "alice"}, now, "all")
		case 2:
			// b's subscription breaks first: it must resolve from the
			// store until it listens again.
			id := pubsubClient(t, rb, ropts.ClientName)
			is.True(id != "")
			is.NoErr(rb.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
			_, err = a.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: "none"}, now, "but")
		}
		is.NoErr(err)
		is.True(!active(s)) // revoked on b from its next lookup on
	}

	s := storetest.NewSession("bob", time.Now())
	is.NoErr(a.Create(ctx, s))
	is.True(active(s))
	renewed := storetest.NewTokenHash()
	is.NoErr(a.ReplaceToken(ctx, s.ID, renewed, time.Now()))
	_, err = b.GetByTokenHash(ctx, s.TokenHash)
	is.True(err != nil) // the old token is gone on b too
	if b.Stats().Hits == 0 {
		t.Fatal("b answered no lookup from its cache")
	}
}
