package memstore_test

import (
	"testing"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestOutboxConformance(t *testing.T) {
	storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return memstore.New() })
}

func TestRecordingConformance(t *testing.T) {
	storetest.Recording(t, func(t *testing.T) store.RecordingStore { return memstore.New() })
}
