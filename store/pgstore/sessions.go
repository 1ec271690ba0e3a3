package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/revokehq/revoke/store"
)

// queries are the statements of a store, with its table's name spliced in.
// pgx prepares each on first use per connection and caches it.
type queries struct {
	insert, get, getByHash, list, listActive, probe string
	touch, replaceToken, update                     string
	lockUser, lockUserShared, notBefore             string
	revokeAll, revokeOne, revokeExcept              string
	deleteOld, reauthenticate, recordDevice         string
	page                                            pageQueries // page.go
}

const columns = `id, user_id, token_hash, created_at, last_seen_at, expires_at,
	idle_expires_at, revoked_at, revoke_reason, ip, user_agent, data`

// selected are the columns a read returns: those of columns, then the
// authentication time, which rows from before schema version 3 lack, and
// the sign-in details (schema version 6).
const selected = columns + `, COALESCE(authenticated_at, created_at), auth_methods, labels`

// refusedFor is true when the user u has a not-before time after the
// authentication time a (store.RefusedBy); the user "" (no user) has none.
func refusedFor(u, a string) string {
	return `(` + u + ` <> '' AND EXISTS (SELECT 1 FROM {not_before}
		WHERE user_id = ` + u + ` AND not_before > ` + a + `))`
}

// A session is active at $1 when it is not revoked and neither expiry has
// been reached (store.Session.Active). Every write that must not revive a
// session carries this condition in its own WHERE clause, so the check and
// the change are one atomic statement: a write that waits for a concurrent
// revocation's row lock re-checks the condition on the revoked row and
// changes nothing.
const activeAt = `revoked_at IS NULL AND expires_at > $1 AND idle_expires_at > $1`

// authenticatedBefore is a revocation's bound on the authentication time,
// $4 (store.Selection.AuthenticatedBefore), which NULL leaves out.
const authenticatedBefore = `($4::timestamptz IS NULL OR COALESCE(authenticated_at, created_at) < $4::timestamptz)`

