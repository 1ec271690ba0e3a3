package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// testDSN returns the test server's connection string, or skips the test
// (see pgtest.DSN).
func testDSN(t *testing.T) string {
	t.Helper()
	return pgtest.DSN(t)
}

// newSchema returns the name of a schema no other test uses, dropped when
// the test ends. The store creates it.
func newSchema(t *testing.T) string {
	t.Helper()
	_, schema := pgtest.Schema(t, "pgstore_test_", false)
	return schema
}

// open opens a Store on schema, without background cleanup unless opts turn
// it on, and closes it when the test ends.
func open(t *testing.T, schema string, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithSchema(schema), WithCleanupInterval(0)}, opts...)
	s, err := Open(t.Context(), testDSN(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newPool returns a pool of its own on the test server, closed when the test
// ends.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool, query string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.SessionStore {
		s, err := Open(t.Context(), testDSN(t), WithSchema(newSchema(t)), WithCleanupInterval(0))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestNewSharedPool checks that a Store on the app's pool leaves the pool
// open when it closes.
func TestNewSharedPool(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	pool := newPool(t)
	schema := newSchema(t)

	s, err := New(ctx, pool, WithSchema(schema), WithCleanupInterval(time.Hour))
	is.NoErr(err)
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(ctx, sess))
	is.NoErr(s.Close())
	is.NoErr(s.Close()) // idempotent

	is.NoErr(pool.Ping(ctx)) // the app's pool is still open
	_, err = s.Get(ctx, sess.ID)
	is.True(errors.Is(err, store.ErrClosed)) // the store is closed

	s2, err := New(ctx, pool, WithSchema(schema), WithCleanupInterval(0))
	is.NoErr(err)
	defer s2.Close()
	got, err := s2.Get(ctx, sess.ID)
	is.NoErr(err)
	is.Equal(got.ID, sess.ID) // another store on the same pool sees the data

	_, err = New(ctx, nil)
	is.True(err != nil) // a nil pool is refused
}

// TestConcurrentOpen opens many stores on one new schema at once: the
// migration runs once, and every Open succeeds.
func TestConcurrentOpen(t *testing.T) {
	is := is.New(t)
	schema := newSchema(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), testDSN(t), WithSchema(schema), WithCleanupInterval(0))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}

	pool := newPool(t)
	is.Equal(count(t, pool, "SELECT count(*) FROM "+quoted(schema, DefaultTable+"_migrations")), len(migrations)) // each version applied once
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(stores[0].Create(t.Context(), sess))
	for _, s := range stores {
		_, err := s.Get(t.Context(), sess.ID)
		is.NoErr(err) // every store works on the same table
	}
}

// TestReopen checks that opening an existing, current schema changes
// nothing, and that a schema newer than the package is refused.
func TestReopen(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	pool := newPool(t)
	versions := "SELECT count(*) FROM " + quoted(schema, DefaultTable+"_migrations")

	s := open(t, schema)
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(ctx, sess))
	is.NoErr(s.Close())

	for range 2 {
		s := open(t, schema)
		got, err := s.Get(ctx, sess.ID)
		is.NoErr(err)
		is.Equal(got.ID, sess.ID)                           // the data survived
		is.Equal(count(t, pool, versions), len(migrations)) // no version applied twice
		is.NoErr(s.Close())
	}

	_, err := pool.Exec(ctx, "INSERT INTO "+quoted(schema, DefaultTable+"_migrations")+" (version) VALUES (999)")
	is.NoErr(err)
	_, err = Open(ctx, testDSN(t), WithSchema(schema), WithCleanupInterval(0))
	is.True(err != nil) // a newer schema is refused
	is.True(strings.Contains(err.Error(), "newer"))
}

// TestDefaultSchema checks that without WithSchema the store pins the
// connection's current schema.
func TestDefaultSchema(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	pool := newPool(t)
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	is.NoErr(err)

	cfg, err := pgxpool.ParseConfig(testDSN(t))
	is.NoErr(err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	sp, err := pgxpool.NewWithConfig(ctx, cfg)
	is.NoErr(err)
	defer sp.Close()
	s, err := New(ctx, sp, WithCleanupInterval(0))
	is.NoErr(err)
	defer s.Close()

	is.Equal(s.names.table, quoted(schema, DefaultTable)) // the current schema, named explicitly
	var exists bool
	is.NoErr(pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.names.table).Scan(&exists))
	is.True(exists) // the table is in that schema
}

