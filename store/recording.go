package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// RecordingStore is implemented by stores that record outbox messages in
// the atomic step of a revocation: the revocation and the messages that
// report it are stored together or not at all, so that a process killed
// between the two cannot leave sessions revoked and their receivers never
// told. It is optional: revoke.WithOutbox needs it.
//
// The ids of the sessions a revocation ends are known only inside its
// step, so the caller gives the messages without them and the store fills
// in each message's SessionIDs.
type RecordingStore interface {
	OutboxStore
	LimitedStore

	// RevokeRecorded is Revoke that, when it revokes at least one
	// session, also enqueues msgs in the same atomic step, each with
	// SessionIDs set to the ids it revoked. When it revokes nothing, it
	// enqueues nothing. A message id already in the outbox, or twice in
	// msgs, gives ErrDuplicateMessage, and then nothing is revoked either.
	RevokeRecorded(ctx context.Context, sel Selection, now time.Time, reason string, msgs []OutboxMessage) ([]string, error)

	// CreateLimitedRecorded is CreateLimited that, when it evicts at least
	// one session, also enqueues msgs in its atomic step, each with
	// SessionIDs set to the ids it evicted, as RevokeRecorded does. When
	// it stores nothing, it enqueues nothing.
	CreateLimitedRecorded(ctx context.Context, s Session, l Limit, now time.Time, msgs []OutboxMessage) ([]string, error)
}

// Recording returns st as a RecordingStore, or ErrUnsupported.
func Recording(st SessionStore) (RecordingStore, error) {
	rs, ok := st.(RecordingStore)
	if !ok {
		return nil, fmt.Errorf("%w: outbox recorded with revocations", ErrUnsupported)
	}
	return rs, nil
}

// RevokeRecorded calls st's RevokeRecorded, or returns ErrUnsupported when
// st is not a RecordingStore.
func RevokeRecorded(ctx context.Context, st SessionStore, sel Selection, now time.Time, reason string, msgs []OutboxMessage) ([]string, error) {
	rs, err := Recording(st)
	if err != nil {
		return nil, err
	}
	return rs.RevokeRecorded(ctx, sel, now, reason, msgs)
}

// CreateLimitedRecorded calls st's CreateLimitedRecorded, or returns
// ErrUnsupported when st is not a RecordingStore.
func CreateLimitedRecorded(ctx context.Context, st SessionStore, s Session, l Limit, now time.Time, msgs []OutboxMessage) ([]string, error) {
	rs, err := Recording(st)
	if err != nil {
		return nil, err
	}
	return rs.CreateLimitedRecorded(ctx, s, l, now, msgs)
}

// WithSessionIDs returns copies of msgs whose SessionIDs are ids, for a
// backend to store in the step that revoked them.
func WithSessionIDs(msgs []OutboxMessage, ids []string) []OutboxMessage {
	out := make([]OutboxMessage, len(msgs))
	for i, m := range msgs {
		m.SessionIDs = slices.Clone(ids)
		out[i] = m
	}
	return out
}

// CheckOutbox returns ErrDuplicateMessage when two of msgs share an id,
// which a backend refuses before writing anything.
func CheckOutbox(msgs []OutboxMessage) error {
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if seen[m.ID] {
			return ErrDuplicateMessage
		}
		seen[m.ID] = true
	}
	return nil
}

// RecordingDatabase is implemented by a Database whose backend records
// outbox messages with its revocations: Rules.RevokeAndRecord and
// Rules.CreateWithLimitAndRecord then work on it.
type RecordingDatabase interface {
	// RevokeActiveRecorded is RevokeActive that, when it revokes at least
	// one session, also stores msgs in the outbox, in the same step, with
	// SessionIDs set to the ids it revoked (WithSessionIDs). A message id
	// already in the outbox gives ErrDuplicateMessage and changes nothing.
	RevokeActiveRecorded(ctx context.Context, sel Selection, now time.Time, reason string, msgs []OutboxMessage) ([]string, error)
	// InsertLimitedRecorded is LimitedDatabase's InsertLimited that
	// stores msgs likewise for the sessions it revokes, when there are any.
	InsertLimitedRecorded(ctx context.Context, s Session, now time.Time, reason string, evict func(active []Session) ([]string, error), msgs []OutboxMessage) (inserted bool, revoked []string, err error)
}

// RevokeAndRecord is RecordingStore's RevokeRecorded on a Database that is
// a RecordingDatabase, with Revoke's rules, and returns ErrUnsupported on
// one that is not. Like CreateWithLimit, it is named so that embedding
// Rules does not make a store a RecordingStore.
func (r *Rules) RevokeAndRecord(ctx context.Context, sel Selection, now time.Time, reason string, msgs []OutboxMessage) ([]string, error) {
	rdb, ok := r.db.(RecordingDatabase)
	if !ok {
		return nil, fmt.Errorf("%w: outbox recorded with revocations", ErrUnsupported)
	}
	if err := CheckOutbox(msgs); err != nil {
		return nil, err
	}
	return r.revoke(ctx, sel, now, func(ctx context.Context) ([]string, error) {
		if len(msgs) == 0 {
			return r.db.RevokeActive(ctx, sel, now, reason)
		}
		return rdb.RevokeActiveRecorded(ctx, sel, now, reason, msgs)
	})
}

// CreateWithLimitAndRecord is RecordingStore's CreateLimitedRecorded on a
// Database that is a LimitedDatabase and a RecordingDatabase, with
// CreateWithLimit's rules, and returns ErrUnsupported on one that is not.
func (r *Rules) CreateWithLimitAndRecord(ctx context.Context, s Session, l Limit, now time.Time, msgs []OutboxMessage) ([]string, error) {
	rdb, ok := r.db.(RecordingDatabase)
	if !ok {
		return nil, fmt.Errorf("%w: outbox recorded with revocations", ErrUnsupported)
	}
	if err := CheckOutbox(msgs); err != nil {
		return nil, err
	}
	return r.createWithLimit(ctx, s, l, now, func(ctx context.Context, ldb LimitedDatabase, s Session) (bool, []string, error) {
		if len(msgs) == 0 {
			return ldb.InsertLimited(ctx, s, now, l.Reason, l.Evict)
		}
		return rdb.InsertLimitedRecorded(ctx, s, now, l.Reason, l.Evict, msgs)
	})
}
