package pgstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.ProviderStore = (*Store)(nil)
	_ store.TokenIDStore  = (*Store)(nil)
)

// idpNames are the sanitized names of the identity-provider extension's
// tables and indexes, beside the sessions table. Their suffixes are no
// longer than longestSuffix.
type idpNames struct {
	links, linksExp, ended, endedExp, subjects, tokenIDs, tokenIDsExp string
}

func newIDPNames(schema, table string) idpNames {
	local := func(suffix string) string { return pgx.Identifier{table + suffix}.Sanitize() }
	return idpNames{
		links:       quoted(schema, table+"_idp_links"),
		linksExp:    local("_idp_links_exp"),
		ended:       quoted(schema, table+"_idp_ended"),
		endedExp:    local("_idp_ended_exp"),
		subjects:    quoted(schema, table+"_idp_subjects"),
		tokenIDs:    quoted(schema, table+"_used_jtis"),
		tokenIDsExp: local("_used_jtis_exp"),
	}
}

func (n idpNames) expand(text string) string {
	return strings.NewReplacer(
		"{idp_links}", n.links,
		"{idp_links_exp}", n.linksExp,
		"{idp_ended}", n.ended,
		"{idp_ended_exp}", n.endedExp,
		"{idp_subjects}", n.subjects,
		"{used_jtis}", n.tokenIDs,
		"{used_jtis_exp}", n.tokenIDsExp,
	).Replace(text)
}

// providerMigration creates the tables of the identity-provider extensions.
//
// {idp_links} is keyed by (issuer, sid, session_id), so that a provider's
// logout for one of its sessions reads only that session's links. The
// other tables remember an ended provider session, a provider subject's app
// user, and a used token id. Every row with an end time has an index on it,
// so that writes can drop a few expired rows each.
const providerMigration = `CREATE TABLE {idp_links} (
		issuer     text        NOT NULL,
		sid        text        NOT NULL,
		session_id text        NOT NULL,
		subject    text        NOT NULL,
		user_id    text        NOT NULL,
		expires_at timestamptz NOT NULL,
		PRIMARY KEY (issuer, sid, session_id)
	);
	CREATE INDEX {idp_links_exp} ON {idp_links} (expires_at);
	CREATE TABLE {idp_ended} (
		issuer text        NOT NULL,
		sid    text        NOT NULL,
		until  timestamptz NOT NULL,
		PRIMARY KEY (issuer, sid)
	);
	CREATE INDEX {idp_ended_exp} ON {idp_ended} (until);
	CREATE TABLE {idp_subjects} (
		issuer  text NOT NULL,
		subject text NOT NULL,
		user_id text NOT NULL,
		PRIMARY KEY (issuer, subject)
	);
	CREATE TABLE {used_jtis} (
		issuer text        NOT NULL,
		jti    text        NOT NULL,
		until  timestamptz NOT NULL,
		PRIMARY KEY (issuer, jti)
	);
	CREATE INDEX {used_jtis_exp} ON {used_jtis} (until);`

// idpSessionLock serialises the transactions of one provider session, so
// that a link either sees the provider's end of it or is seen by it.
func (s *Store) idpSessionLock(issuer, sid string) int64 {
	return lockKey("idp-session", s.names.table+"\x00"+issuer+"\x00"+sid)
}

// providerDatabase is the Store as the store.ProviderDatabase that its
// store.ProviderRules work on.
type providerDatabase struct{ *Store }

var _ store.ProviderDatabase = providerDatabase{}

// Closed implements store.ProviderDatabase.
func (d providerDatabase) Closed() bool { return d.closed.Load() }

// ProviderTx implements store.ProviderDatabase: a provider session's
// transactions take its advisory lock first.
func (d providerDatabase) ProviderTx(ctx context.Context, op, issuer, sid string, fn func(store.ProviderTx) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return d.fail(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if sid != "" {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", d.idpSessionLock(issuer, sid)); err != nil {
			return d.fail(op, err)
		}
	}
	if err := fn(providerTx{ctx: ctx, tx: tx, s: d.Store, op: op}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return d.fail(op, err)
	}
	return nil
}

// LoadProviderUser implements store.ProviderDatabase.
func (d providerDatabase) LoadProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	var user string
	err := d.pool.QueryRow(ctx, d.names.expand(`SELECT user_id FROM {idp_subjects} WHERE issuer = $1 AND subject = $2`),
		issuer, subject).Scan(&user)
	if err != nil {
		return "", d.fail("provider user", err) // no rows: ErrNotFound
	}
	return user, nil
}

