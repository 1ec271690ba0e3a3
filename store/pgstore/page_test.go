package pgstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// TestMigrateToPageIndexes opens a table written at schema version 2: it is
// upgraded in place, its rows are listed a page at a time, and the indexes
// the page indexes replace are gone.
func TestMigrateToPageIndexes(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	pool := newPool(t)
	n := newNames(schema, DefaultTable)
	_, err := pool.Exec(ctx, n.expand(`CREATE SCHEMA {schema}`))
	is.NoErr(err)
	_, err = pool.Exec(ctx, n.expand(`CREATE TABLE {migrations} (
		version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`))
	is.NoErr(err)
	for i, m := range migrations[:2] {
		_, err := pool.Exec(ctx, n.expand(m))
		is.NoErr(err)
		_, err = pool.Exec(ctx, n.expand(`INSERT INTO {migrations} (version) VALUES ($1)`), i+1)
		is.NoErr(err)
	}
	now := time.Now().Truncate(time.Microsecond)
	old := storetest.NewSession("alice", now)
	_, err = pool.Exec(ctx, n.expand(`INSERT INTO {table}
			(id, user_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at)
		VALUES ($1, $2, $3, $4, $4, $5, $6)`),
		old.ID, old.UserID, old.TokenHash[:], old.CreatedAt, old.ExpiresAt, old.IdleExpiresAt)
	is.NoErr(err)

	s := open(t, schema)
	for _, q := range []store.PageQuery{{Limit: 10, All: true}, {Limit: 10, Now: now}} {
		p, err := s.ListPage(ctx, "alice", q)
		is.NoErr(err)
		is.Equal(len(p.Sessions), 1) // the old row is in the new indexes
		is.Equal(p.Sessions[0].ID, old.ID)
	}
	indexes := func(names ...string) int {
		var quoted []string
		for _, name := range names {
			quoted = append(quoted, fmt.Sprintf("'%s'", strings.Trim(name, `"`)))
		}
		return count(t, pool, fmt.Sprintf(`SELECT count(*) FROM pg_indexes WHERE schemaname = '%s' AND indexname IN (%s)`,
			schema, strings.Join(quoted, ", ")))
	}
	is.Equal(indexes(n.pageIdx, n.liveIdx), 2)
	is.Equal(indexes(n.userIdx, n.activeIdx), 0) // replaced
}

// TestLivePageSkipsOldRows checks the plan of a page of active sessions for
// a user with many revoked and expired rows, in a table where most other
// sessions are live (so the planner's statistics say "live" of most rows):
// it reads the live index's range of that user's live sessions, never the
// page index past the old rows.
func TestLivePageSkipsOldRows(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, newSchema(t))
	n := s.names
	_, err := s.pool.Exec(ctx, n.expand(`INSERT INTO {table}
		(id, user_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at, revoked_at)
		SELECT 'o' || i, 'user' || (i % 2000), sha256(('o' || i)::bytea),
			now(), now(), now() + interval '7 days', now() + interval '1 day', NULL
		FROM generate_series(1, 20000) AS i
		UNION ALL
		SELECT 'h' || i, 'heavy', sha256(('h' || i)::bytea),
			now() - interval '1 day' + i * interval '1 second', now(),
			now() + interval '7 days', now() + CASE WHEN i % 2 = 0 THEN interval '1 day' ELSE interval '-1 hour' END,
			CASE WHEN i % 2 = 0 THEN now() END
		FROM generate_series(1, 4000) AS i`))
	is.NoErr(err)
	_, err = s.pool.Exec(ctx, n.expand(`ANALYZE {table}`))
	is.NoErr(err)

	now := time.Now()
	for _, c := range []struct {
		name  string
		query string
		args  []any
	}{
		{"first page", s.q.page.live, []any{"heavy", now, 251}},
		{"after a cursor", s.q.page.liveAfter, []any{"heavy", now, 251, now, "h9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			var plan []string
			rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+c.query, c.args...)
			is.NoErr(err)
			for rows.Next() {
				var line string
				is.NoErr(rows.Scan(&line))
				plan = append(plan, line)
			}
			is.NoErr(rows.Err())
			all := strings.Join(plan, "\n")
			t.Logf("\n%s", all)
			is.True(strings.Contains(all, strings.Trim(n.liveIdx, `"`)))  // the live index
			is.True(!strings.Contains(all, strings.Trim(n.pageIdx, `"`))) // not the page index
			is.True(!strings.Contains(all, "Seq Scan"))
		})
	}
	p, err := s.ListPage(ctx, "heavy", store.PageQuery{Limit: 10, Now: now})
	is.NoErr(err)
	is.Equal(len(p.Sessions), 0) // every one of heavy's rows is revoked or expired
}
