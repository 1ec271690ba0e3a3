package cachestore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
)

// lostReply is an instance whose next Revoke is made in the store and then
// fails, as a write does whose reply is lost: the connection breaks, or
// the call's deadline passes, after the store committed.
type lostReply struct {
	*instance
	lose atomic.Bool
}

func (l *lostReply) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	return l.lost(l.instance.Revoke(ctx, sel, now, reason))
}

func (l *lostReply) RevokeRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	return l.lost(l.instance.RevokeRecorded(ctx, sel, now, reason, msgs))
}

func (l *lostReply) lost(ids []string, err error) ([]string, error) {
	if err == nil && l.lose.Swap(false) {
		return nil, errors.New("connection reset by peer")
	}
	return ids, err
}

// revocations are the two calls that revoke through a cache.
var revocations = map[string]func(ctx context.Context, c *cachestore.Store, sel store.Selection) ([]string, error){
	"Revoke": func(ctx context.Context, c *cachestore.Store, sel store.Selection) ([]string, error) {
		return c.Revoke(ctx, sel, time.Now(), "test")
	},
	"RevokeRecorded": func(ctx context.Context, c *cachestore.Store, sel store.Selection) ([]string, error) {
		msg := store.OutboxMessage{ID: store.NewID(), Destination: "receiver", Payload: []byte("event"), CreatedAt: time.Now()}
		return c.RevokeRecorded(ctx, sel, time.Now(), "test", []store.OutboxMessage{msg})
	},
}

// revokeTwice revokes sess through c with its first reply lost, as a caller
// that gets an error and tries again, and returns once the second call
// has succeeded.
func revokeTwice(t *testing.T, c *cachestore.Store, l *lostReply, sess store.Session, revoke func(context.Context, *cachestore.Store, store.Selection) ([]string, error)) {
	t.Helper()
	sel := store.Selection{UserID: sess.UserID, SessionID: sess.ID}
	l.lose.Store(true)
	if _, err := revoke(t.Context(), c, sel); err == nil {
		t.Fatal("the first call succeeded; its reply should have been lost")
	}
	ids, err := revoke(t.Context(), c, sel)
	if err != nil || len(ids) != 0 {
		t.Fatalf("the second call: %v, %v; want nothing left to revoke", ids, err)
	}
}

// A revocation made again after its reply was lost finds nothing left to
// revoke; it must still return only once no other instance serves the
// session, which one whose notices are slow does until it is waited out.
func TestRetriedRevocationWaitsForTheOthers(t *testing.T) {
	for name, revoke := range revocations {
		t.Run(name, func(t *testing.T) { retriedWaitsForTheOthers(t, revoke) })
	}
}

func retriedWaitsForTheOthers(t *testing.T, revoke func(context.Context, *cachestore.Store, store.Selection) ([]string, error)) {
	shared := memstore.New()
	t.Cleanup(func() { _ = shared.Close() })
	lease := 500 * time.Millisecond
	a := &lostReply{instance: newInstance(shared)}
	b := newInstance(shared)
	ca := serving(t, a, cachestore.WithLease(lease), cachestore.WithInstance("a"))
	cb := serving(t, b, cachestore.WithLease(lease), cachestore.WithInstance("b"))
	t.Cleanup(func() {
		b.resume()
		_ = cb.Close()
		_ = ca.Close()
	})
	sess := cachedEverywhere(t, []*cachestore.Store{ca, cb})
	b.hold()
	revokeTwice(t, ca, a, sess, revoke)
	refused(t, cb, sess)
}

// The same holds for the instance's own cache, which the failed call did
// not evict from, and whose own notices may be slow too.
func TestRetriedRevocationWaitsForItsOwnCache(t *testing.T) {
	for name, revoke := range revocations {
		t.Run(name, func(t *testing.T) { retriedWaitsForItsOwnCache(t, revoke) })
	}
}

func retriedWaitsForItsOwnCache(t *testing.T, revoke func(context.Context, *cachestore.Store, store.Selection) ([]string, error)) {
	shared := memstore.New()
	t.Cleanup(func() { _ = shared.Close() })
	a := &lostReply{instance: newInstance(shared)}
	ca := serving(t, a, cachestore.WithLease(500*time.Millisecond), cachestore.WithInstance("a"))
	t.Cleanup(func() {
		a.resume()
		_ = ca.Close()
	})
	sess := cachedEverywhere(t, []*cachestore.Store{ca})
	a.hold()
	revokeTwice(t, ca, a, sess, revoke)
	refused(t, ca, sess)
}
