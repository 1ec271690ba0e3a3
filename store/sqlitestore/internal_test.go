package sqlitestore

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

func openTest(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestQueryPlans checks that the hot statements search an index rather than
// scan the table: the token lookup runs on every request, and revoking a
// user's sessions must cost O(that user's sessions).
func TestQueryPlans(t *testing.T) {
	s := openTest(t, WithCleanupInterval(0))
	// Give the planner some rows; the plans must hold without ANALYZE too.
	for i := range 50 {
		if err := s.Create(t.Context(), storetest.NewSession(string(rune('a'+i%5)), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	hash := storetest.NewTokenHash()
	cases := []struct {
		name, sql string
		args      []any
		index     string
	}{
		{"get by token hash", sqlGetByHash, []any{hash[:]}, "USING INDEX sessions_by_token_hash (token_hash=?)"},
		{"get", sqlGet, []any{"x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"list", sqlList, []any{"a"}, "USING INDEX sessions_by_user_page (user_id=?)"},
		{"page of all", sqlPageAll, []any{"a", 11}, "USING INDEX sessions_by_user_page (user_id=?)"},
		{"page of all, after a cursor", sqlPageAllAfter, []any{"a", 11, 5, "x"},
			"USING INDEX sessions_by_user_page (user_id=? AND (created_at,id)<(?,?))"},
		{"revoke all", sqlRevokeAll, []any{1, "r", "a", nil}, "USING INDEX sessions_unrevoked_by_user (user_id=?)"},
		{"revoke all but one", sqlRevokeExcept, []any{1, "r", "a", nil, "x"}, "USING INDEX sessions_unrevoked_by_user (user_id=?)"},
		{"revoke one", sqlRevokeOne, []any{1, "r", "a", nil, "x"}, "USING INDEX"},
		{"touch", sqlTouch, []any{1, 2, "x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"replace token", sqlReplaceToken, []any{1, hash[:], "x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"probe", sqlProbe, []any{1, "x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"update", sqlUpdate, []any{1, "b", []byte("d"), 2, 3, "x", nil}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		// A cleanup batch resumes after the last rowid it deleted, so the
		// batches of one run read the table once between them.
		{"cleanup batch", sqlDeleteOld, []any{0, 1, 500}, "USING INTEGER PRIMARY KEY (rowid>?)"},
		// sqlListActive is missing on purpose: it reads every row by design.
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.sql, c.args...)
			is.NoErr(err)
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				is.NoErr(rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			is.NoErr(rows.Err())
			is.NoErr(rows.Close())
			all := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", all)
			is.True(strings.Contains(all, "SEARCH sessions "+c.index)) // searches the index
			is.True(!strings.Contains(all, "SCAN sessions"))           // never scans the table
			is.True(!strings.Contains(all, "TEMP B-TREE"))             // and needs no sort
		})
	}
}

// TestLivePagePlan checks that a page of active sessions chooses its rows
// from the live index alone, reading its range of the user's live sessions
// and no table row, then reads the page's rows by rowid. The sort is of
// those index entries; the index cannot hold both the range and the order.
func TestLivePagePlan(t *testing.T) {
	s := openTest(t, WithCleanupInterval(0))
	for _, c := range []struct {
		name, sql string
		args      []any
	}{
		{"first page", sqlPageLive, []any{"a", 1, 11}},
		{"after a cursor", sqlPageLiveAfter, []any{"a", 1, 11, 5, "x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			plan := queryPlan(t, s, c.sql, c.args...)
			t.Logf("plan:\n%s", plan)
			is.True(strings.Contains(plan, "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)"))                                 // the page's rows
			is.True(strings.Contains(plan, "SEARCH sessions USING COVERING INDEX sessions_live_by_user (user_id=? AND <expr>>?)")) // the live range, index only
			is.True(!strings.Contains(plan, "SCAN sessions"))
		})
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func TestSchemaIndexes(t *testing.T) {
	is := is.New(t)
	s := openTest(t, WithCleanupInterval(0))
	rows, err := s.r.QueryContext(t.Context(),
		`SELECT name, "unique" FROM pragma_index_list('sessions') ORDER BY name`)
	is.NoErr(err)
	got := map[string]bool{}
	for rows.Next() {
		var name string
		var unique bool
		is.NoErr(rows.Scan(&name, &unique))
		got[name] = unique
	}
	is.NoErr(rows.Err())
	is.NoErr(rows.Close())
	is.Equal(got, map[string]bool{
		"sessions_by_token_hash":      true,  // one session per token
		"sessions_by_user_page":       false, // a user's sessions, in the order of pages
		"sessions_live_by_user":       false, // a user's unrevoked sessions, by when they end
		"sessions_unrevoked_by_user":  false, // a user's sessions still to revoke
		"sqlite_autoindex_sessions_1": true,  // the primary key
	})

	var version int
	is.NoErr(s.r.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version))
	is.Equal(version, len(migrations))
}

func TestDeleteBeforeBatches(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := openTest(t, WithCleanupInterval(0))
	s.batch = 7

	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	const expired, active = 50, 5
	for i := range expired + active {
		sess := storetest.NewSession("alice", now)
		if i%11 == 0 { // active ones spread among the expired ones
			sess.ExpiresAt, sess.IdleExpiresAt = now.Add(48*time.Hour), now.Add(48*time.Hour)
		}
		is.NoErr(s.Create(ctx, sess))
	}
	n, err := s.DeleteBefore(ctx, now.Add(25*time.Hour))
	is.NoErr(err)
	is.Equal(n, expired) // every batch deleted, across batch boundaries
	list, err := s.List(ctx, "alice")
	is.NoErr(err)
	is.Equal(len(list), active)
}

func TestCloseStopsCleanup(t *testing.T) {
	is := is.New(t)
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), WithCleanupInterval(time.Millisecond))
	is.NoErr(err)
	// Keep the store busy for a moment, so that Close may meet the
	// goroutine mid-run; either way Close must wait for it.
	for range 3 {
		_, err := s.DeleteBefore(t.Context(), time.Now())
		is.NoErr(err)
	}
	is.NoErr(s.Close())
	select {
	case <-s.cleaning.Done():
	default:
		t.Fatal("Close returned while the cleanup goroutine was still running")
	}
	is.NoErr(s.Close()) // a second Close is a no-op
	_, err = s.DeleteBefore(t.Context(), time.Now())
	is.Equal(err, store.ErrClosed)
}

// TestMigrateFromVersion1 opens a file written at schema version 1, before
// sessions had data: it is upgraded in place, and its rows read back whole,
// with no data, and can be given some.
func TestMigrateFromVersion1(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sessions.db")
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	old := storetest.NewSession("alice", now)

	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	_, err = db.ExecContext(ctx, migrations[0])
	is.NoErr(err)
	_, err = db.ExecContext(ctx, "PRAGMA user_version = 1")
	is.NoErr(err)
	// The version 1 columns, spelled out: the package's list has grown since.
	_, err = db.ExecContext(ctx, `INSERT INTO sessions (id, user_id, token_hash,
			created_at, last_seen_at, expires_at, idle_expires_at,
			revoked_at, revoke_reason, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '', ?, ?)`,
		old.ID, old.UserID, old.TokenHash[:],
		old.CreatedAt.UnixNano(), old.LastSeenAt.UnixNano(),
		old.ExpiresAt.UnixNano(), old.IdleExpiresAt.UnixNano(),
		old.IP, old.UserAgent)
	is.NoErr(err)
	is.NoErr(db.Close())

	s, err := Open(path, WithCleanupInterval(0))
	is.NoErr(err) // the old file opens
	t.Cleanup(func() { s.Close() })
	var version int
	is.NoErr(s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	is.Equal(version, len(migrations)) // and is upgraded

	got, err := s.GetByTokenHash(ctx, old.TokenHash)
	is.NoErr(err) // the old row is still there
	is.Equal(got.ID, old.ID)
	is.Equal(got.UserID, old.UserID)
	is.True(got.CreatedAt.Equal(old.CreatedAt))
	is.True(got.ExpiresAt.Equal(old.ExpiresAt))
	is.True(got.IdleExpiresAt.Equal(old.IdleExpiresAt))
	is.True(!got.Revoked())
	is.Equal(got.IP, old.IP)
	is.Equal(got.UserAgent, old.UserAgent)
	is.Equal(len(got.Data), 0) // with no data
	for _, q := range []store.PageQuery{{Limit: 10, All: true}, {Limit: 10, Now: now}} {
		p, err := s.ListPage(ctx, old.UserID, q)
		is.NoErr(err)
		is.Equal(len(p.Sessions), 1) // and in the new page indexes
		is.Equal(p.Sessions[0].ID, old.ID)
	}

	later := now.Add(time.Minute)
	is.NoErr(s.Update(ctx, old.ID, store.Update{
		UserID: "alice", Data: []byte("values"), ExpiresAt: old.ExpiresAt, IdleExpiresAt: later.Add(time.Hour),
	}, later))
	list, err := s.List(ctx, "alice")
	is.NoErr(err)
	is.Equal(len(list), 1)
	is.Equal(string(list[0].Data), "values") // an old row takes data like a new one
	is.NoErr(s.Close())

	s, err = Open(path, WithCleanupInterval(0))
	is.NoErr(err) // reopening runs no step twice
	t.Cleanup(func() { s.Close() })
	got, err = s.Get(ctx, old.ID)
	is.NoErr(err)
	is.Equal(string(got.Data), "values")
}

func TestSynchronousSetting(t *testing.T) {
	is := is.New(t)
	var level int // SQLite: 1 is NORMAL, 2 is FULL
	is.NoErr(openTest(t).w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&level))
	is.Equal(level, 1)
	is.NoErr(openTest(t, WithSynchronousFull()).w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&level))
	is.Equal(level, 2)
}

// TestMigrateOutboxFromVersion8 opens a file whose outbox predates session
// ids: a message waiting there is still delivered, with none.
func TestMigrateOutboxFromVersion8(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sessions.db")
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	for _, m := range migrations[:8] {
		_, err = db.ExecContext(ctx, m)
		is.NoErr(err)
	}
	_, err = db.ExecContext(ctx, "PRAGMA user_version = 8")
	is.NoErr(err)
	_, err = db.ExecContext(ctx, `INSERT INTO outbox (id, destination, payload, created_at, attempts, next_attempt)
		VALUES ('m', 'r', x'7b7d', 1, 0, 1)`)
	is.NoErr(err)
	is.NoErr(db.Close())

	s, err := Open(path, WithCleanupInterval(0))
	is.NoErr(err)
	t.Cleanup(func() { s.Close() })
	got, err := s.LeaseOutbox(ctx, time.Unix(0, 1), time.Unix(60, 0), 10)
	is.NoErr(err)
	is.Equal(len(got), 1)
	is.Equal(got[0].ID, "m")
	is.Equal(string(got[0].Payload), "{}")
	is.Equal(len(got[0].SessionIDs), 0)
}
