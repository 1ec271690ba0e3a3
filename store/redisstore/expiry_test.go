package redisstore

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// expireTime returns when the key expires, as Redis holds it.
func expireTime(t *testing.T, s *Store, key string) time.Time {
	t.Helper()
	ms, err := s.rdb.PExpireTime(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ms < 0 {
		t.Fatalf("%s has no expiry (%v)", key, ms)
	}
	return time.UnixMilli(int64(ms / time.Millisecond))
}

// TestTTLFollowsOldPlusRetention checks that a session's keys expire once
// it has been old for the retention: at its idle expiry while it is not
// revoked, moved by a touch, and at its absolute expiry once revoked.
func TestTTLFollowsOldPlusRetention(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	const retention = 48 * time.Hour
	s := open(t, WithRetention(retention))
	now := time.Now().Truncate(time.Millisecond)
	sess := storetest.NewSession("alice", now)
	is.NoErr(s.Create(ctx, sess))
	sk, tk := s.prefix+"s:"+sess.ID, s.prefix+"t:"+hashArg(sess.TokenHash)

	is.True(expireTime(t, s, sk).Equal(sess.IdleExpiresAt.Add(retention))) // idle expiry plus retention
	is.True(expireTime(t, s, tk).Equal(sess.IdleExpiresAt.Add(retention))) // the token key too

	idle := now.Add(2 * time.Hour)
	is.NoErr(s.Touch(ctx, sess.ID, now.Add(time.Minute), idle))
	is.True(expireTime(t, s, sk).Equal(idle.Add(retention))) // a touch moves it

	_, err := s.Revoke(ctx, store.Selection{UserID: "alice"}, now.Add(2*time.Minute), "test")
	is.NoErr(err)
	is.True(expireTime(t, s, sk).Equal(sess.ExpiresAt.Add(retention))) // a tombstone lives to its absolute expiry
	is.True(expireTime(t, s, tk).Equal(sess.ExpiresAt.Add(retention)))
	is.True(!expireTime(t, s, s.prefix+"u:alice").Before(sess.ExpiresAt.Add(retention))) // the index outlives it
}

// TestExpiredKeysLeaveNoSession checks that a session whose keys Redis
// expired is gone from every read, and that the cleanup drops what the
// TTL left in the indexes.
func TestExpiredKeysLeaveNoSession(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, WithRetention(0))
	now := time.Now()
	sess := storetest.NewSession("bob", now)
	is.NoErr(s.Create(ctx, sess))
	is.NoErr(s.rdb.Del(ctx, s.prefix+"s:"+sess.ID, s.prefix+"t:"+hashArg(sess.TokenHash)).Err()) // as a TTL would

	_, err := s.Get(ctx, sess.ID)
	is.True(errors.Is(err, store.ErrNotFound))
	list, err := s.List(ctx, "bob")
	is.NoErr(err)
	is.Equal(len(list), 0)
	page, err := s.ListPage(ctx, "bob", store.PageQuery{Limit: 10, Now: now})
	is.NoErr(err)
	is.Equal(len(page.Sessions), 0)
	ids, err := s.Revoke(ctx, store.Selection{UserID: "bob"}, now, "test")
	is.NoErr(err)
	is.Equal(len(ids), 0)
	n, err := s.DeleteBefore(ctx, now.Add(48*time.Hour))
	is.NoErr(err)
	is.Equal(n, 0) // nothing left to delete: the keys were gone already
	left, err := s.rdb.ZCard(ctx, s.prefix+"old").Result()
	is.NoErr(err)
	is.Equal(left, int64(0)) // and the index entry is dropped
}

// TestBackgroundCleanup checks that the background cleanup deletes old
// sessions under its lock.
func TestBackgroundCleanup(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t, WithCleanupInterval(20*time.Millisecond), WithRetention(time.Hour))
	old := storetest.NewSession("carol", time.Now().Add(-48*time.Hour)) // idle-expired long ago: its keys expire at once
	live := storetest.NewSession("carol", time.Now())
	is.NoErr(s.Create(ctx, old))
	is.NoErr(s.Create(ctx, live))
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.rdb.ZCard(ctx, s.prefix+"old").Result()
		is.NoErr(err)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cleanup left %d entries in the old index, want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := s.Get(ctx, live.ID)
	is.NoErr(err) // the live session stays
}

// TestOptions checks that Open and New refuse what they cannot take.
func TestOptions(t *testing.T) {
	ctx := t.Context()
	url := redistest.URL(t)
	for name, opts := range map[string][]Option{
		"empty prefix":       {WithPrefix("")},
		"negative timeout":   {WithCallTimeout(-time.Second)},
		"negative interval":  {WithCleanupInterval(-time.Second)},
		"negative retention": {WithRetention(-time.Second)},
		"nil logger":         {WithLogger(nil)},
		"nil option":         {nil},
	} {
		if s, err := Open(ctx, url, opts...); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := Open(ctx, "http://127.0.0.1:6379"); err == nil {
		t.Error("a URL that is not redis:// was taken")
	}
	if _, err := New(ctx, nil); err == nil {
		t.Error("a nil client was taken")
	}
}

// TestNewSharedClient checks that a Store on the app's client leaves the
// client open when it closes.
func TestNewSharedClient(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	opts, err := redis.ParseURL(url)
	is.NoErr(err)
	c := redis.NewClient(opts)
	defer c.Close()
	s, err := New(ctx, c, WithPrefix(redistest.Prefix(t, url)), WithCleanupInterval(0))
	is.NoErr(err)
	is.NoErr(s.Close())
	is.NoErr(c.Ping(ctx).Err())
	_, err = s.Get(ctx, "x")
	is.True(errors.Is(err, store.ErrClosed))
}

// TestUnavailable checks that a server that does not answer makes a call
// fail with store.ErrUnavailable within the call timeout.
func TestUnavailable(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	// A listener that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	_, err = New(ctx, c, WithCallTimeout(100*time.Millisecond))
	is.True(errors.Is(err, store.ErrUnavailable)) // Open finds out at once

	_, err = Open(ctx, "redis://127.0.0.1:1/0", WithCallTimeout(100*time.Millisecond))
	is.True(errors.Is(err, store.ErrUnavailable)) // no server at all
}
