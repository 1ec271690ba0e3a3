package redisstore

import (
	"testing"

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

func TestConformance(t *testing.T) {
	redistest.URL(t)
	storetest.Run(t, func(t *testing.T) store.SessionStore { return open(t) })
}

func TestOutboxConformance(t *testing.T) {
	redistest.URL(t)
	storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return open(t) })
}

func TestRecordingConformance(t *testing.T) {
	redistest.URL(t)
	storetest.Recording(t, func(t *testing.T) store.RecordingStore {
		url := redistest.URL(t)
		s, err := Open(t.Context(), url, WithPrefix(redistest.Prefix(t, url)), WithCleanupInterval(0))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
