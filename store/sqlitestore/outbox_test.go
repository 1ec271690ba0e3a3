package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestOutboxConformance(t *testing.T) {
	storetest.Outbox(t, func(t *testing.T) store.OutboxStore {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestRecordingConformance(t *testing.T) {
	storetest.Recording(t, func(t *testing.T) store.RecordingStore {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
