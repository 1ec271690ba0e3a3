package cachestore_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/sqlitestore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestCapacityBoundsTheCache(t *testing.T) {
	c := serving(t, memstore.New(), cachestore.WithCapacity(2), cachestore.WithLease(time.Minute))
	t.Cleanup(func() { _ = c.Close() })
	for range 5 {
		s := storetest.NewSession("alice", time.Now())
		if err := c.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := c.GetByTokenHash(t.Context(), s.TokenHash); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := c.Stats(); st.Cached != 2 || st.Hits != 2 {
		t.Fatalf("%+v: want 2 sessions cached and a hit on each, the rest from the store", st)
	}
}

func TestOldSessionsAreSweptOut(t *testing.T) {
	c := serving(t, memstore.New(), cachestore.WithMaxAge(20*time.Millisecond))
	t.Cleanup(func() { _ = c.Close() })
	s := storetest.NewSession("alice", time.Now())
	if err := c.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetByTokenHash(t.Context(), s.TokenHash); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Cached != 1 {
		t.Fatal("the lookup did not fill the cache")
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Cached != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a session past its max age stayed in the cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A single-process store has every extension of a Backend but the
// invalidations, which New names.
func TestNewNamesWhatTheStoreLacks(t *testing.T) {
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	_, err = cachestore.New(st)
	if err == nil || !strings.HasSuffix(err.Error(), "lacks store.Invalidator") {
		t.Fatalf("New on SQLite: %v, want it to name store.Invalidator alone", err)
	}
}