// TestNames checks that any schema and table name is quoted safely, and
// that names the server would truncate are refused.
func TestNames(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t) + ` Odd "Schema"`
	pool := newPool(t)
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %q: %v", schema, err)
		}
	})
	s := open(t, schema, WithTable(`Sessions"; DROP TABLE x; --`))
	now := time.Now()
	sess := storetest.NewSession("alice", now)
	is.NoErr(s.Create(ctx, sess))
	is.NoErr(s.Touch(ctx, sess.ID, now, now.Add(time.Hour)))
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice"}, now, "test")
	is.NoErr(err)
	is.Equal(ids, []string{sess.ID})
	n, err := s.DeleteBefore(ctx, sess.ExpiresAt) // a revoked row goes once it has expired too
	is.NoErr(err)
	is.Equal(n, 1)

	for _, opt := range []Option{
		WithTable(strings.Repeat("t", 49)),
		WithSchema(strings.Repeat("s", 64)),
		WithTable("a\x00b"),
		WithCallTimeout(-time.Second),
		WithCleanupInterval(-time.Minute),
		WithRetention(-time.Hour),
		WithLogger(nil),
		nil,
	} {
		_, err := Open(ctx, testDSN(t), WithSchema(newSchema(t)), WithCleanupInterval(0), opt)
		is.True(err != nil) // refused before anything is created
	}
}

// TestTimePrecision checks that times are kept to the microsecond and that
// the store's idea of "active" is still Session.Active for a now that has
// nanoseconds.
func TestTimePrecision(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, newSchema(t))

	base := time.Date(2030, 1, 2, 3, 4, 5, 123_456_789, time.FixedZone("X", -7*3600))
	sess := storetest.NewSession("alice", base)
	sess.CreatedAt = base
	sess.LastSeenAt = base
	sess.IdleExpiresAt = base.Add(time.Hour)
	sess.ExpiresAt = base.Add(2 * time.Hour)
	is.NoErr(s.Create(ctx, sess))

	got, err := s.Get(ctx, sess.ID)
	is.NoErr(err)
	is.Equal(got.CreatedAt, base.Truncate(time.Microsecond).UTC()) // truncated, in UTC
	is.Equal(got.CreatedAt.Location(), time.UTC)
	is.Equal(got.IdleExpiresAt, sess.IdleExpiresAt.Truncate(time.Microsecond).UTC())

	idle := got.IdleExpiresAt // whole microseconds
	justBefore := idle.Add(-500 * time.Nanosecond)
	is.True(got.Active(justBefore))
	is.NoErr(s.Touch(ctx, sess.ID, justBefore, idle)) // still active half a microsecond before
	atIdle := idle.Add(500 * time.Nanosecond)
	is.True(!got.Active(atIdle))
	err = s.Touch(ctx, sess.ID, atIdle, atIdle.Add(time.Hour))
	is.True(errors.Is(err, store.ErrInactive)) // and inactive half a microsecond after

	bad := storetest.NewSession("alice", base)
	bad.CreatedAt = time.Time{}
	is.True(s.Create(ctx, bad) != nil) // a zero time is refused
	bad = storetest.NewSession("alice", base)
	bad.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	is.True(s.Create(ctx, bad) != nil) // and so is one past the year 9999
}

