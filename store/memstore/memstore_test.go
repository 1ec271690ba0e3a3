package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.SessionStore { return memstore.New() })
}

func TestBackgroundCleanup(t *testing.T) {
	is := is.New(t)
	st := memstore.New(memstore.WithCleanup(time.Millisecond, time.Hour))
	defer st.Close()
	now := time.Now()
	old := storetest.NewSession("alice", now.Add(-72*time.Hour)) // expired two days ago
	fresh := storetest.NewSession("alice", now)
	is.NoErr(st.Create(context.Background(), old))
	is.NoErr(st.Create(context.Background(), fresh))
	deadline := time.Now().Add(5 * time.Second)
	for st.Len() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	is.Equal(st.Len(), 1)
	_, err := st.Get(context.Background(), fresh.ID)
	is.NoErr(err)
}
