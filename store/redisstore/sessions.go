package redisstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/store"
)

// database is the Store as the store.Database that its store.Rules work
// on: one script, or one command, a method.
type database struct{ *Store }

var (
	_ store.SessionStore   = (*Store)(nil)
	_ store.DataStore      = (*Store)(nil)
	_ store.Cleaner        = (*Store)(nil)
	_ store.DeviceRecorder = (*Store)(nil)
)

// isUnreachable reports whether err says that the server did not answer in
// time or could not be reached, rather than refused a command.
func isUnreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout)
}

// run runs script with the store's prefix and retention before args. A
// script given no key is given the "old" index's: a Redis Cluster sends a
// script to the node of its first key, and one with none to any node,
// while every key of the store is on the prefix's node when the prefix
// has a hash tag.
func (d database) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if len(keys) == 0 {
		keys = []string{d.prefix + "old"}
	}
	return script.Run(ctx, d.rdb, keys, append([]any{d.prefix, d.retention}, args...)...)
}

func (d database) key(kind, name string) string { return d.prefix + kind + ":" + name }

// Closed implements store.Database.
func (d database) Closed() bool { return d.closed.Load() }

// Insert implements store.Database.
func (d database) Insert(ctx context.Context, s store.Session) (bool, error) {
	res, err := d.write(ctx, createScript, insertArgs(s)...).Text()
	switch {
	case err != nil:
		return false, d.fail("create", err)
	case res == "dup":
		return false, store.ErrDuplicate
	case res == "nb":
		return false, nil
	}
	return true, nil
}

// insertArgs are the arguments of a script that stores s (the lib's
// insert), in the order of its fields.
func insertArgs(s store.Session) []any {
	revoked := ""
	if !s.RevokedAt.IsZero() {
		revoked = microsArg(s.RevokedAt)
	}
	created := micros(s.CreatedAt)
	methods, _ := store.EncodeMethods(s.AuthMethods) // "" for none
	labels, _ := store.EncodeLabels(s.Labels)
	return []any{
		s.ID, s.UserID, hashArg(s.TokenHash), strconv.FormatInt(created, 10),
		microsArg(s.AuthenticatedAt), microsArg(s.LastSeenAt), microsArg(s.ExpiresAt),
		microsArg(s.IdleExpiresAt), revoked, s.RevokeReason, s.IP, s.UserAgent,
		string(s.Data), member(created, s.ID), methods, labels,
	}
}

// LoadID implements store.Database.
func (d database) LoadID(ctx context.Context, id string) (store.Session, error) {
	m, err := d.rdb.HGetAll(ctx, d.key("s", id)).Result()
	if err != nil {
		return store.Session{}, d.fail("get", err)
	}
	return sessionOfMap(m)
}

// LoadTokenHash implements store.Database, in one round trip.
func (d database) LoadTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	v, err := d.run(ctx, loadTokenScript, nil, hashArg(hash)).Slice()
	if errors.Is(err, redis.Nil) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, d.fail("get by token hash", err)
	}
	return sessionOf(v)
}

// LoadUser implements store.Database.
func (d database) LoadUser(ctx context.Context, userID string) ([]store.Session, error) {
	return d.page(ctx, "list", d.key("u", userID), "+", -1, "")
}

// LoadPage implements store.Database.
func (d database) LoadPage(ctx context.Context, userID string, q store.PageQuery) ([]store.Session, error) {
	key, now := d.key("u", userID), ""
	if !q.All {
		key, now = d.key("a", userID), microsArg(q.Now)
	}
	return d.page(ctx, "list page", key, afterBound(q.After), q.Limit+1, now)
}

