package reliability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/redisstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// backend opens an empty store of one kind, closed when the test ends.
type backend struct {
	name string
	open func(t *testing.T) store.SessionStore
}

// backends are the stores the library ships, and the shared ones behind a
// cache. PostgreSQL and Redis are skipped when no server is reachable (see
// pgtest.DSN, redistest.URL).
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
	{"postgres", openPostgres},
	{"redis", openRedis},
	// The shared stores with store/cachestore in front: lookups answered
	// from memory, revocations settled through the store's notices.
	{"postgres+cache", func(t *testing.T) store.SessionStore { return cached(t, openPostgres(t)) }},
	{"redis+cache", func(t *testing.T) store.SessionStore { return cached(t, openRedis(t)) }},
}

func openPostgres(t *testing.T) store.SessionStore {
	dsn, schema := pgtest.Schema(t, "reliability_", false)
	s, err := pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schema), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openRedis(t *testing.T) store.SessionStore {
	url := redistest.URL(t)
	s, err := redisstore.Open(t.Context(), url, redisstore.WithPrefix(redistest.Prefix(t, url)), redisstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// cached puts a cache in front of st and returns it once it answers from
// memory.
func cached(t *testing.T, st store.SessionStore) *cachestore.Store {
	c, err := cachestore.New(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for deadline := time.Now().Add(10 * time.Second); !c.Stats().Serving; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not start serving")
		}
	}
	return c
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
