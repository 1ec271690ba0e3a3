package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// retention is how long revoked and expired sessions are kept before they
// are deleted: long enough to look at them in the demo, short enough that a
// demo database does not grow without bound.
const retention = 24 * time.Hour

// pgOpenTimeout bounds connecting to PostgreSQL and preparing its tables at
// start-up, so that an unreachable server makes the demo exit with an error
// instead of hanging.
const pgOpenTimeout = 30 * time.Second

// openStore opens the session store the flags ask for.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (store.SessionStore, error) {
	switch {
	case cfg.memory:
		return memstore.Open(memstore.WithCleanupInterval(time.Hour), memstore.WithRetention(retention))
	case cfg.postgres != "":
		st, err := openPostgres(ctx, cfg, logger)
		return withCache(st, err, cfg, logger)
	case cfg.redis != "":
		st, err := openRedis(ctx, cfg, logger)
		return withCache(st, err, cfg, logger)
	}
	created, err := createDBFile(cfg.dbPath, logger)
	if err != nil {
		return nil, err
	}
	st, err := sqlitestore.Open(cfg.dbPath, sqlitestore.WithRetention(retention), sqlitestore.WithLogger(logger))
	if err != nil {
		if created {
			_ = os.Remove(cfg.dbPath)
		}
		return nil, fmt.Errorf("open %s: %w", cfg.dbPath, err)
	}
	return st, nil
}

// openPostgres opens the store in PostgreSQL. Every instance given the same
// database and schema shares the one sessions table; pgstore keeps no
// cache, so a revocation committed by one instance is seen by the next
// request on any other, and its advisory lock lets only one instance at a
// time run the cleanup.
func openPostgres(ctx context.Context, cfg config, logger *slog.Logger) (store.SessionStore, error) {
	ctx, cancel := context.WithTimeout(ctx, pgOpenTimeout)
	defer cancel()
	st, err := pgstore.Open(ctx, cfg.postgres,
		pgstore.WithSchema(cfg.pgSchema),
		pgstore.WithRetention(retention),
		pgstore.WithLogger(logger),
	)
	if err != nil {
		// pgx masks the password in the errors it returns.
		return nil, fmt.Errorf("open PostgreSQL store at %s: %w", redactConnString(cfg.postgres), err)
	}
	schema := cfg.pgSchema
	if schema == "" {
		schema = "(current schema)"
	}
	logger.Info("session store", "backend", "postgres", "server", redactConnString(cfg.postgres),
		"schema", schema, "table", pgstore.DefaultTable, "retention", retention)
	return st, nil
}
