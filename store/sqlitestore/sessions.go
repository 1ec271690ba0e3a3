package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/revokehq/revoke/store"
)

const columns = `id, user_id, token_hash, created_at, last_seen_at, expires_at,
	idle_expires_at, revoked_at, revoke_reason, ip, user_agent, data`

// selected are the columns a read returns: those of columns, then the
// authentication time, which rows from before schema version 4 lack.
const selected = columns + `, COALESCE(authenticated_at, created_at)`

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

// The statements; variables only because refusedFor builds two of them.
var (
	// The insert and the not-before check are one statement on the one
	// writer, so no revocation can commit between them.
	sqlInsert = `INSERT INTO sessions (` + columns + `, authenticated_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
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
	// probe tells "unknown" from "inactive" after a write changed nothing.
	// It runs on the writer, which has seen every write.
	sqlProbe = `SELECT user_id FROM sessions WHERE id = ?`
	// probeActive tells an inactive session from one an Update refused
	// for its user's not-before time.
	sqlProbeActive = `SELECT ` + activeAt + ` FROM sessions WHERE id = ?2`

	// Moves a user's not-before time forward, never back; it runs in the
	// transaction of the revocation that sets it.
	sqlNotBefore = `INSERT INTO user_not_before (user_id, not_before) VALUES (?1, ?2)
		ON CONFLICT (user_id) DO UPDATE SET not_before = MAX(not_before, excluded.not_before)`

	// Revoking all or all but one walks the user's unrevoked sessions only
	// (the partial index of migration 3), however many revoked ones the
	// user still has in the table.
	sqlRevokeAll = `UPDATE sessions INDEXED BY sessions_unrevoked_by_user
		SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND ` + activeAt + ` RETURNING id`
	sqlRevokeOne = `UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND id = ?4 AND ` + activeAt + ` RETURNING id`
	sqlRevokeExcept = `UPDATE sessions INDEXED BY sessions_unrevoked_by_user
		SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND id <> ?4 AND ` + activeAt + ` RETURNING id`

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

// fail turns a database error into the error a method returns. A call racing
// Close gets the driver's "database is closed" and reports store.ErrClosed.
func (s *Store) fail(op string, err error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, store.Unavailable(err))
}

// Create implements store.SessionStore. Every time except RevokedAt must be
// set and lie within the storable range (years 1678 to 2262).
func (s *Store) Create(ctx context.Context, sess store.Session) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	if err := sess.CheckTimes(minTime, maxTime); err != nil {
		return fmt.Errorf("sqlitestore: create: %w of the years 1678 to 2262", err)
	}
	var revokedAt sql.NullInt64
	if sess.Revoked() {
		revokedAt = sql.NullInt64{Int64: sess.RevokedAt.UnixNano(), Valid: true}
	}
	res, err := s.insert.ExecContext(ctx,
		sess.ID, sess.UserID, sess.TokenHash[:],
		sess.CreatedAt.UnixNano(), sess.LastSeenAt.UnixNano(),
		sess.ExpiresAt.UnixNano(), sess.IdleExpiresAt.UnixNano(),
		revokedAt, sess.RevokeReason, sess.IP, sess.UserAgent, sess.Data,
		sess.Authenticated().UnixNano())
	if isDuplicate(err) {
		return store.ErrDuplicate
	}
	if err != nil {
		return s.fail("create", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("create", err)
	} else if n == 0 {
		return store.ErrNotBefore
	}
	return nil
}

// Get implements store.SessionStore.
func (s *Store) Get(ctx context.Context, id string) (store.Session, error) {
	return s.getOne(ctx, "get", s.get, id)
}

// GetByTokenHash implements store.SessionStore.
func (s *Store) GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	return s.getOne(ctx, "get by token hash", s.getByHash, hash[:])
}

func (s *Store) getOne(ctx context.Context, op string, st *sql.Stmt, arg any) (store.Session, error) {
	if s.closed.Load() {
		return store.Session{}, store.ErrClosed
	}
	// A lookup by key is one indexed read of a few microseconds. Under a
	// cancellable context (every request's) database/sql and the driver
	// each start a goroutine per query to watch it, which costs more than
	// the read: the read runs without ctx's cancellation instead, and a ctx
	// that has already ended is refused here. Nor does it take the call
	// timeout: a read of a WAL database waits for no writer, and a lock it
	// may meet (a checkpoint) is bounded by the busy timeout.
	if err := ctx.Err(); err != nil {
		return store.Session{}, s.fail(op, err)
	}
	sess, err := scan(st.QueryRowContext(context.WithoutCancel(ctx), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, s.fail(op, err)
	}
	return sess, nil
}

// List implements store.SessionStore.
func (s *Store) List(ctx context.Context, userID string) ([]store.Session, error) {
	return s.getAll(ctx, "list", s.list, userID)
}

// ListActive implements store.DataStore. It reads every row of the table,
// so it costs O(all sessions); it serves scs's Iterate, never revocation.
func (s *Store) ListActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	return s.getAll(ctx, "list active", s.listActive, nanos(now))
}

func (s *Store) getAll(ctx context.Context, op string, st *sql.Stmt, args ...any) ([]store.Session, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		sess, err := scan(rows)
		if err != nil {
			return nil, s.fail(op, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

func scan(row interface{ Scan(...any) error }) (store.Session, error) {
	var (
		sess                                    store.Session
		created, lastSeen, expires, idleExpires int64
		authenticated                           int64
		revoked                                 sql.NullInt64
		hash                                    []byte
	)
	err := row.Scan(&sess.ID, &sess.UserID, &hash,
		&created, &lastSeen, &expires, &idleExpires,
		&revoked, &sess.RevokeReason, &sess.IP, &sess.UserAgent, &sess.Data,
		&authenticated)
	if err != nil {
		return store.Session{}, err
	}
	if sess.TokenHash, err = store.TokenHashOf(hash); err != nil {
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

// Touch implements store.SessionStore. The update and the check that the
// session is active are one statement, so a revocation that commits first
// always wins and one that commits later always applies.
func (s *Store) Touch(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	res, err := s.touch.ExecContext(ctx, nanos(now), nanos(idleExpiresAt), id)
	return s.changedOne(ctx, "touch", id, res, err)
}

// ReplaceToken implements store.SessionStore.
func (s *Store) ReplaceToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	res, err := s.replaceToken.ExecContext(ctx, nanos(now), newHash[:], id)
	if isDuplicate(err) {
		return store.ErrDuplicate
	}
	return s.changedOne(ctx, "replace token", id, res, err)
}

// Update implements store.DataStore. As with Touch, the change and the check
// that the session is active are one statement, so an update racing a
// revocation can never undo it. Like Create, it refuses an ExpiresAt or
// (capped) IdleExpiresAt outside the storable range.
func (s *Store) Update(ctx context.Context, id string, u store.Update, now time.Time) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	// Capped here rather than in SQL, whose SET would see the old expires_at.
	idle := u.IdleExpiresAt
	if idle.After(u.ExpiresAt) {
		idle = u.ExpiresAt
	}
	if err := checkTime("update", "ExpiresAt", u.ExpiresAt); err != nil {
		return err
	}
	if err := checkTime("update", "IdleExpiresAt", idle); err != nil {
		return err
	}
	var auth sql.NullInt64
	if !u.AuthenticatedAt.IsZero() {
		if err := checkTime("update", "AuthenticatedAt", u.AuthenticatedAt); err != nil {
			return err
		}
		auth = sql.NullInt64{Int64: u.AuthenticatedAt.UnixNano(), Valid: true}
	}
	res, err := s.update.ExecContext(ctx, nanos(now), u.UserID, u.Data,
		u.ExpiresAt.UnixNano(), idle.UnixNano(), id, auth)
	err = s.changedOne(ctx, "update", id, res, err)
	if errors.Is(err, store.ErrInactive) {
		// Unchanged and known: inactive, or refused for its user.
		var active bool
		if perr := s.probeActive.QueryRowContext(ctx, nanos(now), id).Scan(&active); perr != nil {
			return s.fail("update", perr)
		}
		if active {
			return store.ErrNotBefore
		}
	}
	return err
}

// changedOne finishes an update of one active session: when no row changed,
// it finds out whether the session is unknown or inactive.
func (s *Store) changedOne(ctx context.Context, op, id string, res sql.Result, err error) error {
	if err != nil {
		return s.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(op, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := s.owner(ctx, op, id); err != nil {
		return err
	}
	return store.ErrInactive
}

// owner returns the user of session id, or store.ErrNotFound.
func (s *Store) owner(ctx context.Context, op, id string) (string, error) {
	var user string
	err := s.probe.QueryRowContext(ctx, id).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", s.fail(op, err)
	}
	return user, nil
}

// Revoke implements store.SessionStore. Each selection is one UPDATE on the
// user index, so it is atomic and costs O(the user's sessions). When
// sel.SessionID names a session that is unknown or another user's, Revoke
// returns store.ErrNotFound; an empty sel.UserID matches only a named
// session bound to no user, and without a sel.SessionID gives
// store.ErrNoUser. The ids come sorted.
func (s *Store) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	if err := sel.Check(); err != nil {
		return nil, err
	}
	if !sel.NotBefore.IsZero() {
		return s.revokeNotBefore(ctx, sel, now, reason)
	}
	var ids []string
	if sel.SessionID == "" || sel.SessionID != sel.ExceptID {
		var (
			rows *sql.Rows
			err  error
			at   = nanos(now)
		)
		switch {
		case sel.SessionID != "":
			rows, err = s.revokeOne.QueryContext(ctx, at, reason, sel.UserID, sel.SessionID)
		case sel.ExceptID != "":
			rows, err = s.revokeExcept.QueryContext(ctx, at, reason, sel.UserID, sel.ExceptID)
		default:
			rows, err = s.revokeAll.QueryContext(ctx, at, reason, sel.UserID)
		}
		if err != nil {
			return nil, s.fail("revoke", err)
		}
		if ids, err = collect[string](rows); err != nil {
			return nil, s.fail("revoke", err)
		}
		slices.Sort(ids) // the same answer every time, whatever the row order
	}
	if sel.SessionID != "" && len(ids) == 0 {
		user, err := s.owner(ctx, "revoke", sel.SessionID)
		if err != nil {
			return nil, err
		}
		if user != sel.UserID {
			return nil, store.ErrNotFound
		}
	}
	return ids, nil
}

// revokeNotBefore is Revoke for a selection with a NotBefore: the user's
// not-before time and the revocation commit together, in one immediate
// transaction on the writer.
func (s *Store) revokeNotBefore(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail("revoke", err)
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, s.notBefore).ExecContext(ctx, sel.UserID, nanos(sel.NotBefore)); err != nil {
		return nil, s.fail("revoke", err)
	}
	var rows *sql.Rows
	if sel.ExceptID != "" {
		rows, err = tx.StmtContext(ctx, s.revokeExcept).QueryContext(ctx, nanos(now), reason, sel.UserID, sel.ExceptID)
	} else {
		rows, err = tx.StmtContext(ctx, s.revokeAll).QueryContext(ctx, nanos(now), reason, sel.UserID)
	}
	if err != nil {
		return nil, s.fail("revoke", err)
	}
	ids, err := collect[string](rows)
	if err != nil {
		return nil, s.fail("revoke", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.fail("revoke", err)
	}
	slices.Sort(ids)
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

// DeleteBefore implements store.Cleaner: it deletes the sessions not
// revoked that have expired by t (store.Session.Expired(t)), and the
// revoked ones whose revocation is before t and whose absolute expiry is by
// t (revoked rows are tombstones until then). It works in batches,
// each its own short transaction, so writers are never held up for long; if
// ctx ends between batches it returns the count so far with ctx's error.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	cut := nanos(t)
	var after int64 = math.MinInt64
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		deleted, err := s.deleteBatch(ctx, after, cut)
		if err != nil {
			return total, s.fail("delete", err)
		}
		total += len(deleted)
		if len(deleted) < s.batch {
			return total, nil
		}
		for _, id := range deleted {
			after = max(after, id)
		}
	}
}

// deleteBatch runs one batch of DeleteBefore, bounded by the call timeout.
func (s *Store) deleteBatch(ctx context.Context, after, cut int64) ([]int64, error) {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	rows, err := s.deleteOld.QueryContext(ctx, after, cut, s.batch)
	if err != nil {
		return nil, err
	}
	return collect[int64](rows)
}
