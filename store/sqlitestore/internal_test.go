package sqlitestore

import (
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
		{"get by token hash", sqlGetByHash, []any{hash}, "USING INDEX sessions_by_token_hash (token_hash=?)"},
		{"get", sqlGet, []any{"x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"list", sqlList, []any{"a"}, "USING INDEX sessions_by_user (user_id=?)"},
		{"revoke all", sqlRevokeAll, []any{1, "r", "a"}, "USING INDEX sessions_by_user (user_id=?)"},
		{"revoke all but one", sqlRevokeExcept, []any{1, "r", "a", "x"}, "USING INDEX sessions_by_user (user_id=?)"},
		{"revoke one", sqlRevokeOne, []any{1, "r", "a", "x"}, "USING INDEX"},
		{"touch", sqlTouch, []any{1, 2, "x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"replace token", sqlReplaceToken, []any{1, hash, "x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
		{"probe", sqlProbe, []any{"x"}, "USING INDEX sqlite_autoindex_sessions_1 (id=?)"},
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
		"sessions_by_user":            false, // a user's sessions
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
	case <-s.done:
	default:
		t.Fatal("Close returned while the cleanup goroutine was still running")
	}
	is.NoErr(s.Close()) // a second Close is a no-op
	_, err = s.DeleteBefore(t.Context(), time.Now())
	is.Equal(err, store.ErrClosed)
}
