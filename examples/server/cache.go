package main

import (
	"fmt"
	"log/slog"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
)

// withCache puts a cache in front of the shared store st when -cache asks
// for one, and passes st (or the error of opening it) on otherwise.
func withCache(st store.SessionStore, err error, cfg config, logger *slog.Logger) (store.SessionStore, error) {
	if err != nil || !cfg.cache {
		return st, err
	}
	opts := []cachestore.Option{cachestore.WithLogger(logger)}
	if cfg.metrics.provider != nil {
		opts = append(opts, cachestore.WithMeterProvider(cfg.metrics.provider))
	}
	c, err := cachestore.New(st, opts...)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("-cache: %w", err)
	}
	logger.Info("session cache", "instance", c.Instance())
	return c, nil
}
