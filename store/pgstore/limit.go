package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.LimitedStore    = (*Store)(nil)
	_ store.LimitedDatabase = database{}
)

// limitQueries are the statements of a capped create.
type limitQueries struct {
	active, evict string
}

func newLimitQueries(n names) limitQueries {
	return limitQueries{
		// Through the index of live rows: revoked ones cost nothing.
		active: n.expand(`SELECT ` + selected + ` FROM {table} WHERE user_id = $2 AND ` + activeAt),
		evict:  n.expand(revokeMany("AND id = ANY ($5)")), // $4 NULL: no bound on the authentication time
	}
}

// InsertLimited implements store.LimitedDatabase. The transaction takes the
// user's advisory lock exclusively, so capped creates of one user, on any
// instance, run one at a time, and a create that does not cap (which takes
// it shared) or a revocation moving the not-before time waits for it.
func (d database) InsertLimited(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error)) (bool, []string, error) {
	return d.insertLimited(ctx, sess, now, reason, evict, nil)
}

// insertLimited is InsertLimited that, when it revokes any session, also
// stores msgs with their ids in its transaction.
func (d database) insertLimited(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	const op = "create limited"
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return false, nil, d.fail(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, d.q.lockUser, d.userLockKey(sess.UserID)); err != nil {
		return false, nil, d.fail(op, err)
	}
	rows, err := tx.Query(ctx, d.lq.active, ts(now), sess.UserID)
	if err != nil {
		return false, nil, d.fail(op, err)
	}
	active, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) { return scan(row) })
	if err != nil {
		return false, nil, d.fail(op, err)
	}
	ids, err := evict(active)
	if err != nil {
		return false, nil, err
	}
	var revoked []string
	if len(ids) > 0 {
		rows, err := tx.Query(ctx, d.lq.evict, ts(now), reason, sess.UserID, nil, ids)
		if err == nil {
			revoked, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return false, nil, d.fail(op, err)
		}
	}
	tag, err := tx.Exec(ctx, d.q.insert, insertArgs(sess)...)
	switch {
	case isDuplicate(err):
		return false, nil, store.ErrDuplicate
	case err != nil:
		return false, nil, d.fail(op, err)
	case tag.RowsAffected() == 0:
		return false, nil, nil // refused for the not-before time: nothing revoked either
	}
	if len(revoked) > 0 {
		if err := d.enqueue(ctx, tx, op, store.WithSessionIDs(msgs, revoked)); err != nil {
			return false, nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, nil, d.fail(op, err)
	}
	return true, revoked, nil
}

// CreateLimited implements store.LimitedStore.
func (s *Store) CreateLimited(ctx context.Context, sess store.Session, l store.Limit, now time.Time) ([]string, error) {
	return s.Rules.CreateWithLimit(ctx, sess, l, now)
}
