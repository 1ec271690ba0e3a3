package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.RecordingStore    = (*Store)(nil)
	_ store.RecordingDatabase = database{}
)

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

// outboxIDsMigration keeps the ids of the sessions that the revocation
// which recorded a message ended (store.RecordingStore), as a JSON array;
// NULL for none, so that adding the column rewrites no row.
const outboxIDsMigration = `ALTER TABLE outbox ADD COLUMN session_ids TEXT;`

// EnqueueOutbox implements store.OutboxStore, in one transaction.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []store.OutboxMessage) error {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("enqueue outbox", err)
	}
	defer tx.Rollback()
	if err := s.enqueue(ctx, tx, "enqueue outbox", msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.fail("enqueue outbox", err)
	}
	return nil
}

// enqueue inserts msgs in tx; a taken id is store.ErrDuplicateMessage.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, op string, msgs []store.OutboxMessage) error {
	for _, m := range msgs {
		ids, err := idsArg(m.SessionIDs)
		if err != nil {
			return fmt.Errorf("sqlitestore: %s: %w", op, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox (id, destination, payload, created_at, attempts, next_attempt, session_ids)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Destination, m.Payload, m.CreatedAt.UnixNano(), m.Attempts, m.NextAttempt.UnixNano(), ids)
		if isDuplicate(err) {
			return store.ErrDuplicateMessage
		}
		if err != nil {
			return s.fail(op, err)
		}
	}
	return nil
}

// idsArg is ids as the session_ids column keeps them: NULL for none.
func idsArg(ids []string) (any, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// RevokeRecorded implements store.RecordingStore.
func (s *Store) RevokeRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	return s.Rules.RevokeAndRecord(ctx, sel, now, reason, msgs)
}

// CreateLimitedRecorded implements store.RecordingStore.
func (s *Store) CreateLimitedRecorded(ctx context.Context, sess store.Session, l store.Limit, now time.Time, msgs []store.OutboxMessage) ([]string, error) {
	return s.Rules.CreateWithLimitAndRecord(ctx, sess, l, now, msgs)
}

// RevokeActiveRecorded implements store.RecordingDatabase: the revocation
// of RevokeActive and the messages, in one immediate transaction on the
// writer.
func (d database) RevokeActiveRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	defer tx.Rollback()
	ids, err := d.revokeIn(ctx, tx, sel, now, reason)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		if err := d.enqueue(ctx, tx, "revoke", store.WithSessionIDs(msgs, ids)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// LeaseOutbox implements store.OutboxStore: one UPDATE ... RETURNING on
// the one writer, so the choice and the lease are atomic.
func (s *Store) LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	rows, err := s.w.QueryContext(ctx, `UPDATE outbox SET next_attempt = ?
		WHERE id IN (SELECT id FROM outbox WHERE next_attempt <= ? ORDER BY next_attempt, created_at, id LIMIT ?)
		RETURNING id, destination, payload, created_at, attempts, session_ids`,
		leaseUntil.UnixNano(), now.UnixNano(), n)
	if err != nil {
		return nil, s.fail("lease outbox", err)
	}
	defer rows.Close()
	var out []store.OutboxMessage
	for rows.Next() {
		var m store.OutboxMessage
		var created int64
		var ids sql.NullString
		if err := rows.Scan(&m.ID, &m.Destination, &m.Payload, &created, &m.Attempts, &ids); err != nil {
			return nil, s.fail("lease outbox", err)
		}
		if ids.Valid {
			if err := json.Unmarshal([]byte(ids.String), &m.SessionIDs); err != nil {
				return nil, fmt.Errorf("sqlitestore: lease outbox: message %q: session ids: %w", m.ID, err)
			}
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
