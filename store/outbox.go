package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OutboxMessage is a message waiting in a store's outbox to be delivered
// to another system, at least once.
type OutboxMessage struct {
	ID          string    // unique, chosen by the caller; the receiver's deduplication key
	Destination string    // where it goes, in the caller's terms (a receiver's name)
	Payload     []byte    // what to send, in the caller's encoding
	CreatedAt   time.Time // when it was enqueued
	Attempts    int       // deliveries tried and failed so far
	NextAttempt time.Time // not before then

	// SessionIDs are the sessions that the revocation which recorded the
	// message ended (see RecordingStore), in no particular order. A
	// message given to EnqueueOutbox keeps those it is given.
	SessionIDs []string
}

// OutboxStore is implemented by stores that keep an outbox: messages that a
// sender delivers at least once, surviving a restart of the process when the
// store is durable. It is optional: the caep package's sender needs it.
//
// A message is leased, not removed, when it is taken: a sender that dies
// while delivering leaves it to be taken again once the lease ends.
type OutboxStore interface {
	SessionStore

	// EnqueueOutbox stores msgs, all or none. An ID already in the outbox
	// is an error and stores nothing.
	EnqueueOutbox(ctx context.Context, msgs []OutboxMessage) error

	// LeaseOutbox returns up to n messages whose NextAttempt is at or
	// before now (the longest due first), returned oldest first
	// (SortOutbox), and moves their NextAttempt to leaseUntil, atomically,
	// so that two senders never take one message at once.
	LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]OutboxMessage, error)

	// AckOutbox removes the message id: it was delivered. An unknown id is
	// not an error (a message may be delivered twice).
	AckOutbox(ctx context.Context, id string) error

	// RetryOutbox counts a failed attempt of the message id and makes it
	// due again at next. An unknown id is ErrNotFound.
	RetryOutbox(ctx context.Context, id string, next time.Time) error
}

// SortOutbox sorts msgs oldest first: by CreatedAt, then ID. It is the
// order LeaseOutbox returns.
func SortOutbox(msgs []OutboxMessage) {
	slices.SortFunc(msgs, func(a, b OutboxMessage) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// ErrDuplicateMessage is returned by EnqueueOutbox for an id already in
// the outbox.
var ErrDuplicateMessage = errors.New("store: outbox message id already used")

// Outbox returns st as an OutboxStore, or ErrUnsupported.
func Outbox(st SessionStore) (OutboxStore, error) {
	ob, ok := st.(OutboxStore)
	if !ok {
		return nil, fmt.Errorf("%w: outbox", ErrUnsupported)
	}
	return ob, nil
}
