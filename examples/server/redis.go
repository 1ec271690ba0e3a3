package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/redisstore"
)

// openRedis opens the store in Redis. Every instance given the same Redis
// server shares the same sessions under redisstore.DefaultPrefix;
// redisstore keeps no cache, so a revocation made by one instance is seen
// by the next request on any other. The Redis must persist with AOF
// (appendfsync always, or everysec at the risk of the last second) for a
// revocation to survive its restart.
func openRedis(ctx context.Context, cfg config, logger *slog.Logger) (store.SessionStore, error) {
	ctx, cancel := context.WithTimeout(ctx, pgOpenTimeout)
	defer cancel()
	prefix := cfg.redisPrefix
	st, err := redisstore.Open(ctx, cfg.redis, redisstore.WithPrefix(prefix),
		redisstore.WithRetention(retention), redisstore.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open Redis store at %s: %w", redactRedisURL(cfg.redis), err)
	}
	logger.Info("session store", "backend", "redis", "server", redactRedisURL(cfg.redis),
		"prefix", prefix, "retention", retention)
	return st, nil
}

// registerRedisFlags adds -redis and -redis-prefix to fs.
func registerRedisFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.redis, "redis", "", "keep sessions in the Redis server at this `URL` (redis://host:port/db) instead of SQLite")
	fs.StringVar(&cfg.redisPrefix, "redis-prefix", redisstore.DefaultPrefix, "`prefix` of the Redis keys with -redis")
}

// checkRedisFlags refuses -redis together with another store.
func checkRedisFlags(set map[string]bool, cfg config) error {
	switch {
	case set["redis"] && cfg.redis == "":
		return errors.New("-redis is empty; give a redis:// URL")
	case set["redis-prefix"] && !set["redis"]:
		return errors.New("-redis-prefix needs -redis")
	case !set["redis"]:
		return nil
	case cfg.memory || set["postgres"] || set["db"]:
		return errors.New("-redis names a session store and cannot be combined with -memory, -postgres or -db; give one of them")
	}
	return nil
}

// redactRedisURL describes the server of a Redis URL, for the log, without
// its password.
func redactRedisURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(unparsable Redis URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
