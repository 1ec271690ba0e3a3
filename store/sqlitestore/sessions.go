package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/revokehq/revoke/store"
)

const columns = `id, user_id, token_hash, created_at, last_seen_at, expires_at,
	idle_expires_at, revoked_at, revoke_reason, ip, user_agent, data`

// selected are the columns a read returns: those of columns, then the
// authentication time, which rows from before schema version 4 lack, and
// the sign-in details (schema version 7).
const selected = columns + `, COALESCE(authenticated_at, created_at), auth_methods, labels`

// refusedFor is true when the user ?u has a not-before time after the
// authentication time ?a (store.RefusedBy); the user "" (no user) has none.
func refusedFor(u, a string) string {
	return `(` + u + ` <> '' AND EXISTS (SELECT 1 FROM user_not_before
		WHERE user_id = ` + u + ` AND not_before > ` + a + `))`
}

// A session is active at ?now when it is not revoked and neither expiry has
// been reached (store.Session.Active). Every write that must not revive a
// session carries this condition in its own WHERE clause, so the check and
// the change are one atomic statement.
const activeAt = `revoked_at IS NULL AND expires_at > ?1 AND idle_expires_at > ?1`

// authenticatedBefore is a revocation's bound on the authentication time,
// ?4 (store.Selection.AuthenticatedBefore), which NULL leaves out.
const authenticatedBefore = `(?4 IS NULL OR COALESCE(authenticated_at, created_at) < ?4)`

// The statements; variables only because refusedFor builds two of them.
var (
	// The insert and the not-before check are one statement on the one
	// writer, so no revocation can commit between them.
	sqlInsert = `INSERT INTO sessions (` + columns + `, authenticated_at, auth_methods, labels)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15
		WHERE NOT ` + refusedFor("?2", "?13")

	sqlGet       = `SELECT ` + selected + ` FROM sessions WHERE id = ?`
	sqlGetByHash = `SELECT ` + selected + ` FROM sessions WHERE token_hash = ?`
	// The order of store.Cursor, which the page index holds, so no sorting
	// step is needed.
	sqlList = `SELECT ` + selected + ` FROM sessions INDEXED BY sessions_by_user_page
		WHERE user_id = ? ORDER BY created_at DESC, id DESC`

	// MIN caps the idle expiry at the absolute one.
	sqlTouch = `UPDATE sessions SET last_seen_at = ?1, idle_expires_at = MIN(?2, expires_at)
		WHERE id = ?3 AND ` + activeAt
	sqlReplaceToken = `UPDATE sessions SET token_hash = ?2 WHERE id = ?3 AND ` + activeAt
	// Update caps the idle expiry itself. The user index follows a change
	// of user_id, so the session moves to the new user's List and Revoke.
	// ?7 is the new authentication time, or NULL to keep the row's.
	sqlUpdate = `UPDATE sessions SET last_seen_at = ?1, user_id = ?2, data = ?3,
			expires_at = ?4, idle_expires_at = ?5,
			authenticated_at = COALESCE(?7, authenticated_at, created_at)
		WHERE id = ?6 AND ` + activeAt + ` AND NOT ` +
		refusedFor("?2", "COALESCE(?7, authenticated_at, created_at)")
	// No index helps here: ListActive reads the whole table.
	sqlListActive = `SELECT ` + selected + ` FROM sessions WHERE ` + activeAt
	// probe tells "unknown" from "inactive" after a write changed nothing,
	// and an inactive session from one an Update refused for its user's
	// not-before time.
	sqlProbe = `SELECT user_id, ` + activeAt + ` FROM sessions WHERE id = ?2`

	// Moves a user's not-before time forward, never back; it runs in the
	// transaction of the revocation that sets it.
	sqlNotBefore = `INSERT INTO user_not_before (user_id, not_before) VALUES (?1, ?2)
		ON CONFLICT (user_id) DO UPDATE SET not_before = MAX(not_before, excluded.not_before)`

	// Revoking all or all but one walks the user's unrevoked sessions only
	// (the partial index of migration 3), however many revoked ones the
	// user still has in the table.
	// ?4 is store.Selection.AuthenticatedBefore, or NULL for no bound
	// (see store.Selection.RevokeArgs).
	sqlRevokeAll = `UPDATE sessions INDEXED BY sessions_unrevoked_by_user
		SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND ` + authenticatedBefore + ` AND ` + activeAt + ` RETURNING id`
	sqlRevokeOne = `UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND id = ?5 AND ` + authenticatedBefore + ` AND ` + activeAt + ` RETURNING id`
	sqlRevokeExcept = `UPDATE sessions INDEXED BY sessions_unrevoked_by_user
		SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND id <> ?5 AND ` + authenticatedBefore + ` AND ` + activeAt + ` RETURNING id`

	// One batch of DeleteBefore (see store.Cleaner): a session not revoked
	// goes once it is expired at ?2 (store.Session.Expired), a revoked one
	// only once it was revoked before ?2 and its absolute expiry is at or
	// before ?2 as well. Walking rowids upwards from ?1 makes the whole
	// cleanup a single pass over the table however many batches it takes.
	sqlDeleteOld = `DELETE FROM sessions WHERE rowid IN (
			SELECT rowid FROM sessions
			WHERE rowid > ?1 AND (
				(revoked_at IS NULL AND (expires_at <= ?2 OR idle_expires_at <= ?2))
				OR (revoked_at < ?2 AND expires_at <= ?2))
			ORDER BY rowid LIMIT ?3)
		RETURNING rowid`
)

