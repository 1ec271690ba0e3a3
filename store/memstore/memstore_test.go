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
	st, err := memstore.Open(memstore.WithCleanupInterval(time.Millisecond), memstore.WithRetention(time.Hour))
	is.NoErr(err)
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
	_, err = st.Get(context.Background(), fresh.ID)
	is.NoErr(err)
}

// TestOpenRefusesBadOptions: an option with a value the store cannot take,
// or a nil option, makes Open fail.
func TestOpenRefusesBadOptions(t *testing.T) {
	for name, opt := range map[string]memstore.Option{
		"negative interval":  memstore.WithCleanupInterval(-time.Minute),
		"negative retention": memstore.WithRetention(-time.Hour),
		"nil logger":         memstore.WithLogger(nil),
		"nil option":         nil,
	} {
		if st, err := memstore.Open(opt); err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}
