package cachestore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/redisstore"
	"github.com/revokehq/revoke/store/storetest"
)

// backends open a fresh store of each kind for a benchmark, or skip it.
var backends = []struct {
	name string
	open func(b *testing.B) store.SessionStore
}{
	{"memory", func(*testing.B) store.SessionStore { return memstore.New() }},
	{"postgres", func(b *testing.B) store.SessionStore {
		dsn, schema := pgtest.Schema(b, "cachebench_", false)
		st, err := pgstore.Open(context.Background(), dsn, pgstore.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}},
	{"redis", func(b *testing.B) store.SessionStore {
		url := redistest.URL(b)
		st, err := redisstore.Open(context.Background(), url, redisstore.WithPrefix(redistest.Prefix(b, url)))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}},
}

// BenchmarkLookup resolves one active token from each store directly and
// through a cache that holds it: the ratio of the two is what the cache
// saves per request. The cache-hit runs report the lookups that went to
// the store after all (misses/op): a cache that stops serving, for a lease
// renewed late on a busy machine, sends them there, and its figure is then
// not that of a hit.
func BenchmarkLookup(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for _, cached := range []bool{false, true} {
				name := "store"
				if cached {
					name = "cache-hit"
				}
				b.Run(name, func(b *testing.B) {
					st := be.open(b)
					if cached {
						c, err := cachestore.New(st)
						if err != nil {
							b.Skip(err)
						}
						st = c
						for !c.Stats().Serving {
							time.Sleep(time.Millisecond)
						}
					}
					b.Cleanup(func() { _ = st.Close() })
					sess := storetest.NewSession("alice", time.Now())
					ctx := context.Background()
					if err := st.Create(ctx, sess); err != nil {
						b.Fatal(err)
					}
					// The first lookup fills the cache.
					if _, err := st.GetByTokenHash(ctx, sess.TokenHash); err != nil {
						b.Fatal(err)
					}
					var before cachestore.Stats
					if c, ok := st.(*cachestore.Store); ok {
						before = c.Stats()
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := st.GetByTokenHash(ctx, sess.TokenHash); err != nil {
							b.Fatal(err)
						}
					}
					if c, ok := st.(*cachestore.Store); ok {
						b.ReportMetric(float64(c.Stats().Misses-before.Misses)/float64(b.N), "misses/op")
					}
				})
			}
		})
	}
}

// BenchmarkRevoke revokes one session on each store alone ("store") and
// through a cache with three instances listening ("3-instances"): the
// write, then the barrier and every instance's acknowledgement. Besides the
// mean it reports the median and the 99th percentile of the revocations
// (p50-ns, p99-ns), since a barrier's wait is what a tail is made of.
func BenchmarkRevoke(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			b.Run("store", func(b *testing.B) {
				st := be.open(b)
				b.Cleanup(func() { _ = st.Close() })
				benchRevoke(b, st)
			})
			b.Run("3-instances", func(b *testing.B) {
				st := be.open(b)
				shared, ok := st.(cachestore.Backend)
				if !ok {
					b.Skipf("%T is not a cachestore.Backend", st)
				}
				var caches []*cachestore.Store
				for range 3 {
					c, err := cachestore.New(nonClosing{shared})
					if err != nil {
						b.Skip(err)
					}
					caches = append(caches, c)
					b.Cleanup(func() { _ = c.Close() })
				}
				b.Cleanup(func() { _ = st.Close() })
				for _, c := range caches {
					for !c.Stats().Serving {
						time.Sleep(time.Millisecond)
					}
				}
				benchRevoke(b, caches[0])
				if lapses := caches[0].Stats().SettledByLapse; lapses > 0 {
					b.Fatalf("%d instances were waited out: the figure is not that of healthy instances", lapses)
				}
			})
		})
	}
}

// benchRevoke times revocations of one fresh session each on st, and
// reports their median and 99th percentile beside the mean.
func benchRevoke(b *testing.B, st store.SessionStore) {
	ctx := context.Background()
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		sess := storetest.NewSession("alice", time.Now())
		if err := st.Create(ctx, sess); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := st.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, time.Now(), "bench"); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	pct := func(p float64) float64 { return float64(took[min(len(took)-1, int(p*float64(len(took))))]) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

// nonClosing lets several caches in one process share a store, which the
// benchmark closes once.
type nonClosing struct{ cachestore.Backend }

func (nonClosing) Close() error { return nil }