// TestCrossInstance checks that two stores with pools of their own, as two
// app instances would have, see each other's writes at once.
func TestCrossInstance(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	a, b := open(t, schema), open(t, schema)
	now := time.Now()

	s1 := storetest.NewSession("alice", now)
	s2 := storetest.NewSession("alice", now)
	is.NoErr(a.Create(ctx, s1))
	is.NoErr(a.Create(ctx, s2))
	got, err := b.GetByTokenHash(ctx, s1.TokenHash)
	is.NoErr(err)
	is.True(got.Active(now)) // b sees a's new session

	ids, err := a.Revoke(ctx, store.Selection{UserID: "alice", SessionID: s1.ID}, now, "logout")
	is.NoErr(err)
	is.Equal(ids, []string{s1.ID})
	got, err = b.GetByTokenHash(ctx, s1.TokenHash)
	is.NoErr(err)
	is.True(got.Revoked()) // b sees a's revocation at once
	is.Equal(got.RevokeReason, "logout")
	err = b.Touch(ctx, s1.ID, now.Add(time.Second), now.Add(time.Hour))
	is.True(errors.Is(err, store.ErrInactive)) // and cannot revive it

	ids, err = b.Revoke(ctx, store.Selection{UserID: "alice"}, now, "password changed")
	is.NoErr(err)
	is.Equal(ids, []string{s2.ID}) // only what a had not revoked
	list, err := a.List(ctx, "alice")
	is.NoErr(err)
	for _, sess := range list {
		is.True(sess.Revoked()) // a sees b's revocation
	}
}

