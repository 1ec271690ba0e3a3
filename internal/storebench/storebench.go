// Package storebench holds the benchmark bodies every store backend runs,
// so that their figures in BENCHMARKS.md measure the same work.
package storebench

import (
	"context"
	"fmt"
	"testing"

	"github.com/revokehq/revoke"
)

// SessionsPerUser is how many sessions each seeded user has: a revocation
// of one user's sessions revokes this many.
const SessionsPerUser = 5

// User returns the user of the i-th seeded session.
func User(i int) string { return fmt.Sprintf("user-%07d", i/SessionsPerUser) }

// Resolve resolves the tokens of sample in turn, one per iteration, under
// ctx (an HTTP request's context can be cancelled, which costs some stores
// more than context.Background does).
func Resolve(b *testing.B, ctx context.Context, m *revoke.Manager, sample []string) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Resolve(ctx, sample[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(sample) {
			i = 0
		}
	}
}

// RevokeUser revokes all of one seeded user's sessions per iteration, the
// first users in turn; after that many, and when it returns, it calls
// restore, off the clock, to make their sessions active again, so that it
// can run again on the same store (go test -count).
func RevokeUser(b *testing.B, m *revoke.Manager, users int, restore func()) {
	ctx := context.Background()
	cause := revoke.Cause{Actor: "bench", Reason: revoke.ReasonAdminRevoked}
	b.ReportAllocs()
	u := 0
	for b.Loop() {
		k, err := m.RevokeAll(ctx, User(u*SessionsPerUser), cause)
		if err != nil || k != SessionsPerUser {
			b.Fatalf("revoking user %d of %d: %d sessions revoked, want %d (%v)", u, users, k, SessionsPerUser, err)
		}
		if u++; u == users {
			b.StopTimer()
			restore()
			u = 0
			b.StartTimer()
		}
	}
	if u > 0 {
		restore()
	}
}
