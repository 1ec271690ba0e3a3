package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.LimitedStore    = (*Store)(nil)
	_ store.LimitedDatabase = database{}
)

// limitTries bounds how often a capped create starts over because the
// user's active sessions changed under it. Each try that fails means
// another write of the user went through, so the store as a whole always
// moves on; the bound only keeps one caller from spinning forever.
const limitTries = 100

// activeScript: ARGV[3] user, ARGV[4] now. Returns the fingerprint of the
// user's sessions active at now (see the lib's activeof), then the fields
// of each, as HGETALL gives them.
var activeScript = redis.NewScript(lib + `
local list, fp = activeof(ARGV[3], tonumber(ARGV[4]))
local out = {fp}
for _, x in ipairs(list) do out[#out + 1] = redis.call('HGETALL', skey(x.id)) end
return out
`)

// createLimitedScript stores the session of ARGV[3..18] (as createScript)
// and revokes the sessions listed after the messages at ARGV[22] at
// ARGV[19] with reason ARGV[20], provided the user's sessions active at
// ARGV[19] still have the fingerprint ARGV[21] that the eviction was
// decided on; when it revokes any, it stores the messages too, with their
// ids. Returns {"ok", the ids it revoked...}, or {"dup"}, {"nb"},
// {"dupmsg"} or {"retry"} having changed nothing.
var createLimitedScript = newWriteScript(lib + outboxLib + `
local why = insertable()
if why ~= nil then return {why} end
if obtaken(22) then return {'dupmsg'} end
local u, nows, reason = ARGV[4], ARGV[19], ARGV[20]
local now = tonumber(nows)
local list, fp = activeof(u, now)
if fp ~= ARGV[21] then return {'retry'} end
local byid = {}
for _, x in ipairs(list) do byid[x.id] = x.f end
local out, ids = {'ok'}, {}
for n = 23 + tonumber(ARGV[22]) * 7, #ARGV do
  local id = ARGV[n]
  local f = byid[id]
  if f ~= nil then
    markrevoked(id, f, u, now, nows, reason)
    out[#out + 1] = id
    ids[#ids + 1] = id
    byid[id] = nil
  end
end
insert()
if #ids > 0 then obput(22, cjson.encode(ids)) end
return out
`)

// InsertLimited implements store.LimitedDatabase. One script reads the
// user's active sessions and a fingerprint of them; evict decides in Go;
// a second script revokes and inserts only if the fingerprint still
// matches, and otherwise the whole step starts over. So a capped create
// is one step against every other write of the user (creates, touches,
// revocations, other capped creates, on any instance), without a lock
// that a dead instance could leave held.
func (d database) InsertLimited(ctx context.Context, s store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error)) (bool, []string, error) {
	return d.insertLimited(ctx, s, now, reason, evict, nil)
}

// insertLimited is InsertLimited that, when it revokes any session, also
// stores msgs with their ids in its second script.
func (d database) insertLimited(ctx context.Context, s store.Session, now time.Time, reason string, evict func([]store.Session) ([]string, error), msgs []store.OutboxMessage) (bool, []string, error) {
	const op = "create limited"
	at := microsArg(now)
	for range limitTries {
		v, err := d.run(ctx, activeScript, nil, s.UserID, at).Slice()
		if err != nil {
			return false, nil, d.fail(op, err)
		}
		fp, _ := v[0].(string)
		active := make([]store.Session, 0, len(v)-1)
		for _, e := range v[1:] {
			kv, _ := e.([]any)
			x, err := sessionOf(kv)
			if err != nil {
				return false, nil, err
			}
			active = append(active, x)
		}
		ids, err := evict(active)
		if err != nil {
			return false, nil, err
		}
		args, err := msgArgs(append(insertArgs(s), at, reason, fp), msgs)
		if err != nil {
			return false, nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		for _, id := range ids {
			args = append(args, id)
		}
		res, err := d.write(ctx, createLimitedScript, args...).StringSlice()
		if err != nil {
			return false, nil, d.fail(op, err)
		}
		switch res[0] {
		case "ok":
			return true, res[1:], nil
		case "dup":
			return false, nil, store.ErrDuplicate
		case "dupmsg":
			return false, nil, store.ErrDuplicateMessage
		case "nb":
			return false, nil, nil
		case "retry":
			continue
		}
		return false, nil, fmt.Errorf("redisstore: %s: unexpected answer %q", op, res[0])
	}
	return false, nil, errors.New("redisstore: create limited: the user's sessions kept changing; gave up")
}

// CreateLimited implements store.LimitedStore.
func (s *Store) CreateLimited(ctx context.Context, sess store.Session, l store.Limit, now time.Time) ([]string, error) {
	return s.Rules.CreateWithLimit(ctx, sess, l, now)
}