// oldSessions creates n sessions that expired long ago.
func oldSessions(t *testing.T, s *Store, n int) {
	t.Helper()
	long := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		sess := storetest.NewSession(fmt.Sprintf("user%d", i%50), long)
		rows[i] = []any{sess.ID, sess.UserID, sess.TokenHash[:], sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt, sess.IdleExpiresAt}
	}
	_, err := s.pool.CopyFrom(t.Context(), pgx.Identifier{s.names.schemaName, s.names.tableName},
		[]string{"id", "user_id", "token_hash", "created_at", "last_seen_at", "expires_at", "idle_expires_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
}

// TestCleanupOneInstance runs the cleanup of two stores on one table at
// once: every old row is deleted once, and neither fails.
func TestCleanupOneInstance(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	a, b := open(t, schema), open(t, schema)
	a.batch, b.batch = 100, 100
	const old = 1250
	oldSessions(t, a, old)
	keep := storetest.NewSession("alice", time.Now())
	is.NoErr(a.Create(ctx, keep))
	cut := time.Now().Add(-time.Hour)

	// While another connection holds the cleanup lock, both skip.
	lock, err := pgx.Connect(ctx, testDSN(t))
	is.NoErr(err)
	defer lock.Close(ctx)
	_, err = lock.Exec(ctx, "SELECT pg_advisory_lock($1)", a.cleanupKey)
	is.NoErr(err)
	for _, s := range []*Store{a, b} {
		n, ran, err := s.cleanup(ctx, cut)
		is.NoErr(err)
		is.True(!ran) // skipped: the lock is taken
		is.Equal(n, 0)
	}
	_, err = lock.Exec(ctx, "SELECT pg_advisory_unlock($1)", a.cleanupKey)
	is.NoErr(err)

	type result struct {
		n   int
		ran bool
		err error
	}
	results := make([]result, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			<-start
			n, ran, err := s.cleanup(ctx, cut)
			results[i] = result{n, ran, err}
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for _, r := range results {
		is.NoErr(r.err) // neither instance fails
		total += r.n
	}
	is.True(results[0].ran || results[1].ran)
	is.Equal(total, old) // every old row deleted, and counted, once
	is.Equal(count(t, a.pool, "SELECT count(*) FROM "+a.names.table), 1)
	_, err = b.Get(ctx, keep.ID)
	is.NoErr(err) // the active session is kept

	// The lock was released: a later run takes it again.
	_, ran, err := b.cleanup(ctx, cut)
	is.NoErr(err)
	is.True(ran)
}

// recorder is a slog.Handler that keeps the records it is given.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestBackgroundCleanup lets the background cleanup of two instances, on a
// short interval, empty a table of old rows.
func TestBackgroundCleanup(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	const old = 1100
	logs := [2]*recorder{{}, {}}
	a := open(t, schema, WithCleanupInterval(5*time.Millisecond), WithRetention(time.Hour), WithLogger(slog.New(logs[0])))
	b := open(t, schema, WithCleanupInterval(5*time.Millisecond), WithRetention(time.Hour), WithLogger(slog.New(logs[1])))
	oldSessions(t, a, old)
	recent := storetest.NewSession("alice", time.Now())
	is.NoErr(a.Create(ctx, recent))

	deadline := time.Now().Add(20 * time.Second)
	for count(t, a.pool, "SELECT count(*) FROM "+a.names.table) > 1 {
		if time.Now().After(deadline) {
			t.Fatal("the background cleanup did not delete the old sessions")
		}
		time.Sleep(10 * time.Millisecond)
	}
	is.NoErr(a.Close())
	is.NoErr(b.Close())

	total := 0
	for _, l := range logs {
		for _, rec := range l.records {
			is.True(rec.Level < slog.LevelError) // no cleanup failed
			rec.Attrs(func(at slog.Attr) bool {
				if at.Key == "deleted" {
					total += int(at.Value.Int64())
				}
				return true
			})
		}
	}
	is.Equal(total, old) // each old row deleted once, by one instance or the other
	_, err := a.Get(ctx, recent.ID)
	is.True(errors.Is(err, store.ErrClosed))
	got, err := open(t, schema).Get(ctx, recent.ID)
	is.NoErr(err)
	is.Equal(got.ID, recent.ID) // the recent session is kept
}

// TestCloseDuringCleanup closes a store while its cleanup runs often; under
// the race detector this checks that Close waits for the goroutine.
func TestCloseDuringCleanup(t *testing.T) {
	schema := newSchema(t)
	for range 5 {
		s, err := Open(t.Context(), testDSN(t), WithSchema(schema), WithCleanupInterval(time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.cleanup(t.Context(), time.Now()); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("cleanup after Close: %v, want store.ErrClosed", err)
		}
	}
}

// TestExplainUsesIndexes checks that the statements that must not read the
// whole table (the token lookup on every request, a user's revocations and
// list, the cleanup) are planned on their indexes.
func TestExplainUsesIndexes(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, newSchema(t))
	n := s.names
	_, err := s.pool.Exec(ctx, n.expand(`INSERT INTO {table}
		(id, user_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at, revoked_at)
		SELECT 's' || i, 'user' || (i % 500), sha256(i::text::bytea),
			now(), now(), now() + interval '1 day', now() + interval '1 hour',
			CASE WHEN i % 10 = 0 THEN now() END
		FROM generate_series(1, 5000) AS i`))
	is.NoErr(err)
	_, err = s.pool.Exec(ctx, n.expand(`ANALYZE {table}`))
	is.NoErr(err)

	unquote := func(ident string) string { return strings.Trim(ident, `"`) }
	now := time.Now()
	for _, c := range []struct {
		name  string
		query string
		args  []any
		index []string
	}{
		{"token lookup", s.q.getByHash, []any{[]byte("x")}, []string{n.tokenKey}},
		{"get", s.q.get, []any{"s1"}, []string{n.pkey}},
		{"list", s.q.list, []any{"user7"}, []string{n.pageIdx}},
		{"page of all", s.q.page.all, []any{"user7", 11}, []string{n.pageIdx}},
		{"page of all, after a cursor", s.q.page.allAfter, []any{"user7", 11, now, "s7"}, []string{n.pageIdx}},
		{"page of active", s.q.page.live, []any{"user7", now, 11}, []string{n.liveIdx}},
		{"page of active, after a cursor", s.q.page.liveAfter, []any{"user7", now, 11, now, "s7"}, []string{n.liveIdx}},
		// The live index, of unrevoked sessions, starts with user_id.
		{"revoke all", s.q.revokeAll, []any{now, "r", "user7", nil}, []string{n.liveIdx}},
		{"revoke all except", s.q.revokeExcept, []any{now, "r", "user7", nil, "s7"}, []string{n.liveIdx}},
		{"revoke one", s.q.revokeOne, []any{now, "r", "user7", nil, "s7"}, nil},
		{"touch", s.q.touch, []any{now, now, "s7"}, []string{n.pkey}},
		{"update", s.q.update, []any{now, "user8", []byte("d"), now, now, "s7", nil}, []string{n.pkey}},
		{"replace token", s.q.replaceToken, []any{now, []byte("y"), "s7"}, []string{n.pkey}},
		{"cleanup", s.q.deleteOld, []any{now, 500}, []string{n.expiryIdx, n.revokedIdx}},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			tx, err := s.pool.Begin(ctx)
			is.NoErr(err)
			defer tx.Rollback(ctx)
			// Small tables may fairly be scanned; this asks whether an
			// index can serve the statement at all.
			_, err = tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
			is.NoErr(err)
			rows, err := tx.Query(ctx, "EXPLAIN "+c.query, c.args...)
			is.NoErr(err)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			is.NoErr(err)
			plan := strings.Join(lines, "\n")
			t.Logf("\n%s", plan)
			is.True(!strings.Contains(plan, "Seq Scan")) // no full scan
			for i, line := range lines {
				if strings.Contains(line, "Index Scan") || strings.Contains(line, "Index Only Scan") {
					// An index scan without a condition reads the whole index.
					is.True(i+1 < len(lines) && strings.Contains(lines[i+1], "Index Cond"))
				}
			}
			for _, idx := range c.index {
				is.True(strings.Contains(plan, unquote(idx))) // the index is used
			}
		})
	}
}

