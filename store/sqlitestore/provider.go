package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
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

// Deletes of a few expired rows, run beside each write to the same table.
const (
	dropExpiredLinks = `DELETE FROM provider_sessions WHERE rowid IN
		(SELECT rowid FROM provider_sessions WHERE expires_at <= ? LIMIT ?)`
	dropEnded = `DELETE FROM provider_sessions_ended WHERE rowid IN
		(SELECT rowid FROM provider_sessions_ended WHERE until <= ? LIMIT ?)`
	dropTokenIDs = `DELETE FROM used_token_ids WHERE rowid IN
		(SELECT rowid FROM used_token_ids WHERE until <= ? LIMIT ?)`
)

// LinkProviderSession implements store.ProviderStore.
func (s *Store) LinkProviderSession(ctx context.Context, l store.ProviderLink, now time.Time) error {
	const op = "link provider session"
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil) // immediate: the check and insert are one write
	if err != nil {
		return s.fail(op, err)
	}
	defer tx.Rollback()
	if l.SID != "" {
		var until int64
		err := tx.QueryRowContext(ctx, `SELECT until FROM provider_sessions_ended
			WHERE issuer = ? AND sid = ? AND until > ?`, l.Issuer, l.SID, nanos(now)).Scan(&until)
		switch {
		case err == nil:
			return store.ErrProviderSessionEnded
		case !errors.Is(err, sql.ErrNoRows):
			return s.fail(op, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO provider_subjects (issuer, subject, user_id) VALUES (?, ?, ?)
		ON CONFLICT (issuer, subject) DO UPDATE SET user_id = excluded.user_id`,
		l.Issuer, l.Subject, l.UserID); err != nil {
		return s.fail(op, err)
	}
	if l.SID != "" {
		if _, err := tx.ExecContext(ctx, dropExpiredLinks, nanos(now), store.ExpiredBatch); err != nil {
			return s.fail(op, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO provider_sessions
			(issuer, sid, session_id, subject, user_id, expires_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (issuer, sid, session_id) DO UPDATE SET
				subject = excluded.subject, user_id = excluded.user_id, expires_at = excluded.expires_at`,
			l.Issuer, l.SID, l.SessionID, l.Subject, l.UserID, nanos(l.ExpiresAt)); err != nil {
			return s.fail(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// EndProviderSession implements store.ProviderStore.
func (s *Store) EndProviderSession(ctx context.Context, issuer, sid string, now, until time.Time) ([]store.ProviderLink, error) {
	const op = "end provider session"
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, dropEnded, nanos(now), store.ExpiredBatch); err != nil {
		return nil, s.fail(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO provider_sessions_ended (issuer, sid, until) VALUES (?, ?, ?)
		ON CONFLICT (issuer, sid) DO UPDATE SET until = max(provider_sessions_ended.until, excluded.until)`,
		issuer, sid, nanos(until)); err != nil {
		return nil, s.fail(op, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT session_id, subject, user_id, expires_at FROM provider_sessions
		WHERE issuer = ? AND sid = ? AND expires_at > ?`, issuer, sid, nanos(now))
	if err != nil {
		return nil, s.fail(op, err)
	}
	var links []store.ProviderLink
	for rows.Next() {
		l := store.ProviderLink{Issuer: issuer, SID: sid}
		var exp int64
		if err := rows.Scan(&l.SessionID, &l.Subject, &l.UserID, &exp); err != nil {
			rows.Close()
			return nil, s.fail(op, err)
		}
		l.ExpiresAt = time.Unix(0, exp)
		links = append(links, l)
	}
	if err := rows.Close(); err != nil {
		return nil, s.fail(op, err)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.fail(op, err)
	}
	return links, nil
}

// ProviderUser implements store.ProviderStore.
func (s *Store) ProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	const op = "provider user"
	if s.closed.Load() {
		return "", store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	var user string
	err := s.r.QueryRowContext(ctx, `SELECT user_id FROM provider_subjects WHERE issuer = ? AND subject = ?`,
		issuer, subject).Scan(&user)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", store.ErrNotFound
	case err != nil:
		return "", s.fail(op, err)
	}
	return user, nil
}

// TokenIDUsed implements store.TokenIDStore.
func (s *Store) TokenIDUsed(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	if s.closed.Load() {
		return false, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	var used bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM used_token_ids
		WHERE issuer = ? AND jti = ? AND until > ?)`, issuer, jti, nanos(now)).Scan(&used)
	if err != nil {
		return false, s.fail("token id used", err)
	}
	return used, nil
}

// UseTokenID implements store.TokenIDStore.
func (s *Store) UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error {
	const op = "use token id"
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, dropTokenIDs, nanos(now), store.ExpiredBatch); err != nil {
		return s.fail(op, err)
	}
	// A remembered id is left as it is; a forgotten one (its time passed)
	// is used afresh.
	res, err := tx.ExecContext(ctx, `INSERT INTO used_token_ids (issuer, jti, until) VALUES (?, ?, ?)
		ON CONFLICT (issuer, jti) DO UPDATE SET until = excluded.until WHERE used_token_ids.until <= ?`,
		issuer, jti, nanos(until), nanos(now))
	if err != nil {
		return s.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(op, err)
	}
	if n == 0 {
		return store.ErrReplayed
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}
