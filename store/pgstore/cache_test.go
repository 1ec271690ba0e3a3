package pgstore

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/storetest"
)

// cached puts a cache named instance in front of a store on schema.
func cached(t *testing.T, schema, instance string) *cachestore.Store {
	t.Helper()
	c, err := cachestore.New(open(t, schema), cachestore.WithInstance(instance),
		cachestore.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serving waits until c serves from its cache.
func serving(t *testing.T, c *cachestore.Store) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !c.Stats().Serving {
		if time.Now().After(deadline) {
			t.Fatalf("%s never served from its cache", c.Instance())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCacheAcrossInstances runs store/cachestore on two stores sharing a
// table: a session that b has cached from memory is refused by b as soon
// as a's revocation, or a's replacement of its token, returns.
func TestCacheAcrossInstances(t *testing.T) {
	schema := newSchema(t)
	a, b := cached(t, schema, "a"), cached(t, schema, "b")
	serving(t, a)
	serving(t, b)
	ctx := t.Context()

	// warm creates a session on a and has b cache it.
	warm := func(t *testing.T) store.Session {
		t.Helper()
		sess := storetest.NewSession("alice", time.Now())
		if err := a.Create(ctx, sess); err != nil {
			t.Fatal(err)
		}
		for range 100 { // b may stop serving for a moment, on a loaded machine
			serving(t, b)
			hits := b.Stats().Hits
			for range 2 {
				if _, err := b.GetByTokenHash(ctx, sess.TokenHash); err != nil {
					t.Fatal(err)
				}
			}
			if b.Stats().Hits > hits {
				return sess
			}
		}
		t.Fatal("b never served the session from its cache")
		return sess
	}
	// refused fails unless b refuses the token hash at once.
	refused := func(t *testing.T, hash [32]byte) {
		t.Helper()
		got, err := b.GetByTokenHash(ctx, hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			t.Fatal(err)
		case got.Active(time.Now()):
			t.Fatalf("b still accepts session %s", got.ID)
		}
	}

	for range 10 {
		sess := warm(t)
		if _, err := a.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, time.Now(), "r"); err != nil {
			t.Fatal(err)
		}
		refused(t, sess.TokenHash)

		sess = warm(t)
		if err := a.ReplaceToken(ctx, sess.ID, storetest.NewTokenHash(), time.Now()); err != nil {
			t.Fatal(err)
		}
		refused(t, sess.TokenHash)
	}
}

// TestConformanceThroughCache runs the suite on a cache in front of the
// Store, answering lookups from memory.
func TestConformanceThroughCache(t *testing.T) {
	testDSN(t)
	var hits uint64
	storetest.Run(t, func(t *testing.T) store.SessionStore {
		c := cached(t, newSchema(t), "conformance")
		serving(t, c)
		t.Cleanup(func() { hits += c.Stats().Hits })
		return c
	})
	if hits == 0 {
		t.Fatal("no lookup was answered from the cache")
	}
}
