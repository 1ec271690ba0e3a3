package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/store"
)

var _ store.Invalidator = (*Store)(nil)

// The notices of store.Invalidator travel on two Redis pub/sub channels
// per listener, both under the store's prefix P, so that stores with
// different prefixes on one server do not hear each other:
//
//	P notices             every instance: "i <session id>" and "b <from> <id>"
//	P notices:<instance>  one instance:   "s <from> <id>"
//
// Instance names and ids pass store.CheckInstanceName, so they hold no
// space; a session id may hold anything, so it comes last. A listener
// subscribes to both channels on one connection, whose messages Redis
// delivers in the order it ran the commands and scripts that published
// them: an invalidation published by a write comes before a barrier or a
// sent notice published after the write returned.
//
// Leases are the sorted set P leases: member the instance, score the end
// of its lease in Unix microseconds on the server's clock (TIME, read
// inside the script that sets or reads it).
//
// In a Redis Cluster, a message reaches every node over the cluster bus,
// in the order of the node that published it: the orders above hold
// across the store only when it is one slot, on one node (see the package
// documentation on hash tags). The lease scripts and Send name the leases
// key, so that a Cluster runs them on that node.
const (
	noticeChannel = "notices"
	leasesKey     = "leases"
	// maxLease bounds a lease, so that its end stays a time that a Lua
	// number and a sorted-set score hold exactly.
	maxLease = 100 * 365 * 24 * time.Hour
)

func (s *Store) noticeChannel() string { return s.prefix + noticeChannel }

func (s *Store) instanceChannel(instance string) string {
	return s.prefix + noticeChannel + ":" + instance
}

// The first byte of each payload says its kind.
const (
	invalidatedTag = "i "
	barrierTag     = "b "
	sentTag        = "s "
)

// noticeOf decodes a message that a listener subscribed to the
// instance's channels received.
func (s *Store) noticeOf(m *redis.Message, instance string) (store.Notice, error) {
	p := m.Payload
	switch {
	case m.Channel == s.noticeChannel() && strings.HasPrefix(p, invalidatedTag):
		return store.Notice{Kind: store.NoticeInvalidated, SessionID: p[len(invalidatedTag):]}, nil
	case m.Channel == s.noticeChannel() && strings.HasPrefix(p, barrierTag):
		if from, id, ok := namesOf(p[len(barrierTag):]); ok {
			return store.Notice{Kind: store.NoticeBarrier, From: from, ID: id}, nil
		}
	case m.Channel == s.instanceChannel(instance) && strings.HasPrefix(p, sentTag):
		if from, id, ok := namesOf(p[len(sentTag):]); ok {
			return store.Notice{Kind: store.NoticeSent, From: from, ID: id}, nil
		}
	}
	return store.Notice{}, fmt.Errorf("redisstore: listen: undecodable notice %.200q on channel %q", p, m.Channel)
}

// namesOf splits "<from> <id>", both valid instance names.
func namesOf(p string) (from, id string, ok bool) {
	from, id, ok = strings.Cut(p, " ")
	ok = ok && store.CheckInstanceName("instance", from) == nil && store.CheckInstanceName("id", id) == nil
	return from, id, ok
}

// checkNames checks instance names and ids as the callers of op gave them.
func checkNames(op string, kindName ...string) error {
	for i := 0; i+1 < len(kindName); i += 2 {
		if err := store.CheckInstanceName(kindName[i], kindName[i+1]); err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
	}
	return nil
}

// call checks that the store is open and bounds ctx by the call timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return ctx, func() {}, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	return ctx, cancel, nil
}

// serverNow is the lease scripts' clock: the server's time in Unix
// microseconds.
const serverNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// renewLeaseScript: KEYS[1] the leases, ARGV[1] the instance, ARGV[2] the
// lease in microseconds. GT moves an existing lease's end only forward and
// still adds a new one.
var renewLeaseScript = redis.NewScript(serverNow + `
redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[2]), ARGV[1])
return 1`)

// barrierScript: KEYS[1] the leases, ARGV[1] the channel, ARGV[2] the
// barrier's payload. It drops the leases that have ended, publishes the
// barrier and returns each live lease's instance and microseconds left,
// all at one moment of the server's clock.
var barrierScript = redis.NewScript(serverNow + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PUBLISH', ARGV[1], ARGV[2])
local v = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #v, 2 do
  out[#out + 1] = v[i]
  out[#out + 1] = string.format('%d', tonumber(v[i + 1]) - now)
end
return out`)

// sendScript: KEYS[1] the leases, named only for a Cluster to run it on
// the store's node; ARGV[1] the channel, ARGV[2] the payload.
var sendScript = redis.NewScript(`
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1`)

// RenewLease implements store.Invalidator. A lease is kept to the
// microsecond, and may last at most 100 years.
func (s *Store) RenewLease(ctx context.Context, instance string, d time.Duration) error {
	const op = "renew lease"
	if err := checkNames(op, "instance", instance); err != nil {
		return err
	}
	if d <= 0 || d > maxLease {
		return fmt.Errorf("redisstore: %s: a lease of %v; it must be positive and at most %v", op, d, maxLease)
	}
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	us := (d + time.Microsecond - 1) / time.Microsecond
	err = renewLeaseScript.Run(ctx, s.rdb, []string{s.prefix + leasesKey}, instance, int64(us)).Err()
	return s.fail(op, err)
}

// DropLease implements store.Invalidator.
func (s *Store) DropLease(ctx context.Context, instance string) error {
	const op = "drop lease"
	if err := checkNames(op, "instance", instance); err != nil {
		return err
	}
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return s.fail(op, s.rdb.ZRem(ctx, s.prefix+leasesKey, instance).Err())
}

// Barrier implements store.Invalidator, in one script: the barrier and
// the leases it returns are of one moment.
func (s *Store) Barrier(ctx context.Context, from, id string) ([]store.Lease, error) {
	const op = "barrier"
	if err := checkNames(op, "instance", from, "barrier id", id); err != nil {
		return nil, err
	}
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	v, err := barrierScript.Run(ctx, s.rdb, []string{s.prefix + leasesKey},
		s.noticeChannel(), barrierTag+from+" "+id).StringSlice()
	if err != nil {
		return nil, s.fail(op, err)
	}
	leases := make([]store.Lease, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		var us int64
		if _, err := fmt.Sscan(v[i+1], &us); err != nil {
			return nil, fmt.Errorf("redisstore: %s: lease of %q: %w", op, v[i], err)
		}
		leases = append(leases, store.Lease{Instance: v[i], Left: time.Duration(us) * time.Microsecond})
	}
	return leases, nil
}

// Send implements store.Invalidator. n.Kind must be store.NoticeSent or
// left zero; the listener gets a NoticeSent.
func (s *Store) Send(ctx context.Context, to string, n store.Notice) error {
	const op = "send"
	if err := checkNames(op, "instance", to, "instance", n.From, "notice id", n.ID); err != nil {
		return err
	}
	if n.Kind != 0 && n.Kind != store.NoticeSent {
		return errors.New("redisstore: send: only a NoticeSent can be sent")
	}
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = sendScript.Run(ctx, s.rdb, []string{s.prefix + leasesKey},
		s.instanceChannel(to), sentTag+n.From+" "+n.ID).Err()
	return s.fail(op, err)
}