func TestDescribeHidesPassword(t *testing.T) {
	got := pgtest.Describe("postgres://u:secret@db.example:5433/x?sslmode=disable")
	if strings.Contains(got, "secret") || got != "u@db.example:5433/x" {
		t.Errorf("describe = %q", got)
	}
}

// TestLeastPrivilege opens a migrated schema as a role that may only read
// and write rows: opening creates nothing, so it needs no more.
func TestLeastPrivilege(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	schema := newSchema(t)
	admin := open(t, schema)
	pool := newPool(t)

	role := "pgstore_test_" + strings.ToLower(rand.Text()[:12])
	password := rand.Text()
	if _, err := pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Skipf("cannot create a role to test with: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		r := pgx.Identifier{role}.Sanitize()
		if _, err := pool.Exec(ctx, "DROP OWNED BY "+r); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := pool.Exec(ctx, "DROP ROLE "+r); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	r := pgx.Identifier{role}.Sanitize()
	for _, grant := range []string{
		"GRANT USAGE ON SCHEMA " + admin.names.schema + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + admin.names.table + " TO " + r,
		"GRANT SELECT ON " + admin.names.migrations + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + admin.names.notBefore + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + admin.names.leases + " TO " + r,
	} {
		_, err := pool.Exec(ctx, grant)
		is.NoErr(err)
	}

	cfg, err := pgxpool.ParseConfig(testDSN(t))
	is.NoErr(err)
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, password
	limited, err := pgxpool.NewWithConfig(ctx, cfg)
	is.NoErr(err)
	defer limited.Close()
	s, err := New(ctx, limited, WithSchema(schema), WithCleanupInterval(0))
	is.NoErr(err) // opening a current schema needs no CREATE privilege
	defer s.Close()

	now := time.Now()
	sess := storetest.NewSession("alice", now)
	is.NoErr(s.Create(ctx, sess))
	is.NoErr(s.Touch(ctx, sess.ID, now, now.Add(time.Hour)))
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", NotBefore: now}, now, "test")
	is.NoErr(err)
	n, err := s.DeleteBefore(ctx, sess.ExpiresAt) // a revoked row goes once it has expired too
	is.NoErr(err)
	is.Equal(n, 1)
	_, ran, err := s.cleanup(ctx, now)
	is.NoErr(err)
	is.True(ran) // advisory locks need no privilege either

	// Nor do notifications.
	rec := listen(t, s, "a")
	is.NoErr(s.RenewLease(ctx, "a", time.Hour))
	is.NoErr(s.Send(ctx, "a", store.Notice{From: "a", ID: "x"}))
	leases, err := s.Barrier(ctx, "a", "y")
	is.NoErr(err)
	is.Equal(len(leases), 1)
	is.Equal(rec.until(t, "a", "y"), []store.Notice{{Kind: store.NoticeSent, From: "a", ID: "x"}})
	is.NoErr(s.DropLease(ctx, "a"))
}