// The range of times a Unix nanosecond count can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos converts a time argument of a query, clamping it to the storable
// range so that comparisons with stored times stay right.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullNanos is t in Unix nanoseconds, or NULL for the zero time (not
// revoked; keep the authentication time).
func nullNanos(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixNano(), Valid: !t.IsZero()}
}

// checkTime refuses a time that Unix nanoseconds cannot hold, rather than
// store a clamped one that would read back as another time.
func checkTime(op, name string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("sqlitestore: %s: %s %v is zero or outside the years 1678 to 2262", op, name, t)
	}
	return nil
}

// isDuplicate reports whether err is a violated primary key or unique index.
func isDuplicate(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// fail turns a database error into the error a method returns: no row is
// store.ErrNotFound. A call racing Close gets the driver's "database is
// closed" and reports store.ErrClosed.
func (s *Store) fail(op string, err error) error {
	switch {
	case s.closed.Load():
		return store.ErrClosed
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, store.Unavailable(err))
}

// database is the Store as the store.Database that its store.Rules work
// on: the statements, each one atomic, in SQLite's dialect.
type database struct{ *Store }

var _ store.Database = database{}

// Closed implements store.Database.
func (d database) Closed() bool { return d.closed.Load() }

// Insert implements store.Database. The insert and the not-before check
// are one statement on the one writer, so no revocation can commit between
// them.
func (d database) Insert(ctx context.Context, sess store.Session) (bool, error) {
	res, err := d.insert.ExecContext(ctx, insertArgs(sess)...)
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("create", res, err)
}

// insertArgs are the arguments of sqlInsert for sess.
func insertArgs(sess store.Session) []any {
	return []any{sess.ID, sess.UserID, sess.TokenHash[:],
		sess.CreatedAt.UnixNano(), sess.LastSeenAt.UnixNano(),
		sess.ExpiresAt.UnixNano(), sess.IdleExpiresAt.UnixNano(),
		nullNanos(sess.RevokedAt), sess.RevokeReason, sess.IP, sess.UserAgent, sess.Data,
		sess.AuthenticatedAt.UnixNano(), methodsArg(sess.AuthMethods), labelsArg(sess.Labels)}
}

// LoadID implements store.Database.
func (d database) LoadID(ctx context.Context, id string) (store.Session, error) {
	return d.loadOne(ctx, "get", d.get, id)
}

// LoadTokenHash implements store.Database.
func (d database) LoadTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	return d.loadOne(ctx, "get by token hash", d.getByHash, hash[:])
}

