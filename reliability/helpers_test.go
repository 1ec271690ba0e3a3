package reliability

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// backend opens an empty store of one kind, closed when the test ends.
type backend struct {
	name string
	open func(t *testing.T) store.SessionStore
}

// backends are the stores the library ships. PostgreSQL is skipped when no
// server is reachable (see testDSN).
var backends = []backend{
	{"memstore", func(t *testing.T) store.SessionStore {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"sqlite", func(t *testing.T) store.SessionStore {
		// A file, not memory: the writer and the readers are separate
		// connections, which is what a resolve racing a revoke must cross.
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"), sqlitestore.WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) store.SessionStore {
		dsn := testDSN(t)
		schema := newSchema(t, dsn)
		s, err := pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schema), pgstore.WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// defaultTestDSN is the PostgreSQL server used unless REVOKE_TEST_POSTGRES
// names another, as in store/pgstore's tests.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	reachOnce sync.Once
	reachErr  error
)

// testDSN returns the connection string of the test server. It skips the
// test when the default server is unreachable, and fails it when the one
// named in REVOKE_TEST_POSTGRES is.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn, explicit := os.LookupEnv("REVOKE_TEST_POSTGRES")
	if !explicit || dsn == "" {
		dsn, explicit = defaultTestDSN, false
	}
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(ctx)
		}
		reachErr = err
	})
	if reachErr != nil {
		where := describe(dsn)
		if explicit {
			t.Fatalf("PostgreSQL not reachable at %s (REVOKE_TEST_POSTGRES): %v", where, reachErr)
		}
		t.Skipf("PostgreSQL not reachable at %s; set REVOKE_TEST_POSTGRES to run against a server: %v", where, reachErr)
	}
	return dsn
}

// describe names the server of dsn without its password.
func describe(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(unparsable REVOKE_TEST_POSTGRES)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// newSchema returns the name of a schema no other test uses and drops it,
// with everything in it, when the test ends. The store creates it.
func newSchema(t *testing.T, dsn string) string {
	t.Helper()
	name := "reliability_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// envDuration reads a duration knob from the environment.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 30s or 5m", name, v)
	}
	return d
}