func newQueries(n names) queries {
	return queries{
		// Runs after lockUserShared in the same transaction (see
		// withUserLock), so a revocation setting the user's not-before
		// time has either committed, and is seen here, or waits for this
		// insert and then revokes the new row.
		insert: n.expand(`INSERT INTO {table} (` + columns + `, authenticated_at, auth_methods, labels)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
			WHERE NOT ` + refusedFor("$2::text", "$13::timestamptz")),
		get:       n.expand(`SELECT ` + selected + ` FROM {table} WHERE id = $1`),
		getByHash: n.expand(`SELECT ` + selected + ` FROM {table} WHERE token_hash = $1`),
		// The order of store.Cursor, which the page index holds.
		list: n.expand(`SELECT ` + selected + ` FROM {table} WHERE user_id = $1
			ORDER BY created_at DESC, id COLLATE "C" DESC`),
		// Every session of every user: O(all sessions), for scs's Iterate.
		listActive: n.expand(`SELECT ` + selected + ` FROM {table} WHERE ` + activeAt),
		// probe tells "unknown" from "inactive" after a write changed
		// nothing, and an inactive session from one an Update refused for
		// its user's not-before time.
		probe: n.expand(`SELECT user_id, ` + activeAt + ` FROM {table} WHERE id = $2`),

		// A per-user advisory lock, held to the end of the transaction:
		// writes that check a user's not-before time take it shared, a
		// revocation that moves it takes it exclusively. In READ COMMITTED
		// each statement sees what committed before it began, so the
		// statements after the lock see the other side's work.
		lockUser:       `SELECT pg_advisory_xact_lock($1)`,
		lockUserShared: `SELECT pg_advisory_xact_lock_shared($1)`,
		notBefore: n.expand(`INSERT INTO {not_before} (user_id, not_before) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE
			SET not_before = GREATEST({not_before}.not_before, EXCLUDED.not_before)`),

		// LEAST caps the idle expiry at the absolute one.
		touch: n.expand(`UPDATE {table}
			SET last_seen_at = $1, idle_expires_at = LEAST($2::timestamptz, expires_at)
			WHERE id = $3 AND ` + activeAt),
		// The writes below that end or change a session also publish its
		// invalidation, in the same statement (see announced).
		replaceToken: n.expand(announced(`UPDATE {table} SET token_hash = $2
			WHERE id = $3 AND ` + activeAt)),
		// $7 is the new authentication time, or NULL to keep the row's.
		update: n.expand(announced(`UPDATE {table}
			SET last_seen_at = $1, user_id = $2, data = $3, expires_at = $4::timestamptz,
				idle_expires_at = LEAST($5::timestamptz, $4::timestamptz),
				authenticated_at = COALESCE($7::timestamptz, authenticated_at, created_at)
			WHERE id = $6 AND ` + activeAt + ` AND NOT ` +
			refusedFor("$2::text", "COALESCE($7::timestamptz, authenticated_at, created_at)"))),

		// Each selection is one UPDATE that finds the user's rows through
		// the user index: atomic, and O(the user's sessions). The sub-select
		// first locks the rows in the order of their ids: two plain UPDATEs
		// of one user's rows need not lock them in the same order (the plan
		// and where earlier updates left each row decide it), and two
		// concurrent revocations could deadlock.
		// $4 bounds the authentication time (see authenticatedBefore).
		revokeAll:    n.expand(revokeMany("")),
		revokeExcept: n.expand(revokeMany("AND id <> $5")),
		revokeOne: n.expand(announced(`UPDATE {table} SET revoked_at = $1, revoke_reason = $2
			WHERE user_id = $3 AND id = $5 AND ` + authenticatedBefore + ` AND ` + activeAt)),

		// One batch of DeleteBefore (see store.Cleaner). A session not
		// revoked goes once it is expired at $1 (store.Session.Expired: the
		// earlier expiry is at or before $1), found through the expiry
		// index; a revoked one, a tombstone for its token until then, only
		// once it was revoked before $1 and its absolute expiry is at or
		// before $1 too, found through the revoked_at index. Tombstones
		// outlive the retention only where sessions live longer than it,
		// so the rows the two index ranges hold but the filters keep stay
		// few. SKIP LOCKED leaves rows that a request is writing (or
		// another cleaner is deleting) to a later batch or run instead of
		// waiting. The ids are gathered into an array first, so the DELETE
		// finds its rows through the primary key: with IN (subquery) the
		// planner may join against the whole table.
		deleteOld: n.expand(`DELETE FROM {table} WHERE id = ANY (ARRAY(
				SELECT id FROM {table}
				WHERE (LEAST(expires_at, idle_expires_at) <= $1 AND revoked_at IS NULL)
					OR (revoked_at < $1 AND expires_at <= $1)
				LIMIT $2 FOR UPDATE SKIP LOCKED))`),
		page:           newPageQueries(n),
		reauthenticate: n.expand(reauthenticateQuery),
		recordDevice: n.expand(announced(`UPDATE {table} SET ip = $2, user_agent = $3
			WHERE id = $1 AND ip = '' AND user_agent = ''`)),
	}
}

// revokeMany is the statement that revokes the user $3's active sessions
// that match the extra condition, returns their ids and publishes their
// invalidations.
func revokeMany(extra string) string {
	return announced(`UPDATE {table} SET revoked_at = $1, revoke_reason = $2
		WHERE id = ANY (ARRAY(
				SELECT id FROM {table} WHERE user_id = $3 AND ` + activeAt + ` ` + extra + `
				ORDER BY id FOR UPDATE))
			AND user_id = $3 AND ` + authenticatedBefore + ` AND ` + activeAt)
}

// The range of times the store accepts: years 1 to 9999, well inside what
// timestamptz holds and what pgx converts without overflow.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond)
)

// ts converts a time argument of a statement: truncated to the microsecond,
// the precision of timestamptz, and clamped to the storable range so that
// comparisons with stored times stay right.
func ts(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t.Truncate(time.Microsecond).UTC()
}

// nullTime is ts(t), or NULL for the zero time (not revoked; keep the
// authentication time).
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = ts(t)
	return &t
}

// bytesOrEmpty turns nil, which pgx sends as NULL, into an empty value for a
// NOT NULL bytea column: empty data is no data.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// isDuplicate reports whether err is a violated primary key or unique index.
func isDuplicate(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" // unique_violation
}

