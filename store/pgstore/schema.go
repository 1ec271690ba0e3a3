package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/revokehq/revoke/store"
)

// names are the sanitized names of the objects a store uses, ready to splice
// into SQL. Only these, never values, are spliced; values go as parameters.
type names struct {
	schemaName string // unquoted
	tableName  string // unquoted
	schema     string
	table      string // schema-qualified
	migrations string // schema-qualified
	pkey       string // the names below are unqualified: they live in the table's schema
	tokenKey   string
	userIdx    string
	expiryIdx  string
	revokedIdx string
	activeIdx  string
	notBefore  string // schema-qualified
	leases     string // schema-qualified; see invalidator.go
	outbox     string // schema-qualified
	outboxDue  string

	// channel is the store's notification channel (see channelName),
	// unquoted; channelLiteral is the same as an SQL string literal.
	channel, channelLiteral string

	pageIdx string
	liveIdx string
	idp     idpNames // see provider.go
}

func newNames(schema, table string) names {
	local := func(suffix string) string { return pgx.Identifier{table + suffix}.Sanitize() }
	return names{
		schemaName: schema,
		tableName:  table,
		schema:     pgx.Identifier{schema}.Sanitize(),
		table:      quoted(schema, table),
		migrations: quoted(schema, table+"_migrations"),
		pkey:       local("_pkey"),
		tokenKey:   local("_token_hash_key"),
		userIdx:    local("_user_id_idx"),
		expiryIdx:  local("_expiry_idx"),
		revokedIdx: local("_revoked_at_idx"),
		activeIdx:  local("_unrevoked_user_idx"),
		notBefore:  quoted(schema, table+"_user_not_before"),
		leases:     quoted(schema, table+"_leases"),
		outbox:     quoted(schema, table+"_outbox"),
		outboxDue:  local("_outbox_due"),

		channel:        channelName(schema, table),
		channelLiteral: "'" + channelName(schema, table) + "'", // hex digits and "_" only

		pageIdx: local("_user_page_idx"),
		liveIdx: local("_live_user_idx"),
		idp:     newIDPNames(schema, table),
	}
}

// expand replaces the {placeholders} of text with n's names.
func (n names) expand(text string) string {
	return strings.NewReplacer(
		"{schema}", n.schema,
		"{table}", n.table,
		"{migrations}", n.migrations,
		"{pkey}", n.pkey,
		"{token_key}", n.tokenKey,
		"{user_idx}", n.userIdx,
		"{expiry_idx}", n.expiryIdx,
		"{revoked_idx}", n.revokedIdx,
		"{unrevoked_idx}", n.activeIdx,
		"{not_before}", n.notBefore,
		"{leases}", n.leases,
		"{channel}", n.channelLiteral,
		"{outbox_due}", n.outboxDue,
		"{outbox}", n.outbox,

		"{page_idx}", n.pageIdx,
		"{live_idx}", n.liveIdx,
	).Replace(n.idp.expand(text))
}

