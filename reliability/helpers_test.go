package reliability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/pgtest"
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
// server is reachable (see pgtest.DSN).
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
		dsn, schema := pgtest.Schema(t, "reliability_", false)
		s, err := pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schema), pgstore.WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
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