// fail turns a database error into the error a method returns: no row is
// store.ErrNotFound. A call racing Close gets the pool's "closed pool" error
// and reports store.ErrClosed.
func (s *Store) fail(op string, err error) error {
	var connect *pgconn.ConnectError
	switch {
	case s.closed.Load():
		return store.ErrClosed
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case pgconn.Timeout(err) || errors.As(err, &connect):
		// No answer in time, or no server to answer: nothing is known to
		// have changed, and a later try may work.
		return fmt.Errorf("pgstore: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, store.Unavailable(err))
}

// database is the Store as the store.Database that its store.Rules work
// on: the statements, each one atomic, in PostgreSQL's dialect.
type database struct{ *Store }

var _ store.Database = database{}

// Closed implements store.Database.
func (d database) Closed() bool { return d.closed.Load() }

// Insert implements store.Database. Times are stored truncated to the
// microsecond.
func (d database) Insert(ctx context.Context, sess store.Session) (bool, error) {
	tag, err := d.lockedExec(ctx, sess.UserID, d.q.insert, insertArgs(sess)...)
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("create", tag, err)
}

// insertArgs are the arguments of the insert statement for sess.
func insertArgs(sess store.Session) []any {
	return []any{sess.ID, sess.UserID, sess.TokenHash[:],
		ts(sess.CreatedAt), ts(sess.LastSeenAt), ts(sess.ExpiresAt), ts(sess.IdleExpiresAt),
		nullTime(sess.RevokedAt), sess.RevokeReason, sess.IP, sess.UserAgent, bytesOrEmpty(sess.Data),
		ts(sess.AuthenticatedAt), methodsArg(sess.AuthMethods), labelsArg(sess.Labels)}
}

// lockedExec runs a statement that checks user's not-before time after
// taking the user's lock shared, both in one implicit transaction and one
// round trip. A write for no user has no not-before time to respect and
// runs alone.
func (s *Store) lockedExec(ctx context.Context, user, query string, args ...any) (pgconn.CommandTag, error) {
	if user == "" {
		return s.pool.Exec(ctx, query, args...)
	}
	b := &pgx.Batch{}
	b.Queue(s.q.lockUserShared, s.userLockKey(user))
	b.Queue(query, args...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return tag, br.Close()
}

// userLockKey is the advisory lock of a user's not-before time in this
// store's table.
func (s *Store) userLockKey(user string) int64 {
	return lockKey("user", s.names.table+"\x00"+user)
}

// LoadID implements store.Database.
func (d database) LoadID(ctx context.Context, id string) (store.Session, error) {
	return d.loadOne(ctx, "get", d.q.get, id)
}

// LoadTokenHash implements store.Database.
func (d database) LoadTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	return d.loadOne(ctx, "get by token hash", d.q.getByHash, hash[:])
}

func (d database) loadOne(ctx context.Context, op, query string, arg any) (store.Session, error) {
	sess, err := scan(d.pool.QueryRow(ctx, query, arg))
	if err != nil {
		return store.Session{}, d.fail(op, err)
	}
	return sess, nil
}

// LoadUser implements store.Database.
func (d database) LoadUser(ctx context.Context, userID string) ([]store.Session, error) {
	return d.loadAll(ctx, "list", d.q.list, userID)
}

// LoadActive implements store.Database. It reads every active session of
// every user, data included.
func (d database) LoadActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	return d.loadAll(ctx, "list active", d.q.listActive, ts(now))
}

func (d database) loadAll(ctx context.Context, op, query string, args ...any) ([]store.Session, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, d.fail(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) {
		return scan(row)
	})
	if err != nil {
		return nil, d.fail(op, err)
	}
	return out, nil
}

// scan reads one row of columns. pgx copies a bytea into a new slice, so the
// session shares no memory with the connection's buffers.
func scan(row pgx.Row) (store.Session, error) {
	var (
		sess            store.Session
		revoked         *time.Time
		methods, labels *string
	)
	err := row.Scan(&sess.ID, &sess.UserID, (*hashColumn)(&sess.TokenHash),
		&sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt, &sess.IdleExpiresAt,
		&revoked, &sess.RevokeReason, &sess.IP, &sess.UserAgent, &sess.Data,
		&sess.AuthenticatedAt, &methods, &labels)
	if err != nil {
		return store.Session{}, err
	}
	if err := readSignIn(&sess, methods, labels); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt = sess.CreatedAt.UTC()
	sess.AuthenticatedAt = sess.AuthenticatedAt.UTC()
	sess.LastSeenAt = sess.LastSeenAt.UTC()
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	sess.IdleExpiresAt = sess.IdleExpiresAt.UTC()
	if revoked != nil {
		sess.RevokedAt = revoked.UTC()
	}
	if len(sess.Data) == 0 {
		sess.Data = nil // nil and empty both mean no data
	}
	return sess, nil
}

// hashColumn scans a bytea token hash straight into a Session's array, from
// the connection's buffer, without a slice of its own.
type hashColumn [sha256.Size]byte

var _ pgtype.BytesScanner = (*hashColumn)(nil)

