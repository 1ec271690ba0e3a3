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
	_ store.ProviderStore    = (*Store)(nil)
	_ store.TokenIDStore     = (*Store)(nil)
	_ store.ProviderDatabase = providerDatabase{}
)

// txTries bounds how often a provider transaction starts over because a
// key it read changed before it committed. Each failed try means another
// transaction on those keys committed, so the store as a whole moves on.
const txTries = 100

// pair names a key of two strings, unambiguously: the first one's length,
// a colon, then both.
func pair(a, b string) string { return strconv.Itoa(len(a)) + ":" + a + b }

// expiresAt is the moment, in whole milliseconds and not before t, that a
// key remembering something until t expires at.
func expiresAt(t time.Time) time.Time {
	return time.UnixMilli((micros(t) + 999) / 1000)
}

// linkValue is a link as its provider session's hash keeps it, under the
// app session's id.
type linkValue struct {
	Subject string `json:"s"`
	UserID  string `json:"u"`
	Expires int64  `json:"e"` // Unix microseconds
}

// putLinkScript sets the field ARGV[1] of the hash KEYS[1] to ARGV[2] and
// lets the hash live until at least ARGV[3] (Unix milliseconds).
var putLinkScript = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[3], 'GT')
end
return 1`)

// dropLinksScript deletes, of the links in the hash KEYS[1], at most ARGV[2]
// that expire at or before ARGV[1] (Unix microseconds).
var dropLinksScript = redis.NewScript(`
local now, limit, n = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
local kv = redis.call('HGETALL', KEYS[1])
for i = 1, #kv, 2 do
  if n >= limit then break end
  if cjson.decode(kv[i + 1]).e <= now then
    redis.call('HDEL', KEYS[1], kv[i])
    n = n + 1
  end
end
return n`)

// putUntilScript sets KEYS[1] to ARGV[1] (Unix microseconds) unless it
// holds a later time, and lets it expire then (ARGV[2], Unix
// milliseconds).
var putUntilScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur ~= false and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`)

// providerDatabase is the Store as the store.ProviderDatabase that its
// store.ProviderRules work on. Its keys, under the prefix P:
//
//	P pl:<issuer,sid>      hash: session id to link (linkValue, JSON); expires with its last link
//	P pe:<issuer,sid>      string: until when the provider session is ended; expires then
//	P ps:<issuer,subject>  string: the app user the subject maps to
//	P pj:<issuer,jti>      string: until when the token id is used; expires then
//
// where <a,b> is pair(a, b). The TTLs follow the server's clock and keep
// what is remembered bounded; whether a thing is still remembered is
// decided on the now of each call.
type providerDatabase struct{ *Store }

// Closed implements store.ProviderDatabase.
func (d providerDatabase) Closed() bool { return d.closed.Load() }

func (d providerDatabase) key(kind, a, b string) string { return d.prefix + kind + ":" + pair(a, b) }

// ProviderTx implements store.ProviderDatabase as an optimistic Redis
// transaction: every key fn reads is watched first, every write is
// queued, and the writes run in one MULTI/EXEC when fn returns. If a
// watched key changed meanwhile, EXEC does nothing and fn runs again. A
// link reads its provider session's "ended" key and an end reads its
// links, and each writes what the other reads, so of a link and an end
// racing, whichever commits second starts over and sees the first.
//
// On a Redis Cluster the transaction first watches a key that nothing
// writes (txAnchorKey): the cluster runs a transaction on the node of its
// first key, the prefix's node when the prefix has a hash tag. A single
// server needs no such round trip.
func (d providerDatabase) ProviderTx(ctx context.Context, op, _, _ string, fn func(store.ProviderTx) error) error {
	var anchor []string
	if _, ok := d.rdb.(*redis.ClusterClient); ok {
		anchor = []string{d.prefix + txAnchorKey}
	}
	for range txTries {
		var fnErr error
		err := d.rdb.Watch(ctx, func(tx *redis.Tx) error {
			t := &providerTx{ctx: ctx, tx: tx, d: d, op: op}
			if fnErr = fn(t); fnErr != nil {
				return fnErr
			}
			if len(t.writes) == 0 {
				return nil
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, w := range t.writes {
					w(p)
				}
				return nil
			})
			return err
		}, anchor...)
		switch {
		case fnErr != nil:
			return fnErr
		case errors.Is(err, redis.TxFailedErr):
			continue
		case err != nil:
			return d.fail(op, err)
		}
		return nil
	}
	return fmt.Errorf("redisstore: %s: the keys kept changing; gave up", op)
}

// LoadProviderUser implements store.ProviderDatabase.
func (d providerDatabase) LoadProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	u, err := d.rdb.Get(ctx, d.key("ps", issuer, subject)).Result()
	if errors.Is(err, redis.Nil) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", d.fail("provider user", err)
	}
	return u, nil
}

// TokenIDRemembered implements store.ProviderDatabase.
func (d providerDatabase) TokenIDRemembered(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	return remembered(d.rdb.Get(ctx, d.key("pj", issuer, jti)), now, func(err error) error {
		return d.fail("token id used", err)
	})
}

