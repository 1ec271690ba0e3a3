package scsstore_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store/memstore"
)

// seed commits n scs sessions through sm, spread over n/5 users, and
// returns the user that owns the first five.
func seed(b *testing.B, sm *scs.SessionManager, n int) string {
	b.Helper()
	for i := range n {
		ctx, err := sm.Load(context.Background(), "")
		if err != nil {
			b.Fatal(err)
		}
		sm.Put(ctx, "userID", "user-"+strconv.Itoa(i/5))
		if _, _, err := sm.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return "user-0"
}

// BenchmarkRevokeUser compares revoking one user's five sessions among n:
// scs's documented recipe (Iterate, Destroy the user's) against revoke's
// per-user index, through scsstore.
func BenchmarkRevokeUser(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("sessions=%d/scs-iterate", n), func(b *testing.B) {
			sm := scs.New()
			sm.Store = scsmem.NewWithCleanupInterval(0)
			user := seed(b, sm, n)
			for b.Loop() {
				err := sm.Iterate(context.Background(), func(ctx context.Context) error {
					if sm.GetString(ctx, "userID") == user {
						return sm.Destroy(ctx)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/revoke", n), func(b *testing.B) {
			st := memstore.New()
			sm := scs.New()
			sm.Store = scsstore.New(st, scsstore.WithUserKey("userID"))
			user := seed(b, sm, n)
			m, err := revoke.New(st)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if i > 0 { // give the user five live sessions again
					b.StopTimer()
					for range 5 {
						if _, _, err := m.Create(context.Background(), user, revoke.Device{}); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
				}
				n, err := m.RevokeAll(context.Background(), user, revoke.Cause{Reason: "bench"})
				if err != nil || n != 5 {
					b.Fatal(n, err)
				}
			}
		})
	}
}