// ScanBytes implements pgtype.BytesScanner.
func (h *hashColumn) ScanBytes(b []byte) (err error) {
	*h, err = store.TokenHashOf(b)
	return err
}

// TouchActive implements store.Database.
func (d database) TouchActive(ctx context.Context, id string, now, idleExpiresAt time.Time) (bool, error) {
	tag, err := d.pool.Exec(ctx, d.q.touch, ts(now), ts(idleExpiresAt), id)
	return d.changed("touch", tag, err)
}

// ReplaceActiveToken implements store.Database.
func (d database) ReplaceActiveToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) (bool, error) {
	tag, err := d.pool.Exec(ctx, d.q.replaceToken, ts(now), newHash[:], id)
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("replace token", tag, err)
}

// UpdateActive implements store.Database. Binding the session to a user,
// it checks that user's not-before time under the user's lock, as Insert
// does. Its times are truncated to the microsecond and clamped to the years
// 1 to 9999.
func (d database) UpdateActive(ctx context.Context, id string, u store.Update, now time.Time) (bool, error) {
	tag, err := d.lockedExec(ctx, u.UserID, d.q.update, ts(now), u.UserID, bytesOrEmpty(u.Data),
		ts(u.ExpiresAt), ts(u.IdleExpiresAt), id, nullTime(u.AuthenticatedAt))
	return d.changed("update", tag, err)
}

// changed reports whether a write changed a row.
func (d database) changed(op string, tag pgconn.CommandTag, err error) (bool, error) {
	if err != nil {
		return false, d.fail(op, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Probe implements store.Database.
func (d database) Probe(ctx context.Context, id string, now time.Time) (owner string, active bool, err error) {
	if err := d.pool.QueryRow(ctx, d.q.probe, ts(now), id).Scan(&owner, &active); err != nil {
		return "", false, d.fail("probe", err)
	}
	return owner, active, nil
}

// RevokeActive implements store.Database: one UPDATE that finds the user's
// rows through the user index and locks them in the order of their ids.
// For a selection with a NotBefore, under the user's lock, taken
// exclusively, the not-before time moves and the sessions are revoked, in
// one implicit transaction and one round trip.
func (d database) RevokeActive(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	query, args := d.revocation(sel, now, reason)
	if sel.NotBefore.IsZero() {
		return d.revoked(d.pool.Query(ctx, query, args...))
	}
	b := &pgx.Batch{}
	b.Queue(d.q.lockUser, d.userLockKey(sel.UserID))
	b.Queue(d.q.notBefore, sel.UserID, ts(sel.NotBefore))
	b.Queue(query, args...)
	br := d.pool.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, d.fail("revoke", err)
		}
	}
	ids, err := d.revoked(br.Query())
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// revocation returns the statement that revokes sel and its arguments.
func (d database) revocation(sel store.Selection, now time.Time, reason string) (string, []any) {
	query := [...]string{store.ScopeAll: d.q.revokeAll, store.ScopeOne: d.q.revokeOne, store.ScopeAllBut: d.q.revokeExcept}[sel.Scope()]
	var before any
	if !sel.AuthenticatedBefore.IsZero() {
		before = ts(sel.AuthenticatedBefore)
	}
	return query, sel.RevokeArgs(ts(now), reason, before)
}

// revoked reads the ids a revocation returns.
func (d database) revoked(rows pgx.Rows, err error) ([]string, error) {
	var ids []string
	if err == nil {
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// DeleteOld implements store.Database: it deletes the sessions not revoked
// that have expired by t (store.Session.Expired(t)), and the revoked ones
// whose revocation is before t and whose absolute expiry is by t (revoked
// rows are tombstones until then), in batches, each its own short
// statement. Rows that a concurrent write holds locked are left for a later
// call.
//
// Unlike the background cleanup, DeleteBefore does not check whether another
// instance is cleaning at the same moment; if one is, the two share the rows
// between them and each counts only its own.
func (d database) DeleteOld(ctx context.Context, t time.Time) (int, error) {
	return d.deleteBefore(ctx, d.pool, t)
}

// execer is a pool or one of its connections.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) deleteBefore(ctx context.Context, db execer, t time.Time) (int, error) {
	cut := ts(t)
	return store.DeleteInBatches(ctx, s.callTimeout, s.batch, func(ctx context.Context) (int, error) {
		tag, err := db.Exec(ctx, s.q.deleteOld, cut, s.batch)
		if err != nil {
			return 0, s.fail("delete", err)
		}
		return int(tag.RowsAffected()), nil
	})
}
