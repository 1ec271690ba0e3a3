package pgstore

import (
	"testing"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

func TestOutboxConformance(t *testing.T) {
	testDSN(t)
	storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return open(t, newSchema(t)) })
}

func TestRecordingConformance(t *testing.T) {
	testDSN(t)
	storetest.Recording(t, func(t *testing.T) store.RecordingStore {
		s, err := Open(t.Context(), testDSN(t), WithSchema(newSchema(t)), WithCleanupInterval(0))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
