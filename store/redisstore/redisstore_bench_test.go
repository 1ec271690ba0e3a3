package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// benchSizes are the store sizes the cost curve is measured at; sessions
// are created one call each, which bounds how many are worth seeding.
var benchSizes = []int{1_000, 10_000, 100_000}

// benchStore opens a Store under a prefix of its own on the test server,
// deleted when the benchmark ends, or skips when none is reachable.
func benchStore(b *testing.B) *Store {
	b.Helper()
	url := redistest.URL(b)
	s, err := Open(context.Background(), url, WithPrefix(redistest.Prefix(b, url)), WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// seed creates n sessions through m, five per user, and returns the tokens
// of about 4096 of them, shuffled.
func seed(b *testing.B, m *revoke.Manager, n int) []string {
	b.Helper()
	ctx := context.Background()
	stride := max(1, n/4096)
	var sample []string
	for i := range n {
		_, token, err := m.Create(ctx, storebench.User(i), revoke.Device{IP: "192.0.2.1", UserAgent: "bench"})
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

// unrevoke makes the sessions of the first k users active again, so that
// a revoke benchmark can revoke them once more.
func (s *Store) unrevoke(b *testing.B, k int) {
	ctx := context.Background()
	for u := range k {
		user := storebench.User(u * storebench.SessionsPerUser)
		list, err := s.List(ctx, user)
		if err != nil {
			b.Fatal(err)
		}
		for _, sess := range list {
			s.rdb.HDel(ctx, s.prefix+"s:"+sess.ID, fRevoked, fReason)
			s.rdb.ZAdd(ctx, s.prefix+"a:"+user, redisZ(member(micros(sess.CreatedAt), sess.ID)))
		}
	}
}

// BenchmarkAtSize measures, in stores of 1,000 to 100,000 sessions, the
// two operations whose cost must not grow with the store: resolving a
// token and revoking every session of one user (five of them).
func BenchmarkAtSize(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			s := benchStore(b)
			m, err := revoke.New(s, revoke.WithTouchInterval(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			sample := seed(b, m, n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.Run("resolve", func(b *testing.B) { storebench.Resolve(b, ctx, m, sample) })
			b.Run("revoke-user", func(b *testing.B) {
				users := min(n/storebench.SessionsPerUser, 1000)
				storebench.RevokeUser(b, m, users, func() { s.unrevoke(b, users) })
			})
		})
	}
}

func redisZ(m string) redis.Z { return redis.Z{Member: m} }

// noticeChan is a NoticeHandler that passes the notices on, and says
// when it listens.
type noticeChan struct {
	notices   chan store.Notice
	listening chan struct{}
}

func (c noticeChan) Listening()            { c.listening <- struct{}{} }
func (c noticeChan) Lost(error)            {}
func (c noticeChan) Notice(n store.Notice) { c.notices <- n }

// BenchmarkNotices measures, on one listening Store, a revocation until
// its listener has its invalidation, and a barrier until the listener has
// it: the cost a cached revocation adds to reach one instance.
func BenchmarkNotices(b *testing.B) {
	s := benchStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := noticeChan{make(chan store.Notice, 16), make(chan struct{}, 16)}
	go s.Listen(ctx, "bench", h)
	select {
	case <-h.listening:
	case <-time.After(10 * time.Second):
		b.Fatal("the listener does not listen")
	}
	ch := h.notices
	b.Run("revoke", func(b *testing.B) {
		now := time.Now()
		for b.Loop() {
			b.StopTimer()
			sess := storetest.NewSession("alice", now)
			if err := s.Create(ctx, sess); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, now, "bench"); err != nil {
				b.Fatal(err)
			}
			if n := <-ch; n.SessionID != sess.ID {
				b.Fatalf("got %+v", n)
			}
		}
	})
	b.Run("barrier", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Barrier(ctx, "bench", "b"); err != nil {
				b.Fatal(err)
			}
			if n := <-ch; n.Kind != store.NoticeBarrier {
				b.Fatalf("got %+v", n)
			}
		}
	})
}
