package sqlitestore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	mathrand "math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
)

// benchSizes are the store sizes the cost curve is measured at.
var benchSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// revokeUsers is how many users a revoke benchmark revokes in turn before
// it makes their sessions active again.
const revokeUsers = 1000

func benchToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openBench opens a store in a fresh directory, without background cleanup,
// and a Manager on it. The Manager writes last-seen at most once an hour:
// the sessions were all just seen, so no write would happen during the run
// with the default interval either, and an hour makes sure of it on a slow
// machine.
func openBench(b *testing.B) (*Store, *revoke.Manager) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "sessions.db"), WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	m, err := revoke.New(s, revoke.WithTouchInterval(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return s, m
}

// seed inserts n active sessions, five per user, in large transactions on
// the writer (going through Create, one transaction each, would make
// seeding a million rows take minutes), and returns the tokens of about
// 4096 of them, spread over the table and shuffled.
func seed(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	// A large page cache while seeding only; the default is put back so
	// that the benchmarks run with what an application gets.
	if _, err := s.w.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	stride := max(1, n/4096)
	var sample []string
	const batch = 50_000
	for start := 0; start < n; start += batch {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		insert := tx.StmtContext(ctx, s.insert)
		for i := start; i < min(start+batch, n); i++ {
			token := benchToken()
			hash := sha256.Sum256([]byte(token))
			_, err := insert.ExecContext(ctx, store.NewID(), storebench.User(i), hash[:],
				now.UnixNano(), now.UnixNano(),
				now.Add(revoke.DefaultLifetime).UnixNano(), now.Add(revoke.DefaultIdleTimeout).UnixNano(),
				nil, "", "203.0.113.7",
				"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
				nil, now.UnixNano())
			if err != nil {
				b.Fatal(err)
			}
			if i%stride == 0 {
				sample = append(sample, token)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []string{"ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA cache_size = -2000"} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			b.Fatal(q, err)
		}
	}
	mathrand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	return sample
}

// warm resolves every sampled token once and collects the seeding's
// garbage, so that the first benchmark after seeding does not pay for cold
// caches and a pending collection.
func warm(b *testing.B, m *revoke.Manager, sample []string) {
	b.Helper()
	for _, token := range sample {
		if _, err := m.Resolve(context.Background(), token); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
}

// unrevoke makes the sessions of the first k users active again, through
// the user index, so that a revoke benchmark can revoke them once more
// without the table growing.
func (s *Store) unrevoke(b *testing.B, k int) {
	_, err := s.w.ExecContext(context.Background(),
		`UPDATE sessions SET revoked_at = NULL, revoke_reason = ''
		WHERE user_id < ? AND revoked_at IS NOT NULL`, storebench.User(k*storebench.SessionsPerUser))
	if err != nil {
		b.Fatal(err)
	}
}

// requestContext is a context as an HTTP request's is: one that can be
// cancelled, which costs a query more than context.Background does.
func requestContext(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}

func benchResolve(b *testing.B, m *revoke.Manager, sample []string) {
	storebench.Resolve(b, requestContext(b), m, sample)
}

// BenchmarkAtSize measures, in stores of 1,000 to 1,000,000 sessions, the
// two operations whose cost must not grow with the store: resolving a token
// and revoking every session of one user (five of them). It also reports
// the database file's size per session.
func BenchmarkAtSize(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			s, m := openBench(b)
			sample := seed(b, s, n)
			warm(b, m, sample)

			b.Run("resolve", func(b *testing.B) {
				benchResolve(b, m, sample)
				var pages, pageSize int64
				if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
					b.Fatal(err)
				}
				if err := s.w.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(pages*pageSize)/float64(n), "file-B/session")
			})

			b.Run("revoke-user", func(b *testing.B) {
				users := min(n/storebench.SessionsPerUser, revokeUsers)
				storebench.RevokeUser(b, m, users, func() { s.unrevoke(b, users) })
			})
		})
	}
}

// BenchmarkResolveConcurrent resolves tokens in a store of 100,000 sessions
// from one goroutine ("serial") and from one per core ("parallel"), first
// while another goroutine keeps writing (every millisecond it creates a
// session and revokes a user's sessions; the rate it achieves is reported
// as writes/s), then with no writer ("idle"). Compare the ns/op: on n cores
// the parallel figure approaches serial/n when reads scale. Each commit
// makes SQLite drop the other connections' page caches, so reads cost more
// while a writer is busy.
func BenchmarkResolveConcurrent(b *testing.B) {
	const n = 100_000
	s, m := openBench(b)
	sample := seed(b, s, n)
	warm(b, m, sample)

	// writing runs the writer until the returned function is called, which
	// reports the writes per second it achieved.
	writing := func(b *testing.B) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		var writes atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			cause := revoke.Cause{Actor: "bench", Reason: revoke.ReasonAdminRevoked}
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				// Users past the seeded ones: the readers' sessions stay
				// active.
				user := fmt.Sprintf("writer-%d", i%1000)
				if _, _, err := m.Create(ctx, user, revoke.Device{IP: "203.0.113.9"}); err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if _, err := m.RevokeAll(ctx, user, cause); err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				writes.Add(2)
			}
		})
		return func() {
			cancel()
			wg.Wait()
			b.ReportMetric(float64(writes.Load())/time.Since(start).Seconds(), "writes/s")
		}
	}
	parallel := func(b *testing.B) {
		ctx := requestContext(b)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(997)) % len(sample) // each goroutine starts elsewhere
			for pb.Next() {
				if _, err := m.Resolve(ctx, sample[i]); err != nil {
					b.Error(err)
					return
				}
				if i++; i == len(sample) {
					i = 0
				}
			}
		})
	}

	b.Run("serial", func(b *testing.B) {
		stop := writing(b)
		benchResolve(b, m, sample)
		stop()
	})
	b.Run("parallel", func(b *testing.B) {
		stop := writing(b)
		parallel(b)
		stop()
	})
	b.Run("serial-idle", func(b *testing.B) { benchResolve(b, m, sample) })
	b.Run("parallel-idle", parallel)
}