// remembered reads the answer of a GET of a key that holds a time in Unix
// microseconds, and reports whether that time is after now.
func remembered(cmd *redis.StringCmd, now time.Time, fail func(error) error) (bool, error) {
	v, err := cmd.Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fail(err)
	}
	return v > micros(now), nil
}

// providerTx is one transaction of ProviderTx: reads go to the server at
// once, on the watching connection; writes wait for EXEC.
type providerTx struct {
	ctx    context.Context
	tx     *redis.Tx
	d      providerDatabase
	op     string
	writes []func(redis.Pipeliner)
	// links is the key of the provider session whose links the
	// transaction reads or writes, for DropExpired.
	links string
}

func (t *providerTx) fail(err error) error { return t.d.fail(t.op, err) }

// read watches key, so that EXEC fails if it changes before then.
func (t *providerTx) read(key string) error {
	if err := t.tx.Watch(t.ctx, key).Err(); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *providerTx) queue(w func(redis.Pipeliner)) { t.writes = append(t.writes, w) }

// Ended implements store.ProviderTx.
func (t *providerTx) Ended(issuer, sid string, now time.Time) (bool, error) {
	k := t.d.key("pe", issuer, sid)
	t.links = t.d.key("pl", issuer, sid)
	if err := t.read(k); err != nil {
		return false, err
	}
	return remembered(t.tx.Get(t.ctx, k), now, t.fail)
}

// MapSubject implements store.ProviderTx.
func (t *providerTx) MapSubject(issuer, subject, userID string) error {
	k := t.d.key("ps", issuer, subject)
	t.queue(func(p redis.Pipeliner) { p.Set(t.ctx, k, userID, 0) })
	return nil
}

// PutLink implements store.ProviderTx.
func (t *providerTx) PutLink(l store.ProviderLink) error {
	v, err := json.Marshal(linkValue{Subject: l.Subject, UserID: l.UserID, Expires: micros(l.ExpiresAt)})
	if err != nil {
		return err
	}
	k := t.d.key("pl", l.Issuer, l.SID)
	t.links = k
	ms := expiresAt(l.ExpiresAt).UnixMilli()
	t.queue(func(p redis.Pipeliner) { putLinkScript.Eval(t.ctx, p, []string{k}, l.SessionID, string(v), ms) })
	return nil
}

// PutEnded implements store.ProviderTx.
func (t *providerTx) PutEnded(issuer, sid string, until time.Time) error {
	k := t.d.key("pe", issuer, sid)
	t.links = t.d.key("pl", issuer, sid)
	at, ms := micros(until), expiresAt(until).UnixMilli()
	t.queue(func(p redis.Pipeliner) { putUntilScript.Eval(t.ctx, p, []string{k}, at, ms) })
	return nil
}

// Links implements store.ProviderTx.
func (t *providerTx) Links(issuer, sid string, now time.Time) ([]store.ProviderLink, error) {
	k := t.d.key("pl", issuer, sid)
	t.links = k
	if err := t.read(k); err != nil {
		return nil, err
	}
	m, err := t.tx.HGetAll(t.ctx, k).Result()
	if err != nil {
		return nil, t.fail(err)
	}
	at := micros(now)
	var links []store.ProviderLink
	for id, raw := range m {
		var v linkValue
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("redisstore: %s: the link of session %q is malformed: %w", t.op, id, err)
		}
		if v.Expires > at {
			links = append(links, store.ProviderLink{
				Issuer: issuer, SID: sid, SessionID: id, Subject: v.Subject, UserID: v.UserID,
				ExpiresAt: time.UnixMicro(v.Expires).UTC(),
			})
		}
	}
	return links, nil
}

// PutTokenID implements store.ProviderTx: a remembered id is left as it
// is; a forgotten one (its time passed) is used afresh.
func (t *providerTx) PutTokenID(issuer, jti string, now, until time.Time) (bool, error) {
	k := t.d.key("pj", issuer, jti)
	if err := t.read(k); err != nil {
		return false, err
	}
	used, err := remembered(t.tx.Get(t.ctx, k), now, t.fail)
	if err != nil || used {
		return false, err
	}
	at := micros(until)
	t.queue(func(p redis.Pipeliner) {
		p.Set(t.ctx, k, at, 0)
		p.PExpireAt(t.ctx, k, expiresAt(until))
	})
	return true, nil
}

// DropExpired implements store.ProviderTx. Ended provider sessions and
// used token ids are keys of their own that expire at their time, so
// only links need it: it drops the expired links of the provider session
// the transaction is about, whose hash would otherwise keep them until
// its last link expires.
func (t *providerTx) DropExpired(table store.ExtensionTable, now time.Time, limit int) error {
	if table != store.LinksTable || t.links == "" {
		return nil
	}
	k, at := t.links, micros(now)
	t.queue(func(p redis.Pipeliner) { dropLinksScript.Eval(t.ctx, p, []string{k}, at, limit) })
	return nil
}
