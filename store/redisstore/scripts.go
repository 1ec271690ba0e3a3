package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts of the store. Each runs atomically on the server (Redis
// runs one script at a time), so every compare-and-set a script makes (a
// touch that never revives, a revocation, the not-before rule) sees no
// write between its check and its change. go-redis runs them with EVALSHA
// and sends the source once when the server does not have it yet.
//
// Every script takes the key prefix as ARGV[1] and the retention in
// microseconds as ARGV[2], and names the keys of a session, and the
// channel it announces changes on, from them (see keys.go for the
// layout). Times are Unix microseconds, which Lua's numbers (doubles) and
// sorted-set scores hold exactly within the store's range.
//
// The key of a session (a hash), of its token hash and its place in the
// "old" index expire when the session has been old (store.Session.Old) for
// the retention: its TTL is set, as an absolute time, on every change that
// moves that moment. The user's indexes expire with the last of their
// sessions.
//
// Every script that ends or changes a session, other than a touch,
// announces it (the lib's announce, see invalidator.go) in the same run as
// the change, whoever calls it: a change that commits is always announced,
// in the order Redis ran it.

// lib is the part every script shares.
const lib = `
local P = ARGV[1]
local RET = tonumber(ARGV[2])
local OLD = P .. 'old'
local function skey(id) return P .. 's:' .. id end
local function tkey(h) return P .. 't:' .. h end
local function ukey(u) return P .. 'u:' .. u end
local function akey(u) return P .. 'a:' .. u end
local function nbkey(u) return P .. 'nb:' .. u end
-- announce publishes that the session id is ended or changed (an
-- invalidation notice, see invalidator.go). Each script calls it before
-- the writes it announces: a script that fails part way may announce a
-- change it did not make, which costs a reload, but never makes one
-- unannounced.
local function announce(id) redis.call('PUBLISH', P .. 'notices', 'i ' .. id) end
-- oldat is the first time at which a cleanup removes the session.
local function oldat(e, i, r)
  if r then return math.max(e, r + 1) end
  return math.min(e, i)
end
local function ms(at) return string.format('%d', math.ceil((at + RET) / 1000)) end
-- expire sets the session's keys to expire once it has been old for the
-- retention, and lets its user's indexes live at least that long.
local function expire(id, h, u, o)
  redis.call('ZADD', OLD, o, id)
  redis.call('PEXPIREAT', skey(id), ms(o))
  redis.call('PEXPIREAT', tkey(h), ms(o))
  for _, k in ipairs({ukey(u), akey(u)}) do
    if redis.call('PTTL', k) == -1 then
      redis.call('PEXPIREAT', k, ms(o))
    else
      redis.call('PEXPIREAT', k, ms(o), 'GT')
    end
  end
end
-- refused applies the not-before rule (store.RefusedBy).
local function refused(u, a)
  if u == '' then return false end
  local nb = redis.call('GET', nbkey(u))
  return nb ~= false and a < tonumber(nb)
end
local function active(f, now)
  return f.r == nil and now < f.e and now < f.i
end
-- load returns the session's fields the scripts decide on, or nil.
local function load(id)
  local v = redis.call('HMGET', skey(id), 'u', 'h', 'a', 'e', 'i', 'r', 'm', 'l')
  if v[1] == false then return nil end
  local r = nil
  if v[6] ~= false then r = tonumber(v[6]) end
  return {u = v[1], h = v[2], a = tonumber(v[3]), e = tonumber(v[4]), i = tonumber(v[5]), r = r, m = v[7], l = v[8]}
end
local function idof(m) return string.sub(m, 17) end
-- markrevoked revokes the loaded session f (id) of user u at now (also as
-- the string nows), with reason.
local function markrevoked(id, f, u, now, nows, reason)
  announce(id)
  redis.call('HSET', skey(id), 'r', nows, 'rr', reason)
  redis.call('ZREM', akey(u), f.m)
  expire(id, f.h, u, oldat(f.e, f.i, now))
end
-- insertable checks the session of ARGV[3..18] (see createScript) before
-- insert: nil, or 'dup' or 'nb' for why it cannot be stored.
local function insertable()
  if redis.call('EXISTS', skey(ARGV[3])) == 1 or redis.call('EXISTS', tkey(ARGV[5])) == 1 then return 'dup' end
  if refused(ARGV[4], tonumber(ARGV[7])) then return 'nb' end
  return nil
end
-- insert stores the session of ARGV[3..18]. The optional fields (the
-- revocation time, the sign-in details) are left out when empty.
local function insert()
  local id, u, h = ARGV[3], ARGV[4], ARGV[5]
  local e, i = tonumber(ARGV[9]), tonumber(ARGV[10])
  local names = {'id', 'u', 'h', 'c', 'a', 'l', 'e', 'i', 'r', 'rr', 'ip', 'ua', 'd', 'm', 'am', 'lb'}
  local r = nil
  for n, name in ipairs(names) do
    local v = ARGV[n + 2]
    if name == 'r' then
      if v ~= '' then r = tonumber(v); redis.call('HSET', skey(id), 'r', v) end
    elseif name == 'am' or name == 'lb' then
      if v ~= '' then redis.call('HSET', skey(id), name, v) end
    else
      redis.call('HSET', skey(id), name, v)
    end
  end
  local m = ARGV[16]
  redis.call('SET', tkey(h), id)
  redis.call('ZADD', ukey(u), 0, m)
  if r == nil then redis.call('ZADD', akey(u), 0, m) end
  expire(id, h, u, oldat(e, i, r))
end
-- activeof returns the user's sessions active at now, from the "a:"
-- index in its order, as loaded, and a fingerprint of them: their ids and
-- last-seen times, which is all that an eviction decides on besides the
-- immutable creation time. It drops index entries of sessions gone or
-- revoked.
local function activeof(u, now)
  local out, fp = {}, {}
  for _, m in ipairs(redis.call('ZRANGE', akey(u), 0, -1)) do
    local id = idof(m)
    local f = load(id)
    if f == nil then
      redis.call('ZREM', akey(u), m)
    elseif f.u == u and active(f, now) then
      out[#out + 1] = {id = id, f = f}
      fp[#fp + 1] = id .. ' ' .. f.l
    elseif f.r ~= nil then
      redis.call('ZREM', akey(f.u), f.m)
    end
  end
  return out, table.concat(fp, ',')
end
-- revokesel revokes the selection of ARGV[3..9] (see revokeScript),
-- walking only the user's sessions that are not revoked (the "a:" index),
-- and returns the ids it revoked.
local function revokesel()
  local u, now, reason, scope, target, nb = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  local before = nil
  if ARGV[9] ~= '' then before = tonumber(ARGV[9]) end
  if nb ~= '' then
    local cur = redis.call('GET', nbkey(u))
    if cur == false or tonumber(nb) > tonumber(cur) then redis.call('SET', nbkey(u), nb) end
  end
  local ids = {}
  local function revoke(id, m)
    local f = load(id)
    if f == nil then
      if m ~= nil then redis.call('ZREM', akey(u), m) end
      return
    end
    if f.u ~= u or not active(f, now) then
      if f.r ~= nil then redis.call('ZREM', akey(f.u), f.m) end
      return
    end
    if before ~= nil and f.a >= before then return end
    markrevoked(id, f, u, now, ARGV[4], reason)
    ids[#ids + 1] = id
  end
  if scope == 'one' then
    revoke(target, nil)
  else
    for _, m in ipairs(redis.call('ZRANGE', akey(u), 0, -1)) do
      local id = idof(m)
      if scope ~= 'but' or id ~= target then revoke(id, m) end
    end
  end
  return ids
end
`

// replayFor is how long a write script's answer is kept for a retry of
// the same call (see writeScript): longer than go-redis retries a command
// (MaxRetries, 3 by default, each bounded by the read timeout or the
// call's deadline).
const replayFor = time.Minute

// writeScript is a script that changes the store and whose answer a second
// run would not repeat. go-redis sends a command again when its
// connection breaks before the answer arrives, although the server may
// have run it: run again, a revocation finds nothing left to revoke and
// reports no session, a create or a token replacement finds its own
// token taken and reports a collision, and a write with outbox messages
// finds them taken. So the script keeps its answer under KEYS[1], a key
// of the one call (see database.write), for replayFor, and a second run of
// the same call answers that instead of running again. The key also
// routes the script to the prefix's slot on a Redis Cluster. Scripts whose
// second run answers as the first did (a touch, an update, a
// reauthentication) are plain scripts: they pay for no record.
//
// Keeping the answer is the best the server can do: under its memory
// limit (maxmemory with noeviction) Redis refuses a script's first write,
// and a script that changed nothing still answers, unrecorded, as it did
// before it kept answers.
type writeScript struct{ *redis.Script }

func newWriteScript(src string) writeScript {
	return writeScript{redis.NewScript(`local function run()
` + src + `
end
local done = redis.call('GET', KEYS[1])
if done then return cmsgpack.unpack(done) end
local answer = run()
redis.pcall('SET', KEYS[1], cmsgpack.pack(answer), 'PX', ` + fmt.Sprint(replayFor.Milliseconds()) + `)
return answer
`)}
}

// write runs script as run does, under a key of this call's own.
func (d database) write(ctx context.Context, script writeScript, args ...any) *redis.Cmd {
	return d.run(ctx, script.Script, []string{d.key("op", rand.Text())}, args...)
}

// createScript stores a new session. ARGV[3..18] are its fields as
// insertArgs lists them: its index member is ARGV[16], its sign-in details
// ARGV[17] and ARGV[18]. Returns "ok", "dup"
// or "nb".
var createScript = newWriteScript(lib + `
local why = insertable()
if why ~= nil then return why end
insert()
return 'ok'
`)

// loadTokenScript returns the fields of the session whose token hash is
// ARGV[3], or nil: one round trip on the request path.
var loadTokenScript = redis.NewScript(lib + `
local id = redis.call('GET', tkey(ARGV[3]))
if id == false then return false end
return redis.call('HGETALL', skey(id))
`)

// pageScript returns the sessions of the index KEYS[1] (a user's "u:" or
// "a:" sorted set) from ARGV[3] (a ZREVRANGEBYLEX bound) on, newest first,
// at most ARGV[4]; with ARGV[5] set, only those active at it. A member
// whose session has expired away is dropped from the index.
var pageScript = redis.NewScript(lib + `
local start, want = ARGV[3], tonumber(ARGV[4])
local now = nil
if ARGV[5] ~= '' then now = tonumber(ARGV[5]) end
local out = {}
while #out < want do
  local batch = redis.call('ZREVRANGEBYLEX', KEYS[1], start, '-', 'LIMIT', 0, 64)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    local id = idof(m)
    local f = nil
    if now ~= nil then f = load(id) end
    if now ~= nil and f == nil then
      redis.call('ZREM', KEYS[1], m)
    elseif now == nil or active(f, now) then
      local v = redis.call('HGETALL', skey(id))
      if #v == 0 then
        redis.call('ZREM', KEYS[1], m)
      else
        out[#out + 1] = v
        if #out == want then break end
      end
    end
  end
  start = '(' .. batch[#batch]
end
return out
`)

// touchScript: ARGV[3] id, ARGV[4] now, ARGV[5] the new idle expiry.
// Returns 1 when it changed the session, 0 when it is unknown or inactive.
var touchScript = redis.NewScript(lib + `
local id, now, idle = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local f = load(id)
if f == nil or not active(f, now) then return 0 end
idle = math.min(idle, f.e)
redis.call('HSET', skey(id), 'l', ARGV[4], 'i', string.format('%d', idle))
expire(id, f.h, f.u, oldat(f.e, idle, nil))
return 1
`)

// replaceTokenScript: ARGV[3] id, ARGV[4] the new hash, ARGV[5] now.
// Returns 1 when it changed the session, 0 when it is unknown or inactive,
// "dup" when the hash is taken.
var replaceTokenScript = newWriteScript(lib + `
local id, h, now = ARGV[3], ARGV[4], tonumber(ARGV[5])
local f = load(id)
if f == nil or not active(f, now) then return 0 end
if redis.call('EXISTS', tkey(h)) == 1 then return 'dup' end
announce(id)
redis.call('DEL', tkey(f.h))
redis.call('SET', tkey(h), id)
redis.call('HSET', skey(id), 'h', h)
expire(id, h, f.u, oldat(f.e, f.i, nil))
return 1
`)

// reauthenticateScript: ARGV[3] id, ARGV[4] the new hash, ARGV[5] now,
// ARGV[6] the authentication time, ARGV[7] the methods (JSON) or "".
// Returns 1 when it changed the session, 0 when it is unknown, inactive or
// refused for its user's not-before time, "dup" when the hash is taken.
var reauthenticateScript = redis.NewScript(lib + `
local id, h, now, a = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local f = load(id)
if f == nil or not active(f, now) or refused(f.u, a) then return 0 end
if h ~= f.h and redis.call('EXISTS', tkey(h)) == 1 then return 'dup' end
announce(id)
redis.call('DEL', tkey(f.h))
redis.call('SET', tkey(h), id)
redis.call('HSET', skey(id), 'h', h, 'a', ARGV[6])
if ARGV[7] == '' then
  redis.call('HDEL', skey(id), 'am')
else
  redis.call('HSET', skey(id), 'am', ARGV[7])
end
expire(id, h, f.u, oldat(f.e, f.i, nil))
return 1
`)

// updateScript: ARGV[3] id, ARGV[4] now, ARGV[5] user, ARGV[6] data,
// ARGV[7] expiry, ARGV[8] idle expiry (capped), ARGV[9] authentication
// time or "" to keep it. Returns 1 when it changed the session, 0 when it
// is unknown, inactive or refused for the user's not-before time.
var updateScript = redis.NewScript(lib + `
local id, now, u = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local e, i = tonumber(ARGV[7]), tonumber(ARGV[8])
local f = load(id)
if f == nil or not active(f, now) then return 0 end
local a = f.a
if ARGV[9] ~= '' then a = tonumber(ARGV[9]) end
if refused(u, a) then return 0 end
announce(id)
if u ~= f.u then
  redis.call('ZREM', ukey(f.u), f.m)
  redis.call('ZREM', akey(f.u), f.m)
  redis.call('ZADD', ukey(u), 0, f.m)
  redis.call('ZADD', akey(u), 0, f.m)
end
redis.call('HSET', skey(id), 'u', u, 'd', ARGV[6], 'e', ARGV[7], 'i', ARGV[8],
  'l', ARGV[4], 'a', string.format('%d', a))
expire(id, f.h, u, oldat(e, i, nil))
return 1
`)

// revokeScript: ARGV[3] user, ARGV[4] now, ARGV[5] reason, ARGV[6] the
// scope ("one", "all" or "but"), ARGV[7] the session it names, ARGV[8] the
// new not-before time or "", ARGV[9] the bound on the authentication time
// (store.Selection.AuthenticatedBefore) or "" (see the lib's revokesel).
// Returns the ids it revoked.
var revokeScript = newWriteScript(lib + `
return revokesel()
`)

// deleteOldScript deletes, of the sessions that are old at ARGV[3], at
// most ARGV[4]. Returns how many it deleted and how many entries of the
// "old" index it looked at.
var deleteOldScript = newWriteScript(lib + `
local t, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', OLD, '-inf', ARGV[3], 'LIMIT', 0, limit)
local n = 0
for _, id in ipairs(ids) do
  local f = load(id)
  if f == nil then
    redis.call('ZREM', OLD, id)
  else
    local o = oldat(f.e, f.i, f.r)
    if o <= t then
      redis.call('DEL', skey(id), tkey(f.h))
      redis.call('ZREM', ukey(f.u), f.m)
      redis.call('ZREM', akey(f.u), f.m)
      redis.call('ZREM', OLD, id)
      n = n + 1
    else
      redis.call('ZADD', OLD, o, id)
    end
  end
end
return {n, #ids}
`)

// recordDeviceScript: ARGV[3] id, ARGV[4] IP, ARGV[5] User-Agent. Returns
// -1 for an unknown session, else 1 when it recorded the device.
var recordDeviceScript = newWriteScript(lib + `
local k = skey(ARGV[3])
local v = redis.call('HMGET', k, 'u', 'ip', 'ua')
if v[1] == false then return -1 end
if v[2] ~= '' or v[3] ~= '' then return 0 end
announce(ARGV[3])
redis.call('HSET', k, 'ip', ARGV[4], 'ua', ARGV[5])
return 1
`)
