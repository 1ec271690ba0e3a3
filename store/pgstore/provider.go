package pgstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// idpSessionLock serialises LinkProviderSession and EndProviderSession of
// one provider session, so that a link either sees the end or is seen by it.
func (s *Store) idpSessionLock(issuer, sid string) int64 {
	return lockKey("idp-session", s.names.table+"\x00"+issuer+"\x00"+sid)
}

// LinkProviderSession implements store.ProviderStore.
func (s *Store) LinkProviderSession(ctx context.Context, l store.ProviderLink, now time.Time) error {
	const op = "link provider session"
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	n := s.names
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if l.SID != "" {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.idpSessionLock(l.Issuer, l.SID)); err != nil {
				return err
			}
			var ended bool
			if err := tx.QueryRow(ctx, n.expand(`SELECT EXISTS (SELECT 1 FROM {idp_ended}
				WHERE issuer = $1 AND sid = $2 AND until > $3)`), l.Issuer, l.SID, ts(now)).Scan(&ended); err != nil {
				return err
			}
			if ended {
				return store.ErrProviderSessionEnded
			}
		}
		if _, err := tx.Exec(ctx, n.expand(`INSERT INTO {idp_subjects} (issuer, subject, user_id) VALUES ($1, $2, $3)
			ON CONFLICT (issuer, subject) DO UPDATE SET user_id = excluded.user_id`),
			l.Issuer, l.Subject, l.UserID); err != nil {
			return err
		}
		if l.SID == "" {
			return nil
		}
		if _, err := tx.Exec(ctx, n.expand(`DELETE FROM {idp_links} WHERE ctid IN
			(SELECT ctid FROM {idp_links} WHERE expires_at <= $1 LIMIT $2)`), ts(now), store.ExpiredBatch); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, n.expand(`INSERT INTO {idp_links}
			(issuer, sid, session_id, subject, user_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (issuer, sid, session_id) DO UPDATE SET
				subject = excluded.subject, user_id = excluded.user_id, expires_at = excluded.expires_at`),
			l.Issuer, l.SID, l.SessionID, l.Subject, l.UserID, ts(l.ExpiresAt))
		return err
	})
	if errors.Is(err, store.ErrProviderSessionEnded) {
		return err
	}
	if err != nil {
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
	n := s.names
	var links []store.ProviderLink
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		links = nil // a retried function starts over
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.idpSessionLock(issuer, sid)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, n.expand(`DELETE FROM {idp_ended} WHERE ctid IN
			(SELECT ctid FROM {idp_ended} WHERE until <= $1 LIMIT $2)`), ts(now), store.ExpiredBatch); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, n.expand(`INSERT INTO {idp_ended} AS e (issuer, sid, until) VALUES ($1, $2, $3)
			ON CONFLICT (issuer, sid) DO UPDATE SET until = GREATEST(e.until, excluded.until)`),
			issuer, sid, ts(until)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, n.expand(`SELECT session_id, subject, user_id, expires_at FROM {idp_links}
			WHERE issuer = $1 AND sid = $2 AND expires_at > $3`), issuer, sid, ts(now))
		if err != nil {
			return err
		}
		links, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ProviderLink, error) {
			l := store.ProviderLink{Issuer: issuer, SID: sid}
			err := row.Scan(&l.SessionID, &l.Subject, &l.UserID, &l.ExpiresAt)
			return l, err
		})
		return err
	})
	if err != nil {
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
	err := s.pool.QueryRow(ctx, s.names.expand(`SELECT user_id FROM {idp_subjects} WHERE issuer = $1 AND subject = $2`),
		issuer, subject).Scan(&user)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
	err := s.pool.QueryRow(ctx, s.names.expand(`SELECT EXISTS (SELECT 1 FROM {used_jtis}
		WHERE issuer = $1 AND jti = $2 AND until > $3)`), issuer, jti, ts(now)).Scan(&used)
	if err != nil {
		return false, s.fail("token id used", err)
	}
	return used, nil
}

// UseTokenID implements store.TokenIDStore. One statement checks and
// records the id: of two concurrent calls, the second waits for the first
// and then finds the id remembered.
func (s *Store) UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error {
	const op = "use token id"
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	n := s.names
	if _, err := s.pool.Exec(ctx, n.expand(`DELETE FROM {used_jtis} WHERE ctid IN
		(SELECT ctid FROM {used_jtis} WHERE until <= $1 LIMIT $2)`), ts(now), store.ExpiredBatch); err != nil {
		return s.fail(op, err)
	}
	tag, err := s.pool.Exec(ctx, n.expand(`INSERT INTO {used_jtis} AS u (issuer, jti, until) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, jti) DO UPDATE SET until = excluded.until WHERE u.until <= $4`),
		issuer, jti, ts(until), ts(now))
	if err != nil {
		return s.fail(op, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrReplayed
	}
	return nil
}
