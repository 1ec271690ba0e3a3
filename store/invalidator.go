package store

import (
	"context"
	"fmt"
	"time"
)

// Invalidator is implemented by shared stores that tell every process using
// them about each write that ends or changes a session, so that a cache in
// front of the store (store/cachestore) can serve from memory and still
// never accept a session after its revocation has returned.
//
// Every write that can end or change a session other than a Touch (Revoke,
// ReplaceToken, DataStore.Update, LimitedStore.CreateLimited's evictions,
// SignInStore.Reauthenticate, a DeviceRecorder.RecordDevice that records)
// publishes an invalidation naming the session's id in the same atomic
// step as the write: a write that commits is always
// announced, even when the process that made it dies right after, and
// whoever made it. A store that implements Invalidator does so for every
// write, not only for the writes of a process that listens.
//
// Delivery is ordered: each listener receives invalidations, barriers and
// sent notices in the order they took effect in the store. A Barrier or a
// Send that starts after a write has returned is delivered after that
// write's invalidation. A listener whose connection breaks is told so
// (NoticeHandler.Lost): notices may be lost from then until it is told it
// listens again (NoticeHandler.Listening).
//
// Leases are measured on the store's clock: RenewLease sets a lease to run
// for a duration from the moment the store applies it, and Barrier says how
// long each live lease has left at the moment the barrier is published. The
// caller measures those durations on its own monotonic clock; no absolute
// time is ever compared across machines.
type Invalidator interface {
	SessionStore

	// Listen subscribes instance to the store's invalidations, to the
	// barriers every instance publishes and to the notices sent to it,
	// and gives them to h, in order, from one goroutine, until ctx ends; it
	// then returns ctx's error. It reconnects by itself after a failure,
	// calling h.Lost when the subscription breaks and h.Listening each time
	// it is subscribed again. h's methods must return quickly: the next
	// notice waits for them.
	Listen(ctx context.Context, instance string, h NoticeHandler) error

	// RenewLease records that instance holds a lease until d from now, by
	// the store's clock. It never shortens a lease instance holds already.
	RenewLease(ctx context.Context, instance string, d time.Duration) error

	// DropLease ends instance's lease: revocations stop waiting for it.
	DropLease(ctx context.Context, instance string) error

	// Barrier publishes a barrier named id, from instance from, to every
	// listener, after every invalidation of a write that returned before
	// it started, and returns the instances holding a live lease as the
	// barrier is published, with the time left on each.
	Barrier(ctx context.Context, from, id string) ([]Lease, error)

	// Send delivers n to instance to's listener only, after every
	// invalidation of a write that returned before it started. n.From
	// names the sender. It is how an instance acknowledges a barrier, and
	// how it checks that its own subscription still delivers.
	Send(ctx context.Context, to string, n Notice) error
}

// NoticeHandler receives what an Invalidator delivers to one listener.
type NoticeHandler interface {
	// Listening says the subscription is live: every notice published
	// from now on is delivered.
	Listening()
	// Lost says the subscription broke: notices may be lost until the
	// next Listening.
	Lost(err error)
	// Notice delivers one notice.
	Notice(n Notice)
}

// NoticeKind tells what a Notice says.
type NoticeKind int

// The kinds of Notice.
const (
	// NoticeInvalidated: the session SessionID was ended or changed.
	NoticeInvalidated NoticeKind = iota + 1
	// NoticeBarrier: From published the barrier ID (see Invalidator.Barrier).
	NoticeBarrier
	// NoticeSent: From sent ID to this listener (see Invalidator.Send).
	NoticeSent
)

// Notice is one message an Invalidator delivers.
type Notice struct {
	Kind      NoticeKind
	SessionID string // NoticeInvalidated
	From, ID  string // NoticeBarrier and NoticeSent
}

// Lease is an instance's lease as a barrier found it.
type Lease struct {
	Instance string
	Left     time.Duration // on the store's clock, as the barrier was published
}

// MaxInstanceName bounds an instance name and a barrier or notice id, so
// that every backend can carry them in one notification.
const MaxInstanceName = 128

// CheckInstanceName returns an error for an instance name, or a barrier or
// notice id, that is empty, longer than MaxInstanceName or holds a byte
// outside printable ASCII or a space: backends carry them inside their own
// notification payloads.
func CheckInstanceName(kind, name string) error {
	if name == "" || len(name) > MaxInstanceName {
		return fmt.Errorf("store: %s %q: empty or longer than %d bytes", kind, name, MaxInstanceName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("store: %s %q: byte %#x is not printable ASCII", kind, name, c)
		}
	}
	return nil
}

// Invalidating returns st as an Invalidator, or ErrUnsupported.
func Invalidating(st SessionStore) (Invalidator, error) {
	inv, ok := st.(Invalidator)
	if !ok {
		return nil, fmt.Errorf("%w: invalidations", ErrUnsupported)
	}
	return inv, nil
}
