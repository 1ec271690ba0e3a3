package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
)

// benchSizes are the table sizes the cost curve is measured at. A million
// rows are left to the SQLite and in-memory benchmarks: seeding them here
// takes longer than the rest of the comparison.
var benchSizes = []int{1_000, 10_000, 100_000}

// revokeUsers is how many users a revoke benchmark revokes in turn before
// it makes their sessions active again.
const revokeUsers = 1000

// benchStore opens a Store in a schema of its own on the test server (see
// pgtest.DSN), dropped when the benchmark ends, or skips the benchmark when no
// server is reachable and none is named in REVOKE_TEST_POSTGRES.
func benchStore(b *testing.B) *Store {
	b.Helper()
	dsn, schema := pgtest.Schema(b, "pgstore_bench_", false)
	s, err := Open(context.Background(), dsn, WithSchema(schema), WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// seed copies n active sessions, five per user, into the table with COPY,
// and returns the tokens of about 4096 of them, spread over the table and
// shuffled.
func seed(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	now := ts(time.Now())
	stride := max(1, n/4096)
	var sample []string
	rows := make([][]any, 0, n)
	for i := range n {
		raw := make([]byte, 24)
		_, _ = rand.Read(raw)
		token := base64.RawURLEncoding.EncodeToString(raw)
		hash := sha256.Sum256([]byte(token))
		rows = append(rows, []any{store.NewID(), storebench.User(i), hash[:],
			now, now, now.Add(revoke.DefaultLifetime), now.Add(revoke.DefaultIdleTimeout),
			nil, "", "203.0.113.7",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			[]byte{}})
		if i%stride == 0 {
			sample = append(sample, token)
		}
	}
	cols := strings.Fields(strings.ReplaceAll(columns, ",", " "))
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{s.names.schemaName, s.names.tableName}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE "+s.names.table); err != nil {
		b.Fatal(err)
	}
	mathrand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	return sample
}

// unrevoke makes the sessions of the first k users active again, through
// the user index, so that a revoke benchmark can revoke them once more.
func (s *Store) unrevoke(b *testing.B, k int) {
	_, err := s.pool.Exec(context.Background(), s.names.expand(
		`UPDATE {table} SET revoked_at = NULL, revoke_reason = ''
		WHERE user_id < $1 AND revoked_at IS NOT NULL`), storebench.User(k*storebench.SessionsPerUser))
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAtSize measures, in tables of 1,000 to 100,000 sessions, the two
// operations whose cost must not grow with the table: resolving a token and
// revoking every session of one user (five of them). Each is a round trip
// to the server.
func BenchmarkAtSize(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			s := benchStore(b)
			// Sessions were all just seen: no last-seen write happens
			// during the run with the default interval either, and an
			// hour makes sure of it on a slow machine.
			m, err := revoke.New(s, revoke.WithTouchInterval(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			sample := seed(b, s, n)
			// Cancellable, as an HTTP request's context is.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// One pass over the sample, so that the server's caches and
			// the pool's connections are warm before timing starts.
			for _, token := range sample {
				if _, err := m.Resolve(ctx, token); err != nil {
					b.Fatal(err)
				}
			}

			b.Run("resolve", func(b *testing.B) { storebench.Resolve(b, ctx, m, sample) })

			b.Run("revoke-user", func(b *testing.B) {
				users := min(n/storebench.SessionsPerUser, revokeUsers)
				storebench.RevokeUser(b, m, users, func() { s.unrevoke(b, users) })
			})
		})
	}
}
