package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// retention is how long revoked and expired sessions are kept before they
// are deleted: long enough to look at them in the demo, short enough that a
// demo database does not grow without bound.
const retention = 24 * time.Hour

// openStore opens the session store the flags ask for. A further backend
// (say, -postgres URL) is one more case here.
func openStore(_ context.Context, cfg config, logger *slog.Logger) (store.SessionStore, error) {
	if cfg.memory {
		return memstore.New(memstore.WithCleanup(time.Hour, retention)), nil
	}
	st, err := sqlitestore.Open(cfg.dbPath, sqlitestore.WithRetention(retention), sqlitestore.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.dbPath, err)
	}
	return st, nil
}
