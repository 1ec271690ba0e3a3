package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.ProviderStore = (*Store)(nil)
	_ store.TokenIDStore  = (*Store)(nil)
)

// providerMigration creates the tables of the identity-provider extensions.
//
// provider_sessions is keyed by (issuer, sid, session_id), so that a
// provider's logout for one of its sessions reads only that session's
// links. The other tables remember an ended provider session, a provider
// subject's app user, and a used token id. Every row with an end time has
// an index on it, so that writes can drop a few expired rows each.
const providerMigration = `CREATE TABLE provider_sessions (
		issuer     TEXT    NOT NULL,
		sid        TEXT    NOT NULL,
		session_id TEXT    NOT NULL,
		subject    TEXT    NOT NULL,
		user_id    TEXT    NOT NULL,
		expires_at INTEGER NOT NULL,
		PRIMARY KEY (issuer, sid, session_id)
	) STRICT;
	CREATE INDEX provider_sessions_by_expiry ON provider_sessions (expires_at);
	CREATE TABLE provider_sessions_ended (
		issuer TEXT    NOT NULL,
		sid    TEXT    NOT NULL,
		until  INTEGER NOT NULL,
		PRIMARY KEY (issuer, sid)
	) STRICT;
	CREATE INDEX provider_sessions_ended_by_until ON provider_sessions_ended (until);
	CREATE TABLE provider_subjects (
		issuer  TEXT NOT NULL,
		subject TEXT NOT NULL,
		user_id TEXT NOT NULL,
		PRIMARY KEY (issuer, subject)
	) STRICT;
	CREATE TABLE used_token_ids (
		issuer TEXT    NOT NULL,
		jti    TEXT    NOT NULL,
		until  INTEGER NOT NULL,
		PRIMARY KEY (issuer, jti)
	) STRICT;
	CREATE INDEX used_token_ids_by_until ON used_token_ids (until);`

// dropExpired are the deletes of a few expired rows, by table.
var dropExpired = map[store.ExtensionTable]string{
	store.LinksTable: `DELETE FROM provider_sessions WHERE rowid IN
		(SELECT rowid FROM provider_sessions WHERE expires_at <= ? LIMIT ?)`,
	store.EndedTable: `DELETE FROM provider_sessions_ended WHERE rowid IN
		(SELECT rowid FROM provider_sessions_ended WHERE until <= ? LIMIT ?)`,
	store.TokenIDsTable: `DELETE FROM used_token_ids WHERE rowid IN
		(SELECT rowid FROM used_token_ids WHERE until <= ? LIMIT ?)`,
}

// providerDatabase is the Store as the store.ProviderDatabase that its
// store.ProviderRules work on.
type providerDatabase struct{ *Store }

var _ store.ProviderDatabase = providerDatabase{}

// Closed implements store.ProviderDatabase.
func (d providerDatabase) Closed() bool { return d.closed.Load() }

// ProviderTx implements store.ProviderDatabase. Every transaction on the
// one writer connection is immediate, so each is serialised with every
// other write to the file, from any process.
func (d providerDatabase) ProviderTx(ctx context.Context, op, _, _ string, fn func(store.ProviderTx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return d.fail(op, err)
	}
	defer tx.Rollback()
	if err := fn(providerTx{ctx: ctx, tx: tx, s: d.Store, op: op}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.fail(op, err)
	}
	return nil
}

// LoadProviderUser implements store.ProviderDatabase.
func (d providerDatabase) LoadProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	var user string
	err := d.r.QueryRowContext(ctx, `SELECT user_id FROM provider_subjects WHERE issuer = ? AND subject = ?`,
		issuer, subject).Scan(&user)
	if err != nil {
		return "", d.fail("provider user", err) // no rows: ErrNotFound
	}
	return user, nil
}