// page runs pageScript; a limit below zero means no limit.
func (d database) page(ctx context.Context, op, key, start string, limit int, now string) ([]store.Session, error) {
	if limit < 0 {
		limit = 1 << 53 // as many as there are: the most a Lua number counts exactly
	}
	want := strconv.Itoa(limit)
	v, err := d.run(ctx, pageScript, []string{key}, start, want, now).Slice()
	if err != nil {
		return nil, d.fail(op, err)
	}
	out := make([]store.Session, 0, len(v))
	for _, e := range v {
		kv, _ := e.([]any)
		s, err := sessionOf(kv)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadActive implements store.Database. It reads the "old" index from now
// on, which holds every session not yet old, in chunks, each chunk's
// sessions in one pipeline; it is not one snapshot of the store, which
// scs's Iterate does not need.
func (d database) LoadActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	const chunk = 500
	var out []store.Session
	for offset := int64(0); ; offset += chunk {
		ids, err := d.rdb.ZRangeByScore(ctx, d.prefix+"old", &redis.ZRangeBy{
			Min: "(" + microsArg(now), Max: "+inf", Offset: offset, Count: chunk,
		}).Result()
		if err != nil {
			return nil, d.fail("list active", err)
		}
		cmds, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.HGetAll(ctx, d.key("s", id))
			}
			return nil
		})
		if err != nil {
			return nil, d.fail("list active", err)
		}
		for _, c := range cmds {
			s, err := sessionOfMap(c.(*redis.MapStringStringCmd).Val())
			if errors.Is(err, store.ErrNotFound) {
				continue // gone since the index was read
			}
			if err != nil {
				return nil, err
			}
			if s.Active(now.Truncate(time.Microsecond)) {
				out = append(out, s)
			}
		}
		if len(ids) < chunk {
			return out, nil
		}
	}
}

// Probe implements store.Database.
func (d database) Probe(ctx context.Context, id string, now time.Time) (string, bool, error) {
	s, err := d.LoadID(ctx, id)
	if err != nil {
		return "", false, err
	}
	return s.UserID, s.Active(now.Truncate(time.Microsecond)), nil
}

// changed reads the answer of a script that returns 1 for a change, 0 for
// none, or "dup".
func (d database) changed(op string, cmd *redis.Cmd) (bool, error) {
	v, err := cmd.Result()
	if err != nil {
		return false, d.fail(op, err)
	}
	switch v {
	case int64(1):
		return true, nil
	case int64(0):
		return false, nil
	case "dup":
		return false, store.ErrDuplicate
	}
	return false, fmt.Errorf("redisstore: %s: unexpected answer %v", op, v)
}

// TouchActive implements store.Database.
func (d database) TouchActive(ctx context.Context, id string, now, idleExpiresAt time.Time) (bool, error) {
	return d.changed("touch", d.run(ctx, touchScript, nil, id, microsArg(now), microsArg(idleExpiresAt)))
}

// ReplaceActiveToken implements store.Database.
func (d database) ReplaceActiveToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) (bool, error) {
	return d.changed("replace token", d.write(ctx, replaceTokenScript, id, hashArg(newHash), microsArg(now)))
}

// UpdateActive implements store.Database.
func (d database) UpdateActive(ctx context.Context, id string, u store.Update, now time.Time) (bool, error) {
	auth := ""
	if !u.AuthenticatedAt.IsZero() {
		auth = microsArg(u.AuthenticatedAt)
	}
	return d.changed("update", d.run(ctx, updateScript, nil, id, microsArg(now), u.UserID, string(u.Data),
		microsArg(u.ExpiresAt), microsArg(u.IdleExpiresAt), auth))
}

// RevokeActive implements store.Database: one script on the user's
// sessions that are not revoked, which also moves the not-before time.
func (d database) RevokeActive(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	ids, err := d.write(ctx, revokeScript, revokeArgs(sel, now, reason)...).StringSlice()
	if err != nil {
		return nil, d.fail("revoke", err)
	}
	return ids, nil
}

// revokeArgs are the arguments of the lib's revokesel for sel.
func revokeArgs(sel store.Selection, now time.Time, reason string) []any {
	scope, target := "all", ""
	switch sel.Scope() {
	case store.ScopeOne:
		scope, target = "one", sel.SessionID
	case store.ScopeAllBut:
		scope, target = "but", sel.ExceptID
	}
	nb := ""
	if !sel.NotBefore.IsZero() {
		nb = microsArg(sel.NotBefore)
	}
	before := ""
	if !sel.AuthenticatedBefore.IsZero() {
		before = microsArg(sel.AuthenticatedBefore)
	}
	return []any{sel.UserID, microsArg(now), reason, scope, target, nb, before}
}

// DeleteOld implements store.Database, in batches of deleteBatch entries
// of the "old" index, each its own script and deadline.
func (d database) DeleteOld(ctx context.Context, t time.Time) (int, error) {
	deleted := 0
	_, err := store.DeleteInBatches(ctx, d.callTimeout, deleteBatch, func(ctx context.Context) (int, error) {
		v, err := d.write(ctx, deleteOldScript, microsArg(t), deleteBatch).Int64Slice()
		if err != nil {
			return 0, d.fail("delete", err)
		}
		deleted += int(v[0])
		return int(v[1]), nil // looked at: a short batch is the last
	})
	return deleted, err
}