// TokenIDRemembered implements store.ProviderDatabase.
func (d providerDatabase) TokenIDRemembered(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	var used bool
	err := d.pool.QueryRow(ctx, d.names.expand(`SELECT EXISTS (SELECT 1 FROM {used_jtis}
		WHERE issuer = $1 AND jti = $2 AND until > $3)`), issuer, jti, ts(now)).Scan(&used)
	if err != nil {
		return false, d.fail("token id used", err)
	}
	return used, nil
}

// providerTx is one transaction of the provider tables.
type providerTx struct {
	ctx context.Context
	tx  pgx.Tx
	s   *Store
	op  string
}

func (t providerTx) exec(text string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.tx.Exec(t.ctx, t.s.names.expand(text), args...)
	if err != nil {
		return tag, t.s.fail(t.op, err)
	}
	return tag, nil
}

// Ended implements store.ProviderTx.
func (t providerTx) Ended(issuer, sid string, now time.Time) (bool, error) {
	var ended bool
	err := t.tx.QueryRow(t.ctx, t.s.names.expand(`SELECT EXISTS (SELECT 1 FROM {idp_ended}
		WHERE issuer = $1 AND sid = $2 AND until > $3)`), issuer, sid, ts(now)).Scan(&ended)
	if err != nil {
		return false, t.s.fail(t.op, err)
	}
	return ended, nil
}

// MapSubject implements store.ProviderTx.
func (t providerTx) MapSubject(issuer, subject, userID string) error {
	_, err := t.exec(`INSERT INTO {idp_subjects} (issuer, subject, user_id) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, subject) DO UPDATE SET user_id = excluded.user_id`, issuer, subject, userID)
	return err
}

// PutLink implements store.ProviderTx.
func (t providerTx) PutLink(l store.ProviderLink) error {
	_, err := t.exec(`INSERT INTO {idp_links}
		(issuer, sid, session_id, subject, user_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (issuer, sid, session_id) DO UPDATE SET
			subject = excluded.subject, user_id = excluded.user_id, expires_at = excluded.expires_at`,
		l.Issuer, l.SID, l.SessionID, l.Subject, l.UserID, ts(l.ExpiresAt))
	return err
}

// PutEnded implements store.ProviderTx.
func (t providerTx) PutEnded(issuer, sid string, until time.Time) error {
	_, err := t.exec(`INSERT INTO {idp_ended} AS e (issuer, sid, until) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, sid) DO UPDATE SET until = GREATEST(e.until, excluded.until)`,
		issuer, sid, ts(until))
	return err
}

// Links implements store.ProviderTx.
func (t providerTx) Links(issuer, sid string, now time.Time) ([]store.ProviderLink, error) {
	rows, err := t.tx.Query(t.ctx, t.s.names.expand(`SELECT session_id, subject, user_id, expires_at FROM {idp_links}
		WHERE issuer = $1 AND sid = $2 AND expires_at > $3`), issuer, sid, ts(now))
	if err != nil {
		return nil, t.s.fail(t.op, err)
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ProviderLink, error) {
		l := store.ProviderLink{Issuer: issuer, SID: sid}
		err := row.Scan(&l.SessionID, &l.Subject, &l.UserID, &l.ExpiresAt)
		return l, err
	})
	if err != nil {
		return nil, t.s.fail(t.op, err)
	}
	return links, nil
}

// PutTokenID implements store.ProviderTx: a remembered id is left as it
// is; a forgotten one (its time passed) is used afresh.
func (t providerTx) PutTokenID(issuer, jti string, now, until time.Time) (bool, error) {
	tag, err := t.exec(`INSERT INTO {used_jtis} AS u (issuer, jti, until) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, jti) DO UPDATE SET until = excluded.until WHERE u.until <= $4`,
		issuer, jti, ts(until), ts(now))
	return tag.RowsAffected() > 0, err
}

// dropExpired are the deletes of a few expired rows, by table.
var dropExpired = map[store.ExtensionTable]string{
	store.LinksTable: `DELETE FROM {idp_links} WHERE ctid IN
		(SELECT ctid FROM {idp_links} WHERE expires_at <= $1 LIMIT $2)`,
	store.EndedTable: `DELETE FROM {idp_ended} WHERE ctid IN
		(SELECT ctid FROM {idp_ended} WHERE until <= $1 LIMIT $2)`,
	store.TokenIDsTable: `DELETE FROM {used_jtis} WHERE ctid IN
		(SELECT ctid FROM {used_jtis} WHERE until <= $1 LIMIT $2)`,
}

// DropExpired implements store.ProviderTx.
func (t providerTx) DropExpired(table store.ExtensionTable, now time.Time, limit int) error {
	_, err := t.exec(dropExpired[table], ts(now), limit)
	return err
}
