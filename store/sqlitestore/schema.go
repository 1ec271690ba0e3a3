package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/revokehq/revoke/store"
)

// migrations[i] takes the schema from version i to version i+1; the version
// lives in PRAGMA user_version. Append new steps; never edit old ones, since
// existing files have already run them.
var migrations = []string{
	// 1: the sessions table.
	//
	// Times are Unix nanoseconds; revoked_at is NULL until the session is
	// revoked. The unique index on token_hash serves the lookup on every
	// request and refuses a duplicate token; the index on (user_id,
	// created_at) makes listing and revoking a user's sessions cost
	// O(that user's sessions) and gives List its order for free.
	`CREATE TABLE sessions (
		id              TEXT    NOT NULL PRIMARY KEY,
		user_id         TEXT    NOT NULL,
		token_hash      BLOB    NOT NULL,
		created_at      INTEGER NOT NULL,
		last_seen_at    INTEGER NOT NULL,
		expires_at      INTEGER NOT NULL,
		idle_expires_at INTEGER NOT NULL,
		revoked_at      INTEGER,
		revoke_reason   TEXT    NOT NULL DEFAULT '',
		ip              TEXT    NOT NULL DEFAULT '',
		user_agent      TEXT    NOT NULL DEFAULT ''
	) STRICT;
	CREATE UNIQUE INDEX sessions_by_token_hash ON sessions (token_hash);
	CREATE INDEX sessions_by_user ON sessions (user_id, created_at);`,

	// 2: the opaque payload of store.Session.Data (scs's session values, say).
	//
	// NULL means no data, so adding the column rewrites no existing row.
	`ALTER TABLE sessions ADD COLUMN data BLOB;`,

	// 3: an index of each user's unrevoked sessions.
	//
	// Revoked rows stay for the retention period, so a user who signs in
	// and out all day piles them up; revoking that user's sessions walks
	// only the unrevoked ones through this index.
	`CREATE INDEX sessions_unrevoked_by_user ON sessions (user_id) WHERE revoked_at IS NULL;`,

	// 4: when each session was authenticated, and each user's not-before
	// time (store.Selection.NotBefore).
	//
	// Rows from before this step read their creation time as their
	// authentication time (COALESCE in the queries), so no row is rewritten.
	`ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
	CREATE TABLE user_not_before (
		user_id    TEXT    NOT NULL PRIMARY KEY,
		not_before INTEGER NOT NULL
	) STRICT;`,

	// 5: the indexes that list a user's sessions a page at a time.
	//
	// Pages go newest first, by (created_at, id): the first index holds
	// that order, and replaces the one on (user_id, created_at) that it
	// extends. The second holds each user's unrevoked sessions by when
	// they end (the earlier expiry, as in Session.Expired), so that a page
	// of active sessions reads the live ones only, however many revoked or
	// expired rows the user has; created_at and id are in it so that
	// choosing the page reads no table row, and so is revoked_at (always
	// NULL here, a byte per entry), without which SQLite reads the row to
	// check the index's own condition.
	`CREATE INDEX sessions_by_user_page ON sessions (user_id, created_at, id);
	DROP INDEX sessions_by_user;
	CREATE INDEX sessions_live_by_user
		ON sessions (user_id, MIN(expires_at, idle_expires_at), created_at, id, revoked_at)
		WHERE revoked_at IS NULL;`,

	// 6: identity-provider sign-ins (store.ProviderStore) and used token
	// ids (store.TokenIDStore); see provider.go.
	providerMigration,

	// 7: how each session was signed in (store.SignInStore): its
	// authentication methods and labels, as JSON, NULL for none, so that
	// adding the columns rewrites no row.
	`ALTER TABLE sessions ADD COLUMN auth_methods TEXT;
	ALTER TABLE sessions ADD COLUMN labels TEXT;`,

	// 8: the outbox of store.OutboxStore; see outbox.go.
	outboxMigration,

	// 9: the session ids of an outbox message (store.RecordingStore); see
	// outbox.go.
	outboxIDsMigration,
}

// migrate brings the schema up to date in one immediate transaction, so that
// two processes opening a new file at once do not both create it.
func migrate(ctx context.Context, db *sql.DB) error {
	latest := len(migrations)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	migrated, err := store.Migrate(v, latest, func(i int) error {
		_, err := tx.ExecContext(ctx, migrations[i])
		return err
	})
	if err != nil || !migrated {
		return err
	}
	// PRAGMA takes no parameters; the value is our own constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", latest)); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
