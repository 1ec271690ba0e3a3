package scsstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
)

// sessionsPerUser is how many sessions each seeded user has: a revocation
// of one user's sessions revokes this many.
const sessionsPerUser = 5

func benchUser(i int) string { return fmt.Sprintf("user-%07d", i/sessionsPerUser) }

// commit commits one scs session for user through sm.
func commit(b *testing.B, sm *scs.SessionManager, user string) {
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	sm.Put(ctx, "userID", user)
	if _, _, err := sm.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

// seed commits n scs sessions through sm, five per user.
func seed(b *testing.B, sm *scs.SessionManager, n int) {
	b.Helper()
	for i := range n {
		commit(b, sm, benchUser(i))
	}
}

// BenchmarkRevokeUser is the baseline revoke's revocation is measured
// against: scs's documented recipe for revoking one user's sessions
// (Iterate over every session, Destroy the user's five), on scs's in-memory
// store holding n sessions, n from 1,000 to 1,000,000. Each time it revokes
// a different user and then logs that user in again outside the timed part,
// so the store stays at n sessions.
//
// Revoke's side is BenchmarkAtSize/sessions=n/revoke-user in store/memstore,
// store/sqlitestore and store/pgstore, which put their stores back the same
// way through the packages' internals; go run ./bench runs them all and
// prints the ratios (see BENCHMARKS.md). RevokeAll through this adapter
// costs what it costs on the underlying store: the sessions only carry
// scs's data besides.
func BenchmarkRevokeUser(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		users := n / sessionsPerUser
		b.Run(fmt.Sprintf("sessions=%d/scs-iterate", n), func(b *testing.B) {
			sm := scs.New()
			sm.Store = scsmem.NewWithCleanupInterval(0)
			seed(b, sm, n)
			ctx := context.Background()
			b.ReportAllocs()
			u := 0
			for b.Loop() {
				user := benchUser(u * sessionsPerUser)
				destroyed := 0
				err := sm.Iterate(ctx, func(ctx context.Context) error {
					if sm.GetString(ctx, "userID") != user {
						return nil
					}
					destroyed++
					return sm.Destroy(ctx)
				})
				if err != nil || destroyed != sessionsPerUser {
					b.Fatal(destroyed, err)
				}
				b.StopTimer()
				for range sessionsPerUser {
					commit(b, sm, user)
				}
				u = (u + 1) % users
				b.StartTimer()
			}
		})
	}
}
