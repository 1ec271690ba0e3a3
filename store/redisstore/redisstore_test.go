package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// open opens a Store under a prefix of its own, without background
// cleanup unless opts turn it on, and closes it when the test ends.
func open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	url := redistest.URL(t)
	opts = append([]Option{WithPrefix(redistest.Prefix(t, url)), WithCleanupInterval(0)}, opts...)
	s, err := Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// onClient returns a Store on rdb under prefix, without background
// cleanup, and closes both when the test ends.
func onClient(t *testing.T, rdb redis.UniversalClient, prefix string) *Store {
	t.Helper()
	t.Cleanup(func() { rdb.Close() })
	s, err := New(t.Context(), rdb, WithPrefix(prefix), WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// suites runs the session, outbox and recording conformance suites on
// stores from open.
func suites(t *testing.T, open func(*testing.T) *Store) {
	t.Run("Sessions", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.SessionStore { return open(t) })
	})
	t.Run("Outbox", func(t *testing.T) {
		storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return open(t) })
	})
	t.Run("Recording", func(t *testing.T) {
		storetest.Recording(t, func(t *testing.T) store.RecordingStore { return open(t) })
	})
}

func TestConformance(t *testing.T) {
	redistest.URL(t)
	suites(t, func(t *testing.T) *Store { return open(t) })
}
