// Package redistest finds the Redis server that tests and benchmarks run
// against, and gives each test a key prefix of its own so that runs
// sharing a server never see each other's sessions.
//
// The server is redis://127.0.0.1:6379/0 unless the REVOKE_TEST_REDIS
// environment variable names another (a redis:// URL). When the default
// server is unreachable, tests skip with a message saying so; a server
// named in REVOKE_TEST_REDIS must be reachable, and the test fails
// otherwise, so that a typo there cannot silently turn the tests off.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the server used unless REVOKE_TEST_REDIS names another.
const DefaultURL = "redis://127.0.0.1:6379/0"

// EnvVar names the environment variable that overrides DefaultURL.
const EnvVar = "REVOKE_TEST_REDIS"

var (
	reachOnce sync.Once
	reachErr  error
)

// URL returns the URL of the test server, skipping tb when the default
// server is unreachable and failing it when a named one is.
func URL(tb testing.TB) string {
	tb.Helper()
	url, explicit := os.LookupEnv(EnvVar)
	if !explicit || url == "" {
		url, explicit = DefaultURL, false
	}
	reachOnce.Do(func() { reachErr = Ping(url) })
	if reachErr != nil {
		if explicit {
			tb.Fatalf("Redis not reachable at %s (%s): %v", url, EnvVar, reachErr)
		}
		tb.Skipf("Redis not reachable at %s; set %s: %v", url, EnvVar, reachErr)
	}
	return url
}

// Ping returns nil when the server at url answers within a few seconds.
func Ping(url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Prefix returns a key prefix no other test uses; the keys under it are
// deleted when the test ends.
func Prefix(tb testing.TB, url string) string {
	tb.Helper()
	p := "revoketest:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() { Delete(tb, url, p) })
	return p
}

// Delete deletes every key under prefix on the server at url.
func Delete(tb testing.TB, url, prefix string) {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Error(err)
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		c.Del(ctx, it.Val())
	}
	if err := it.Err(); err != nil {
		tb.Errorf("redistest: delete %s*: %v", prefix, err)
	}
}
