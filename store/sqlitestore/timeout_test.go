package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
	"github.com/revokehq/revoke/store/storetest"
)

// TestCallTimeout: while another process holds the database's write lock,
// a write fails with store.ErrUnavailable once the call timeout passes,
// long before the busy timeout would, and nothing is half-written.
func TestCallTimeout(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := sqlitestore.Open(path, sqlitestore.WithCleanupInterval(0),
		sqlitestore.WithBusyTimeout(time.Minute), sqlitestore.WithCallTimeout(200*time.Millisecond))
	is.NoErr(err)
	defer s.Close()
	ctx := context.Background()
	kept := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(ctx, kept))

	other := rawDB(t, path)
	conn, err := other.Conn(ctx)
	is.NoErr(err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	is.NoErr(err)

	sess := storetest.NewSession("alice", time.Now())
	started := time.Now()
	err = s.Create(ctx, sess)
	is.True(errors.Is(err, store.ErrUnavailable)) // not a hang, not another error
	is.True(time.Since(started) < 30*time.Second) // bounded far below the busy timeout
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", NotBefore: time.Now()}, time.Now(), "r")
	is.True(errors.Is(err, store.ErrUnavailable))

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	is.NoErr(err)
	got, err := s.Get(ctx, kept.ID)
	is.NoErr(err)
	is.True(!got.Revoked()) // the refused revocation changed nothing
	_, err = s.Get(ctx, sess.ID)
	is.True(errors.Is(err, store.ErrNotFound))
	is.NoErr(s.Create(ctx, sess)) // and the store works again
}
