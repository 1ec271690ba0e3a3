package sqlitestore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.LimitedStore    = (*Store)(nil)
	_ store.LimitedDatabase = database{}
)

// sqlActiveOfUser reads the user's active sessions through the index of
// live rows, so revoked ones cost nothing.
const sqlActiveOfUser = `SELECT ` + selected + ` FROM sessions INDEXED BY sessions_live_by_user
	WHERE user_id = ?2 AND ` + activeAt

// InsertLimited implements store.LimitedDatabase. Its transaction is
// immediate on the one writer: it holds the file's write lock from its
// start, so no other write, from this process or another, comes between
// the count and the insert.
func (d database) InsertLimited(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error)) (bool, []string, error) {
	return d.insertLimited(ctx, sess, now, reason, evict, nil)
}

// InsertLimitedRecorded implements store.RecordingDatabase: msgs go in the
// transaction of InsertLimited.
func (d database) InsertLimitedRecorded(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	return d.insertLimited(ctx, sess, now, reason, evict, msgs)
}

func (d database) insertLimited(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	const op = "create limited"
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return false, nil, d.fail(op, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, sqlActiveOfUser, nanos(now), sess.UserID)
	if err != nil {
		return false, nil, d.fail(op, err)
	}
	var active []store.Session
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			rows.Close()
			return false, nil, d.fail(op, err)
		}
		active = append(active, s)
	}
	if err := rows.Close(); err != nil {
		return false, nil, d.fail(op, err)
	}
	if err := rows.Err(); err != nil {
		return false, nil, d.fail(op, err)
	}
	ids, err := evict(active)
	if err != nil {
		return false, nil, err
	}
	var revoked []string
	for _, id := range ids {
		rows, err := tx.StmtContext(ctx, d.revokeOne).QueryContext(ctx, store.Selection{UserID: sess.UserID, SessionID: id}.RevokeArgs(nanos(now), reason, nil)...)
		if err != nil {
			return false, nil, d.fail(op, err)
		}
		got, err := collect[string](rows)
		if err != nil {
			return false, nil, d.fail(op, err)
		}
		revoked = append(revoked, got...)
	}
	res, err := tx.StmtContext(ctx, d.insert).ExecContext(ctx, insertArgs(sess)...)
	if isDuplicate(err) {
		return false, nil, store.ErrDuplicate
	}
	inserted, err := d.changed(op, res, err)
	if err != nil || !inserted {
		return false, nil, err // refused for the not-before time: nothing revoked either
	}
	if len(revoked) > 0 {
		if err := d.enqueue(ctx, tx, op, store.WithSessionIDs(msgs, revoked)); err != nil {
			return false, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, nil, d.fail(op, err)
	}
	return true, revoked, nil
}

// CreateLimited implements store.LimitedStore.
func (s *Store) CreateLimited(ctx context.Context, sess store.Session, l store.Limit, now time.Time) ([]string, error) {
	return s.Rules.CreateWithLimit(ctx, sess, l, now)
}
