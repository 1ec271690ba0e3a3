package memstore

import (
	"context"
	"testing"

	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
)

// BenchmarkListSessions measures a page of GET /auth/sessions for a user
// with 20,000 revoked and expired sessions, against what listing every row
// cost (see storebench.ListSessions).
func BenchmarkListSessions(b *testing.B) {
	storebench.ListSessions(b,
		func(b *testing.B) store.SessionStore {
			s := New()
			b.Cleanup(func() { s.Close() })
			return s
		},
		func(b *testing.B, st store.SessionStore, sessions []store.Session) {
			for _, s := range sessions {
				if err := st.Create(context.Background(), s); err != nil {
					b.Fatal(err)
				}
			}
		})
}