func (d database) loadOne(ctx context.Context, op string, st *sql.Stmt, arg any) (store.Session, error) {
	// A lookup by key is one indexed read of a few microseconds. Under a
	// cancellable context (every request's) database/sql and the driver
	// each start a goroutine per query to watch it, which costs more than
	// the read: the read runs without ctx's cancellation instead, and a ctx
	// that has already ended is refused here. Nor does it take a timeout
	// (the Rules' LookupTimeout is zero): a read of a WAL database waits
	// for no writer, and a lock it may meet (a checkpoint) is bounded by
	// the busy timeout.
	if err := ctx.Err(); err != nil {
		return store.Session{}, d.fail(op, err)
	}
	sess, err := scan(st.QueryRowContext(context.WithoutCancel(ctx), arg))
	if err != nil {
		return store.Session{}, d.fail(op, err)
	}
	return sess, nil
}

// LoadUser implements store.Database.
func (d database) LoadUser(ctx context.Context, userID string) ([]store.Session, error) {
	return d.loadAll(ctx, "list", d.list, userID)
}

// LoadActive implements store.Database. It reads every row of the table.
func (d database) LoadActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	return d.loadAll(ctx, "list active", d.listActive, nanos(now))
}

func (d database) loadAll(ctx context.Context, op string, st *sql.Stmt, args ...any) ([]store.Session, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, d.fail(op, err)
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		sess, err := scan(rows)
		if err != nil {
			return nil, d.fail(op, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, d.fail(op, err)
	}
	return out, nil
}

func scan(row interface{ Scan(...any) error }) (store.Session, error) {
	var (
		sess                                    store.Session
		created, lastSeen, expires, idleExpires int64
		authenticated                           int64
		revoked                                 sql.NullInt64
		methods, labels                         sql.NullString
	)
	err := row.Scan(&sess.ID, &sess.UserID, (*hashColumn)(&sess.TokenHash),
		&created, &lastSeen, &expires, &idleExpires,
		&revoked, &sess.RevokeReason, &sess.IP, &sess.UserAgent, &sess.Data,
		&authenticated, &methods, &labels)
	if err != nil {
		return store.Session{}, err
	}
	if err := readSignIn(&sess, methods.String, labels.String); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt = fromNanos(created)
	sess.AuthenticatedAt = fromNanos(authenticated)
	sess.LastSeenAt = fromNanos(lastSeen)
	sess.ExpiresAt = fromNanos(expires)
	sess.IdleExpiresAt = fromNanos(idleExpires)
	if revoked.Valid {
		sess.RevokedAt = fromNanos(revoked.Int64)
	}
	return sess, nil
}

// hashColumn scans a token hash column straight into a Session's array,
// without the copy database/sql makes for a []byte.
type hashColumn [sha256.Size]byte

var _ sql.Scanner = (*hashColumn)(nil)

// Scan implements sql.Scanner.
func (h *hashColumn) Scan(src any) (err error) {
	b, _ := src.([]byte)
	*h, err = store.TokenHashOf(b)
	return err
}

// TouchActive implements store.Database.
func (d database) TouchActive(ctx context.Context, id string, now, idleExpiresAt time.Time) (bool, error) {
	res, err := d.touch.ExecContext(ctx, nanos(now), nanos(idleExpiresAt), id)
	return d.changed("touch", res, err)
}

// ReplaceActiveToken implements store.Database.
func (d database) ReplaceActiveToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) (bool, error) {
	res, err := d.replaceToken.ExecContext(ctx, nanos(now), newHash[:], id)
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("replace token", res, err)
}

