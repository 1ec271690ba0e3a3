package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.RecordingStore    = (*Store)(nil)
	_ store.RecordingDatabase = database{}
)

// The outbox's keys, under the prefix P:
//
//	P ob:<id>  hash: one message: d destination, p payload, c created
//	           (Unix nanoseconds), n attempts, s session ids (a JSON
//	           array; absent for none)
//	P obq      sorted set: every message's id, scored by its next attempt
//	           (Unix microseconds)
//
// Messages never expire: a sender removes them by delivering them.

// outboxLib is what the scripts that write messages share. A list of
// messages in ARGV is a count, then 7 values for each (see msgArgs).
const outboxLib = `
local OBQ = P .. 'obq'
local function obkey(id) return P .. 'ob:' .. id end
-- obtaken reports whether a message of the list at ARGV[n] has an id that
-- is in the outbox or twice in the list.
local function obtaken(n)
  local seen = {}
  for j = 0, tonumber(ARGV[n]) - 1 do
    local id = ARGV[n + 1 + j * 7]
    if seen[id] or redis.call('EXISTS', obkey(id)) == 1 then return true end
    seen[id] = true
  end
  return false
end
-- obput stores the messages of the list at ARGV[n], with the session ids
-- ids (JSON) when given, else their own, and returns the index after the
-- list.
local function obput(n, ids)
  local k = tonumber(ARGV[n])
  for j = 0, k - 1 do
    local b = n + 1 + j * 7
    local id = ARGV[b]
    redis.call('HSET', obkey(id), 'd', ARGV[b + 1], 'p', ARGV[b + 2], 'c', ARGV[b + 3], 'n', ARGV[b + 4])
    local s = ids or ARGV[b + 6]
    if s ~= '' then redis.call('HSET', obkey(id), 's', s) end
    redis.call('ZADD', OBQ, ARGV[b + 5], id)
  end
  return n + 1 + k * 7
end
`

// msgArgs appends msgs to args as a list the outbox scripts read.
func msgArgs(args []any, msgs []store.OutboxMessage) ([]any, error) {
	args = append(args, strconv.Itoa(len(msgs)))
	for _, m := range msgs {
		ids := ""
		if len(m.SessionIDs) > 0 {
			b, err := json.Marshal(m.SessionIDs)
			if err != nil {
				return nil, err
			}
			ids = string(b)
		}
		args = append(args, m.ID, m.Destination, string(m.Payload), strconv.FormatInt(m.CreatedAt.UnixNano(), 10),
			strconv.Itoa(m.Attempts), microsArg(m.NextAttempt), ids)
	}
	return args, nil
}

// enqueueScript stores the messages listed from ARGV[3] unless one's id is
// taken. Returns "ok" or "dupmsg".
var enqueueScript = newWriteScript(lib + outboxLib + `
if obtaken(3) then return 'dupmsg' end
obput(3, nil)
return 'ok'
`)

// leaseScript: ARGV[3] now, ARGV[4] the end of the lease, ARGV[5] how many
// at most. Moves the due messages, longest due first, to the end of the
// lease and returns each's id and fields, as HGETALL gives them.
var leaseScript = newWriteScript(lib + outboxLib + `
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', OBQ, '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[5]))) do
  local v = redis.call('HGETALL', obkey(id))
  if #v == 0 then
    redis.call('ZREM', OBQ, id)
  else
    redis.call('ZADD', OBQ, ARGV[4], id)
    out[#out + 1] = {id, v}
  end
end
return out
`)

// retryScript: ARGV[3] id, ARGV[4] the next attempt. Returns 0 for an
// unknown id, else 1.
var retryScript = newWriteScript(lib + outboxLib + `
if redis.call('EXISTS', obkey(ARGV[3])) == 0 then return 0 end
redis.call('HINCRBY', obkey(ARGV[3]), 'n', 1)
redis.call('ZADD', OBQ, ARGV[4], ARGV[3])
return 1
`)

// revokeRecordedScript is revokeScript (ARGV[3..9]) that also stores the
// messages listed from ARGV[10], with the ids it revoked, when it revoked
// any. Returns {"ok", the ids...}, or {"dupmsg"} having changed nothing.
var revokeRecordedScript = newWriteScript(lib + outboxLib + `
if obtaken(10) then return {'dupmsg'} end
local ids = revokesel()
if #ids > 0 then obput(10, cjson.encode(ids)) end
table.insert(ids, 1, 'ok')
return ids
`)

