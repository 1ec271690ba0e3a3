package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.OutboxStore = (*Store)(nil)

// outboxMigration creates the outbox. The index on (next_attempt,
// created_at) lets a sender take the due messages, oldest first, without
// reading the others.
const outboxMigration = `CREATE TABLE outbox (
		id           TEXT    NOT NULL PRIMARY KEY,
		destination  TEXT    NOT NULL,
		payload      BLOB    NOT NULL,
		created_at   INTEGER NOT NULL,
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_attempt INTEGER NOT NULL
	) STRICT;
	CREATE INDEX outbox_due ON outbox (next_attempt, created_at, id);`

// EnqueueOutbox implements store.OutboxStore, in one transaction.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []store.OutboxMessage) error {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("enqueue outbox", err)
	}
	defer tx.Rollback()
	for _, m := range msgs {
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, destination, payload, created_at, attempts, next_attempt)
			VALUES (?, ?, ?, ?, ?, ?)`,
			m.ID, m.Destination, m.Payload, m.CreatedAt.UnixNano(), m.Attempts, m.NextAttempt.UnixNano())
		if isDuplicate(err) {
			return store.ErrDuplicateMessage
		}
		if err != nil {
			return s.fail("enqueue outbox", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.fail("enqueue outbox", err)
	}
	return nil
}

// LeaseOutbox implements store.OutboxStore: one UPDATE ... RETURNING on
// the one writer, so the choice and the lease are atomic.
func (s *Store) LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	rows, err := s.w.QueryContext(ctx, `UPDATE outbox SET next_attempt = ?
		WHERE id IN (SELECT id FROM outbox WHERE next_attempt <= ? ORDER BY next_attempt, created_at, id LIMIT ?)
		RETURNING id, destination, payload, created_at, attempts`,
		leaseUntil.UnixNano(), now.UnixNano(), n)
	if err != nil {
		return nil, s.fail("lease outbox", err)
	}
	defer rows.Close()
	var out []store.OutboxMessage
	for rows.Next() {
		var m store.OutboxMessage
		var created int64
		if err := rows.Scan(&m.ID, &m.Destination, &m.Payload, &created, &m.Attempts); err != nil {
			return nil, s.fail("lease outbox", err)
		}
		m.CreatedAt = time.Unix(0, created)
		m.NextAttempt = leaseUntil
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("lease outbox", err)
	}
	// RETURNING comes in no particular order.
	store.SortOutbox(out)
	return out, nil
}

// AckOutbox implements store.OutboxStore.
func (s *Store) AckOutbox(ctx context.Context, id string) error {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	if _, err := s.w.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id); err != nil {
		return s.fail("ack outbox", err)
	}
	return nil
}

// RetryOutbox implements store.OutboxStore.
func (s *Store) RetryOutbox(ctx context.Context, id string, next time.Time) error {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt = ? WHERE id = ?`, next.UnixNano(), id)
	if err != nil {
		return s.fail("retry outbox", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("retry outbox", err)
	} else if n == 0 {
		return s.fail("retry outbox", sql.ErrNoRows)
	}
	return nil
}
