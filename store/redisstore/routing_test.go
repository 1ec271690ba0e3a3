package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
)

// keyChecker is a go-redis hook that notes every script sent without a
// first key under the store's prefix.
type keyChecker struct {
	prefix string
	mu     *sync.Mutex
	bad    *[]string
}

func (k keyChecker) check(cmd redis.Cmder) {
	args := cmd.Args()
	if name := strings.ToLower(cmd.Name()); name != "evalsha" && name != "eval" {
		return
	}
	if n, ok := args[2].(int); ok && n > 0 {
		if key, ok := args[3].(string); ok && strings.HasPrefix(key, k.prefix) {
			return
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	*k.bad = append(*k.bad, fmt.Sprint(args[:min(len(args), 5)]))
}

func (k keyChecker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k keyChecker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		k.check(cmd)
		return next(ctx, cmd)
	}
}

func (k keyChecker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			k.check(cmd)
		}
		return next(ctx, cmds)
	}
}

// TestScriptsNameTheirNode runs the conformance suites on clients that check
// that every script names a key under the store's prefix first: a Redis
// Cluster sends a script to the node of its first key, and one that names
// none to any node, where the store's keys are not.
func TestScriptsNameTheirNode(t *testing.T) {
	url := redistest.URL(t)
	var (
		mu  sync.Mutex
		bad []string
	)
	suites(t, func(t *testing.T) *Store {
		prefix := redistest.Prefix(t, url)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		opts.ContextTimeoutEnabled = true
		rdb := redis.NewClient(opts)
		rdb.AddHook(keyChecker{prefix: prefix, mu: &mu, bad: &bad})
		return onClient(t, rdb, prefix)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d scripts named no key under the prefix first, such as %s", len(bad), bad[0])
	}
}
