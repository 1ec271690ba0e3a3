package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// An in-memory store for a single process; WithCleanupInterval deletes old
// sessions in the background.
func ExampleOpen() {
	st, err := memstore.Open(memstore.WithCleanupInterval(time.Minute), memstore.WithRetention(24*time.Hour))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	m, err := revoke.New(st)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	s, token, _ := m.Create(ctx, "alice", revoke.Device{IP: "192.0.2.7", UserAgent: "curl/8"})
	_, _ = m.RevokeSession(ctx, "alice", s.ID, revoke.Cause{Actor: "alice", Reason: revoke.ReasonLogout})

	_, err = m.Resolve(ctx, token)
	fmt.Println(st.Len(), err)
	// Output: 1 revoke: session revoked
}