// UpdateActive implements store.Database. Like Create, it refuses an
// ExpiresAt, (capped) IdleExpiresAt or AuthenticatedAt outside the storable
// range (years 1678 to 2262).
func (d database) UpdateActive(ctx context.Context, id string, u store.Update, now time.Time) (bool, error) {
	if err := checkTime("update", "ExpiresAt", u.ExpiresAt); err != nil {
		return false, err
	}
	if err := checkTime("update", "IdleExpiresAt", u.IdleExpiresAt); err != nil {
		return false, err
	}
	if !u.AuthenticatedAt.IsZero() {
		if err := checkTime("update", "AuthenticatedAt", u.AuthenticatedAt); err != nil {
			return false, err
		}
	}
	res, err := d.update.ExecContext(ctx, nanos(now), u.UserID, u.Data,
		u.ExpiresAt.UnixNano(), u.IdleExpiresAt.UnixNano(), id, nullNanos(u.AuthenticatedAt))
	return d.changed("update", res, err)
}

// changed reports whether a write changed a row.
func (d database) changed(op string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, d.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, d.fail(op, err)
	}
	return n > 0, nil
}

// Probe implements store.Database. It reads on the writer, which has seen
// every write.
func (d database) Probe(ctx context.Context, id string, now time.Time) (owner string, active bool, err error) {
	if err := d.probe.QueryRowContext(ctx, nanos(now), id).Scan(&owner, &active); err != nil {
		return "", false, d.fail("probe", err)
	}
	return owner, active, nil
}

// RevokeActive implements store.Database: one UPDATE on the user index,
// and for a selection with a NotBefore the move of the user's not-before
// time with it, in one immediate transaction on the writer.
func (d database) RevokeActive(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	if sel.NotBefore.IsZero() {
		st, args := d.revocation(sel, now, reason)
		return d.revoked(st.QueryContext(ctx, args...))
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	defer tx.Rollback()
	ids, err := d.revokeIn(ctx, tx, sel, now, reason)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// revocation returns the statement that revokes sel and its arguments.
func (d database) revocation(sel store.Selection, now time.Time, reason string) (*sql.Stmt, []any) {
	st := [...]*sql.Stmt{store.ScopeAll: d.revokeAll, store.ScopeOne: d.revokeOne, store.ScopeAllBut: d.revokeExcept}[sel.Scope()]
	var before any
	if !sel.AuthenticatedBefore.IsZero() {
		before = nanos(sel.AuthenticatedBefore)
	}
	return st, sel.RevokeArgs(nanos(now), reason, before)
}

// revokeIn revokes sel in tx, moving the user's not-before time first
// when sel has one.
func (d database) revokeIn(ctx context.Context, tx *sql.Tx, sel store.Selection, now time.Time, reason string) ([]string, error) {
	if !sel.NotBefore.IsZero() {
		if _, err := tx.StmtContext(ctx, d.notBefore).ExecContext(ctx, sel.UserID, nanos(sel.NotBefore)); err != nil {
			return nil, d.fail("revoke", err)
		}
	}
	st, args := d.revocation(sel, now, reason)
	return d.revoked(tx.StmtContext(ctx, st).QueryContext(ctx, args...))
}

// revoked reads the ids a revocation returns.
func (d database) revoked(rows *sql.Rows, err error) ([]string, error) {
	var ids []string
	if err == nil {
		ids, err = collect[string](rows)
	}
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// collect reads and closes rows of one column.
func collect[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteOld implements store.Database: it deletes the sessions not revoked
// that have expired by t (store.Session.Expired(t)), and the revoked ones
// whose revocation is before t and whose absolute expiry is by t (revoked
// rows are tombstones until then), in batches, each its own short
// transaction, walking the table's rowids upwards once.
func (d database) DeleteOld(ctx context.Context, t time.Time) (int, error) {
	cut := nanos(t)
	var after int64 = math.MinInt64
	return store.DeleteInBatches(ctx, d.callTimeout, d.batch, func(ctx context.Context) (int, error) {
		rows, err := d.deleteOld.QueryContext(ctx, after, cut, d.batch)
		if err != nil {
			return 0, d.fail("delete", err)
		}
		deleted, err := collect[int64](rows)
		if err != nil {
			return 0, d.fail("delete", err)
		}
		for _, id := range deleted {
			after = max(after, id)
		}
		return len(deleted), nil
	})
}
