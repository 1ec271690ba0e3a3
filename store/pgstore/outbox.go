package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.RecordingStore    = (*Store)(nil)
	_ store.RecordingDatabase = database{}
)

// outboxMigration creates the outbox of store.OutboxStore. The index on
// (next_attempt, created_at, id) lets a sender take the due messages,
// longest due first, without reading the others. session_ids is a JSON
// array, NULL for none.
const outboxMigration = `CREATE TABLE {outbox} (
		id           text        NOT NULL PRIMARY KEY,
		destination  text        NOT NULL,
		payload      bytea       NOT NULL,
		created_at   timestamptz NOT NULL,
		attempts     integer     NOT NULL DEFAULT 0,
		next_attempt timestamptz NOT NULL,
		session_ids  text
	);
	CREATE INDEX {outbox_due} ON {outbox} (next_attempt, created_at, id COLLATE "C");`

// outboxQueries are the statements of the outbox.
type outboxQueries struct {
	enqueue, lease, ack, retry string
}

func newOutboxQueries(n names) outboxQueries {
	return outboxQueries{
		// One statement for a whole batch: all or none, in one round trip.
		enqueue: n.expand(`INSERT INTO {outbox} (id, destination, payload, created_at, attempts, next_attempt, session_ids)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[], $5::integer[], $6::timestamptz[], $7::text[])`),
		// SKIP LOCKED: two senders leasing at once take different messages
		// rather than wait for each other.
		lease: n.expand(`UPDATE {outbox} SET next_attempt = $1
			WHERE id = ANY (ARRAY(
				SELECT id FROM {outbox} WHERE next_attempt <= $2
				ORDER BY next_attempt, created_at, id COLLATE "C"
				LIMIT $3 FOR UPDATE SKIP LOCKED))
			RETURNING id, destination, payload, created_at, attempts, session_ids`),
		ack:   n.expand(`DELETE FROM {outbox} WHERE id = $1`),
		retry: n.expand(`UPDATE {outbox} SET attempts = attempts + 1, next_attempt = $1 WHERE id = $2`),
	}
}

// enqueueArgs are the arguments of the enqueue statement for msgs: one
// array a column.
func enqueueArgs(msgs []store.OutboxMessage) ([]any, error) {
	var (
		ids, dests    = make([]string, len(msgs)), make([]string, len(msgs))
		payloads      = make([][]byte, len(msgs))
		created, next = make([]time.Time, len(msgs)), make([]time.Time, len(msgs))
		attempts      = make([]int32, len(msgs))
		sessions      = make([]*string, len(msgs))
	)
	for i, m := range msgs {
		ids[i], dests[i], payloads[i] = m.ID, m.Destination, bytesOrEmpty(m.Payload)
		created[i], next[i], attempts[i] = ts(m.CreatedAt), ts(m.NextAttempt), int32(m.Attempts)
		if len(m.SessionIDs) > 0 {
			b, err := json.Marshal(m.SessionIDs)
			if err != nil {
				return nil, err
			}
			s := string(b)
			sessions[i] = &s
		}
	}
	return []any{ids, dests, payloads, created, attempts, next, sessions}, nil
}

// EnqueueOutbox implements store.OutboxStore.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []store.OutboxMessage) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := store.CheckOutbox(msgs); err != nil {
		return err
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	return s.enqueue(ctx, s.pool, "enqueue outbox", msgs)
}

// enqueue stores msgs through db; a taken id is store.ErrDuplicateMessage.
func (s *Store) enqueue(ctx context.Context, db execer, op string, msgs []store.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	args, err := enqueueArgs(msgs)
	if err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	_, err = db.Exec(ctx, s.oq.enqueue, args...)
	switch {
	case isDuplicate(err):
		return store.ErrDuplicateMessage
	case err != nil:
		return s.fail(op, err)
	}
	return nil
}

// LeaseOutbox implements store.OutboxStore: one UPDATE chooses and leases.
func (s *Store) LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.oq.lease, ts(leaseUntil), ts(now), n)
	if err != nil {
		return nil, s.fail("lease outbox", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OutboxMessage, error) {
		var m store.OutboxMessage
		var ids *string
		if err := row.Scan(&m.ID, &m.Destination, &m.Payload, &m.CreatedAt, &m.Attempts, &ids); err != nil {
			return m, err
		}
		if ids != nil {
			if err := json.Unmarshal([]byte(*ids), &m.SessionIDs); err != nil {
				return m, fmt.Errorf("message %q: session ids: %w", m.ID, err)
			}
		}
		m.CreatedAt = m.CreatedAt.UTC()
		m.NextAttempt = ts(leaseUntil)
		return m, nil
	})
	if err != nil {
		return nil, s.fail("lease outbox", err)
	}
	// RETURNING comes in no particular order.
	store.SortOutbox(out)
	return out, nil
}

// AckOutbox implements store.OutboxStore.
func (s *Store) AckOutbox(ctx context.Context, id string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.oq.ack, id); err != nil {
		return s.fail("ack outbox", err)
	}
	return nil
}

// RetryOutbox implements store.OutboxStore.
func (s *Store) RetryOutbox(ctx context.Context, id string, next time.Time) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, s.oq.retry, ts(next), id)
	switch {
	case err != nil:
		return s.fail("retry outbox", err)
	case tag.RowsAffected() == 0:
		return store.ErrNotFound
	}
	return nil
}

// RevokeRecorded implements store.RecordingStore.
func (s *Store) RevokeRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	return s.Rules.RevokeAndRecord(ctx, sel, now, reason, msgs)
}

// CreateLimitedRecorded implements store.RecordingStore.
func (s *Store) CreateLimitedRecorded(ctx context.Context, sess store.Session, l store.Limit, now time.Time, msgs []store.OutboxMessage) ([]string, error) {
	return s.Rules.CreateWithLimitAndRecord(ctx, sess, l, now, msgs)
}

// RevokeActiveRecorded implements store.RecordingDatabase: RevokeActive's
// statements and the messages' insert in one transaction. With a
// NotBefore, the user's lock is taken exclusively first, as RevokeActive
// takes it.
func (d database) RevokeActiveRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if !sel.NotBefore.IsZero() {
		if _, err := tx.Exec(ctx, d.q.lockUser, d.userLockKey(sel.UserID)); err != nil {
			return nil, d.fail("revoke", err)
		}
		if _, err := tx.Exec(ctx, d.q.notBefore, sel.UserID, ts(sel.NotBefore)); err != nil {
			return nil, d.fail("revoke", err)
		}
	}
	query, args := d.revocation(sel, now, reason)
	ids, err := d.revoked(tx.Query(ctx, query, args...))
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		if err := d.enqueue(ctx, tx, "revoke", store.WithSessionIDs(msgs, ids)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// InsertLimitedRecorded implements store.RecordingDatabase: msgs go in the
// transaction of InsertLimited.
func (d database) InsertLimitedRecorded(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	return d.insertLimited(ctx, sess, now, reason, evict, msgs)
}
