package storebench_test

import (
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

// TestRevokeUserRunsAgain runs RevokeUser twice on one store, as go test
// -count does, for a number of iterations that leaves some users revoked
// at the end of the first run: the second must find them active again.
func TestRevokeUserRunsAgain(t *testing.T) {
	benchtime := flag.Lookup("test.benchtime")
	was := benchtime.Value.String()
	if err := benchtime.Value.Set("4x"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = benchtime.Value.Set(was) })

	const users = 3
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	m, err := revoke.New(st)
	if err != nil {
		t.Fatal(err)
	}
	// restore gives each user whose sessions are all revoked fresh ones,
	// authenticated after the not-before time of any revocation so far
	// (NewSession's are a second before their creation).
	restore := func() {
		for u := range users {
			user := storebench.User(u * storebench.SessionsPerUser)
			list, err := st.List(t.Context(), user)
			if err != nil {
				t.Error(err)
				return
			}
			if slices.ContainsFunc(list, func(s store.Session) bool { return s.RevokedAt.IsZero() }) {
				continue
			}
			for range storebench.SessionsPerUser {
				if err := st.Create(t.Context(), storetest.NewSession(user, time.Now().Add(2*time.Second))); err != nil {
					t.Error(err)
				}
			}
		}
	}
	restore()
	for run := range 2 {
		if r := testing.Benchmark(func(b *testing.B) { storebench.RevokeUser(b, m, users, restore) }); r.N != 4 {
			t.Fatalf("run %d: %d iterations, want 4: it failed", run+1, r.N)
		}
	}
}
