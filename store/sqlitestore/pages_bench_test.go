package sqlitestore

import (
	"context"
	"database/sql"
	"testing"

	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
)

// BenchmarkListSessions measures a page of GET /auth/sessions for a user
// with 20,000 revoked and expired sessions, against what listing every row
// cost (see storebench.ListSessions).
func BenchmarkListSessions(b *testing.B) {
	storebench.ListSessions(b,
		func(b *testing.B) store.SessionStore { s, _ := openBench(b); return s },
		func(b *testing.B, st store.SessionStore, sessions []store.Session) {
			s := st.(*Store)
			ctx := context.Background()
			// One transaction on the writer, as seed does.
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			insert := tx.StmtContext(ctx, s.insert)
			for _, x := range sessions {
				var revoked sql.NullInt64
				if x.Revoked() {
					revoked = sql.NullInt64{Int64: x.RevokedAt.UnixNano(), Valid: true}
				}
				_, err := insert.ExecContext(ctx, x.ID, x.UserID, x.TokenHash[:],
					x.CreatedAt.UnixNano(), x.LastSeenAt.UnixNano(), x.ExpiresAt.UnixNano(), x.IdleExpiresAt.UnixNano(),
					revoked, x.RevokeReason, x.IP, x.UserAgent, nil)
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		})
}