// migrations[i] takes the schema from version i to version i+1. Append new
// steps; never edit old ones, since existing databases have already run
// them.
var migrations = []string{
	// 1: the sessions table.
	//
	// revoked_at is NULL until the session is revoked. The unique index on
	// token_hash serves the lookup on every request and refuses a duplicate
	// token; the index on (user_id, created_at) makes listing and revoking a
	// user's sessions cost O(that user's sessions). The expiry index (on the
	// earlier of the two expiries, which is what "expired" means) and the
	// partial index on revoked_at let the cleanup find old rows without
	// reading the table. The expiry index does cost a touch its HOT update,
	// as touches move idle_expires_at; touches are throttled, and a cleanup
	// that scans the whole table would cost more.
	`CREATE TABLE {table} (
		id              text        NOT NULL,
		user_id         text        NOT NULL,
		token_hash      bytea       NOT NULL,
		created_at      timestamptz NOT NULL,
		last_seen_at    timestamptz NOT NULL,
		expires_at      timestamptz NOT NULL,
		idle_expires_at timestamptz NOT NULL,
		revoked_at      timestamptz,
		revoke_reason   text        NOT NULL DEFAULT '',
		ip              text        NOT NULL DEFAULT '',
		user_agent      text        NOT NULL DEFAULT '',
		data            bytea       NOT NULL DEFAULT '',
		CONSTRAINT {pkey} PRIMARY KEY (id)
	);
	CREATE UNIQUE INDEX {token_key} ON {table} (token_hash);
	CREATE INDEX {user_idx} ON {table} (user_id, created_at);
	CREATE INDEX {expiry_idx} ON {table} (LEAST(expires_at, idle_expires_at));
	CREATE INDEX {revoked_idx} ON {table} (revoked_at) WHERE revoked_at IS NOT NULL;`,

	// 2: an index of each user's unrevoked sessions.
	//
	// Revoked rows stay for the retention period, so a user who signs in
	// and out all day piles them up; revoking that user's sessions walks
	// only the unrevoked ones through this index.
	`CREATE INDEX {unrevoked_idx} ON {table} (user_id) WHERE revoked_at IS NULL;`,

	// 3: when each session was authenticated, and each user's not-before
	// time (store.Selection.NotBefore).
	//
	// Rows from before this step read their creation time as their
	// authentication time (COALESCE in the queries), so no row is rewritten.
	`ALTER TABLE {table} ADD COLUMN authenticated_at timestamptz;
	CREATE TABLE {not_before} (
		user_id    text        NOT NULL PRIMARY KEY,
		not_before timestamptz NOT NULL
	);`,

	// 4: the indexes that list a user's sessions a page at a time.
	//
	// Pages go newest first, by (created_at, id), ids compared byte by byte
	// whatever the database's collation: the first index holds that
	// order, and replaces the one on (user_id, created_at) that it
	// extends. The second holds each user's unrevoked sessions by when
	// they end (the earlier expiry, as in Session.Expired), so that a page
	// of active sessions reads the live ones only, however many revoked or
	// expired rows the user has. It starts with user_id and holds the rows
	// of the index of migration 2, so it serves revocation as that one
	// did, and replaces it: with both, the planner, which cannot see that
	// one user's unrevoked rows are mostly expired, may take the smaller
	// for a page and read every one of them.
	`CREATE INDEX {page_idx} ON {table} (user_id, created_at, id COLLATE "C");
	DROP INDEX {schema}.{user_idx};
	CREATE INDEX {live_idx} ON {table} (user_id, LEAST(expires_at, idle_expires_at)) WHERE revoked_at IS NULL;
	DROP INDEX {schema}.{unrevoked_idx};`,

	// 5: identity-provider sign-ins (store.ProviderStore) and used token
	// ids (store.TokenIDStore); see provider.go.
	providerMigration,

	// 6: how each session was signed in (store.SignInStore): its
	// authentication methods and labels, as JSON text, NULL for none, so
	// that adding the columns rewrites no row.
	`ALTER TABLE {table} ADD COLUMN auth_methods text, ADD COLUMN labels text;`,

	// 7: the instances' leases (store.Invalidator), on the database's
	// clock; see invalidator.go.
	`CREATE TABLE {leases} (
		instance   text        NOT NULL PRIMARY KEY,
		expires_at timestamptz NOT NULL
	);`,

	// 8: the outbox of store.OutboxStore and store.RecordingStore; see
	// outbox.go.
	outboxMigration,
}

// migrate brings the schema up to date in one transaction. An advisory lock
// on the schema serialises stores that open at once, in this process or
// another: the first creates or migrates, the others wait, then find the
// work done. Objects are created only after checking the catalog, so a role
// without CREATE rights can open an up-to-date schema.
func migrate(ctx context.Context, pool *pgxpool.Pool, n names) error {
	latest := len(migrations)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("migrate", n.schema)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	var schemaExists, tableExists bool
	err = tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
			to_regclass($2) IS NOT NULL`,
		n.schemaName, n.migrations).Scan(&schemaExists, &tableExists)
	if err != nil {
		return fmt.Errorf("migrate: read catalog: %w", err)
	}
	if !schemaExists {
		if _, err := tx.Exec(ctx, n.expand(`CREATE SCHEMA {schema}`)); err != nil {
			return fmt.Errorf("migrate: create schema: %w", err)
		}
	}
	v := 0
	if tableExists {
		if err := tx.QueryRow(ctx, n.expand(`SELECT coalesce(max(version), 0) FROM {migrations}`)).Scan(&v); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
	} else {
		_, err := tx.Exec(ctx, n.expand(`CREATE TABLE {migrations} (
			version    integer     NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`))
		if err != nil {
			return fmt.Errorf("migrate: create version table: %w", err)
		}
	}
	migrated, err := store.Migrate(v, latest, func(i int) error {
		if _, err := tx.Exec(ctx, n.expand(migrations[i])); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, n.expand(`INSERT INTO {migrations} (version) VALUES ($1)`), i+1); err != nil {
			return fmt.Errorf("record the version: %w", err)
		}
		return nil
	})
	if err != nil || !migrated {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
