package cachestore_test

import (
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

// TestConformance runs the suite on a cache that serves: every lookup
// after the first of a session is answered from memory.
func TestConformance(t *testing.T) {
	var hits uint64
	storetest.Run(t, func(t *testing.T) store.SessionStore {
		st := serving(t, memstore.New())
		t.Cleanup(func() { hits += st.Stats().Hits })
		return st
	})
	if hits == 0 {
		t.Fatal("the suite ran without a single lookup answered from the cache")
	}
	t.Logf("%d lookups answered from the cache", hits)
}

// serving returns a cache in front of b once it serves.
func serving(t *testing.T, b store.SessionStore, opts ...cachestore.Option) *cachestore.Store {
	t.Helper()
	st, err := cachestore.New(b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !st.Stats().Serving {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not start serving")
		}
		time.Sleep(time.Millisecond)
	}
	return st
}

func TestOutboxConformance(t *testing.T) {
	storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return serving(t, memstore.New()) })
}

func TestRecordingConformance(t *testing.T) {
	storetest.Recording(t, func(t *testing.T) store.RecordingStore { return serving(t, memstore.New()) })
}
