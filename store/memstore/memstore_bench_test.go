package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/storebench"
)

// benchSizes are the store sizes the cost curve is measured at.
var benchSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// benchDevice is a typical browser, so that the memory per session counts a
// realistic user agent and address. Each session gets its own copy of the
// strings, as it does from the request that created it.
func benchDevice() revoke.Device {
	return revoke.Device{
		IP:        strings.Clone("203.0.113.7"),
		UserAgent: strings.Clone("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"),
	}
}

// seed creates n sessions through m, five per user, and returns the tokens
// of about 4096 of them, spread over the store and shuffled, for lookups
// that do not all hit the same cache lines.
func seed(b *testing.B, m *revoke.Manager, n int) []string {
	b.Helper()
	ctx := context.Background()
	stride := max(1, n/4096)
	var sample []string
	for i := range n {
		_, token, err := m.Create(ctx, storebench.User(i), benchDevice())
		if err != nil {
			b.Fatal(err)
		}
		if i%stride == 0 {
			sample = append(sample, token)
		}
	}
	rand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	return sample
}

// unrevoke makes the sessions of users[:k] active again, so that a revoke
// benchmark can revoke them once more without the store growing.
func (s *Store) unrevoke(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u := range k {
		for p := range s.byUser[storebench.User(u*storebench.SessionsPerUser)] {
			p.RevokedAt, p.RevokeReason = time.Time{}, ""
		}
	}
}

// BenchmarkAtSize measures, in stores of 1,000 to 1,000,000 sessions, the
// two operations whose cost must not grow with the store: resolving a token
// and revoking every session of one user (five of them).
func BenchmarkAtSize(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			st := New()
			defer st.Close()
			// Sessions were all just seen: with the default interval no
			// last-seen write happens during the run either way, and an
			// hour makes sure of it on a slow machine.
			m, err := revoke.New(st, revoke.WithTouchInterval(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			sample := seed(b, m, n)
			ctx := context.Background()
			// Collect the seeding's garbage now rather than during the
			// first benchmark.
			runtime.GC()

			b.Run("resolve", func(b *testing.B) { storebench.Resolve(b, ctx, m, sample) })

			b.Run("revoke-user", func(b *testing.B) {
				users := min(n/storebench.SessionsPerUser, 1000)
				storebench.RevokeUser(b, m, users, func() { st.unrevoke(users) })
			})
		})
	}
}

// BenchmarkMemoryPerSession reports the heap held per stored session, with
// a typical user agent and address: revoke's memstore against scs's
// memstore holding a session with the user id in it.
func BenchmarkMemoryPerSession(b *testing.B) {
	const n = 100_000
	measure := func(b *testing.B, fill func() any) {
		var perSession float64
		for b.Loop() {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			kept := fill()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perSession = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
			runtime.KeepAlive(kept)
		}
		b.ReportMetric(perSession, "B/session")
	}
	b.Run("revoke", func(b *testing.B) {
		measure(b, func() any {
			st := New()
			m, err := revoke.New(st)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range n {
				if _, _, err := m.Create(ctx, storebench.User(i), benchDevice()); err != nil {
					b.Fatal(err)
				}
			}
			return st
		})
	})
	b.Run("scs", func(b *testing.B) {
		measure(b, func() any {
			sm := scs.New()
			sm.Store = scsmem.NewWithCleanupInterval(0)
			for i := range n {
				ctx, err := sm.Load(context.Background(), "")
				if err != nil {
					b.Fatal(err)
				}
				sm.Put(ctx, "userID", storebench.User(i))
				if _, _, err := sm.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			return sm
		})
	})
}