// EnqueueOutbox implements store.OutboxStore, in one script.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []store.OutboxMessage) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	args, err := msgArgs(nil, msgs)
	if err != nil {
		return fmt.Errorf("redisstore: enqueue outbox: %w", err)
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	res, err := database{s}.write(ctx, enqueueScript, args...).Text()
	switch {
	case err != nil:
		return s.fail("enqueue outbox", err)
	case res == "dupmsg":
		return store.ErrDuplicateMessage
	}
	return nil
}

// LeaseOutbox implements store.OutboxStore, in one script. Times are kept
// to the microsecond.
func (s *Store) LeaseOutbox(ctx context.Context, now, leaseUntil time.Time, n int) ([]store.OutboxMessage, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	v, err := database{s}.write(ctx, leaseScript, microsArg(now), microsArg(leaseUntil), strconv.Itoa(n)).Slice()
	if err != nil {
		return nil, s.fail("lease outbox", err)
	}
	out := make([]store.OutboxMessage, 0, len(v))
	for _, e := range v {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			return nil, errors.New("redisstore: lease outbox: unexpected answer")
		}
		id, _ := pair[0].(string)
		kv, _ := pair[1].([]any)
		m, err := messageOf(id, kv)
		if err != nil {
			return nil, err
		}
		m.NextAttempt = time.UnixMicro(micros(leaseUntil)).UTC()
		out = append(out, m)
	}
	store.SortOutbox(out)
	return out, nil
}

// messageOf decodes the flat field/value list of a message's hash.
func messageOf(id string, kv []any) (store.OutboxMessage, error) {
	f := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		f[k] = v
	}
	m := store.OutboxMessage{ID: id, Destination: f["d"], Payload: []byte(f["p"])}
	created, err := strconv.ParseInt(f["c"], 10, 64)
	if err == nil {
		m.CreatedAt = time.Unix(0, created).UTC()
		m.Attempts, err = strconv.Atoi(f["n"])
	}
	if err == nil && f["s"] != "" {
		err = json.Unmarshal([]byte(f["s"]), &m.SessionIDs)
	}
	if err != nil {
		return store.OutboxMessage{}, fmt.Errorf("redisstore: outbox message %q is malformed: %w", id, err)
	}
	return m, nil
}

// AckOutbox implements store.OutboxStore: the message and its place in
// the queue go in one transaction.
func (s *Store) AckOutbox(ctx context.Context, id string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.prefix+"ob:"+id)
		p.ZRem(ctx, s.prefix+"obq", id)
		return nil
	})
	return s.fail("ack outbox", err)
}

// RetryOutbox implements store.OutboxStore.
func (s *Store) RetryOutbox(ctx context.Context, id string, next time.Time) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	n, err := database{s}.write(ctx, retryScript, id, microsArg(next)).Int()
	switch {
	case err != nil:
		return s.fail("retry outbox", err)
	case n == 0:
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

// RevokeActiveRecorded implements store.RecordingDatabase: the revocation
// and the messages in one script.
func (d database) RevokeActiveRecorded(ctx context.Context, sel store.Selection, now time.Time, reason string, msgs []store.OutboxMessage) ([]string, error) {
	args, err := msgArgs(revokeArgs(sel, now, reason), msgs)
	if err != nil {
		return nil, fmt.Errorf("redisstore: revoke: %w", err)
	}
	res, err := d.write(ctx, revokeRecordedScript, args...).StringSlice()
	switch {
	case err != nil:
		return nil, d.fail("revoke", err)
	case len(res) == 0:
		return nil, errors.New("redisstore: revoke: empty answer")
	case res[0] == "dupmsg":
		return nil, store.ErrDuplicateMessage
	}
	return res[1:], nil
}

// InsertLimitedRecorded implements store.RecordingDatabase: msgs go in the
// script that evicts and inserts.
func (d database) InsertLimitedRecorded(ctx context.Context, sess store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	return d.insertLimited(ctx, sess, now, reason, evict, msgs)
}