// TokenIDRemembered implements store.ProviderDatabase.
func (d providerDatabase) TokenIDRemembered(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	var used bool
	err := d.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM used_token_ids
		WHERE issuer = ? AND jti = ? AND until > ?)`, issuer, jti, nanos(now)).Scan(&used)
	if err != nil {
		return false, d.fail("token id used", err)
	}
	return used, nil
}

// providerTx is one transaction of the provider tables.
type providerTx struct {
	ctx context.Context
	tx  *sql.Tx
	s   *Store
	op  string
}

func (t providerTx) exec(text string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(t.ctx, text, args...)
	if err != nil {
		return nil, t.s.fail(t.op, err)
	}
	return res, nil
}

// Ended implements store.ProviderTx.
func (t providerTx) Ended(issuer, sid string, now time.Time) (bool, error) {
	var ended bool
	err := t.tx.QueryRowContext(t.ctx, `SELECT EXISTS (SELECT 1 FROM provider_sessions_ended
		WHERE issuer = ? AND sid = ? AND until > ?)`, issuer, sid, nanos(now)).Scan(&ended)
	if err != nil {
		return false, t.s.fail(t.op, err)
	}
	return ended, nil
}

// MapSubject implements store.ProviderTx.
func (t providerTx) MapSubject(issuer, subject, userID string) error {
	_, err := t.exec(`INSERT INTO provider_subjects (issuer, subject, user_id) VALUES (?, ?, ?)
		ON CONFLICT (issuer, subject) DO UPDATE SET user_id = excluded.user_id`, issuer, subject, userID)
	return err
}

// PutLink implements store.ProviderTx.
func (t providerTx) PutLink(l store.ProviderLink) error {
	_, err := t.exec(`INSERT INTO provider_sessions
		(issuer, sid, session_id, subject, user_id, expires_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (issuer, sid, session_id) DO UPDATE SET
			subject = excluded.subject, user_id = excluded.user_id, expires_at = excluded.expires_at`,
		l.Issuer, l.SID, l.SessionID, l.Subject, l.UserID, nanos(l.ExpiresAt))
	return err
}

// PutEnded implements store.ProviderTx.
func (t providerTx) PutEnded(issuer, sid string, until time.Time) error {
	_, err := t.exec(`INSERT INTO provider_sessions_ended (issuer, sid, until) VALUES (?, ?, ?)
		ON CONFLICT (issuer, sid) DO UPDATE SET until = max(provider_sessions_ended.until, excluded.until)`,
		issuer, sid, nanos(until))
	return err
}

// Links implements store.ProviderTx.
func (t providerTx) Links(issuer, sid string, now time.Time) ([]store.ProviderLink, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT session_id, subject, user_id, expires_at FROM provider_sessions
		WHERE issuer = ? AND sid = ? AND expires_at > ?`, issuer, sid, nanos(now))
	if err != nil {
		return nil, t.s.fail(t.op, err)
	}
	defer rows.Close()
	var links []store.ProviderLink
	for rows.Next() {
		l := store.ProviderLink{Issuer: issuer, SID: sid}
		var exp int64
		if err := rows.Scan(&l.SessionID, &l.Subject, &l.UserID, &exp); err != nil {
			return nil, t.s.fail(t.op, err)
		}
		l.ExpiresAt = time.Unix(0, exp)
		links = append(links, l)
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.fail(t.op, err)
	}
	return links, nil
}

// PutTokenID implements store.ProviderTx: a remembered id is left as it
// is; a forgotten one (its time passed) is used afresh.
func (t providerTx) PutTokenID(issuer, jti string, now, until time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO used_token_ids (issuer, jti, until) VALUES (?, ?, ?)
		ON CONFLICT (issuer, jti) DO UPDATE SET until = excluded.until WHERE used_token_ids.until <= ?`,
		issuer, jti, nanos(until), nanos(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.s.fail(t.op, err)
	}
	return n > 0, nil
}

// DropExpired implements store.ProviderTx.
func (t providerTx) DropExpired(table store.ExtensionTable, now time.Time, limit int) error {
	_, err := t.exec(dropExpired[table], nanos(now), limit)
	return err
}
