package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke/internal/storebench"
	"github.com/revokehq/revoke/store"
)

// BenchmarkListSessions measures a page of GET /auth/sessions for a user
// with 20,000 revoked and expired sessions, against what listing every row
// cost (see storebench.ListSessions). Each is a round trip to the server.
func BenchmarkListSessions(b *testing.B) {
	storebench.ListSessions(b,
		func(b *testing.B) store.SessionStore { return benchStore(b) },
		func(b *testing.B, st store.SessionStore, sessions []store.Session) {
			s := st.(*Store)
			ctx := context.Background()
			rows := make([][]any, 0, len(sessions))
			for _, x := range sessions {
				var revoked any
				if x.Revoked() {
					revoked = x.RevokedAt
				}
				rows = append(rows, []any{x.ID, x.UserID, x.TokenHash[:],
					x.CreatedAt, x.LastSeenAt, x.ExpiresAt, x.IdleExpiresAt,
					revoked, x.RevokeReason, x.IP, x.UserAgent, []byte{}})
			}
			cols := strings.Fields(strings.ReplaceAll(columns, ",", " "))
			if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{s.names.schemaName, s.names.tableName}, cols, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
			if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE "+s.names.table); err != nil {
				b.Fatal(err)
			}
		})
}
