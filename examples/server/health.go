package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/revokehq/revoke/store"
)

// readyTimeout bounds the store call of /readyz: a store slower than this
// is not ready to serve requests.
const readyTimeout = 2 * time.Second

// readyProbeID names no session: looking it up is the cheapest call that
// reaches the store, and answers ErrNotFound when the store works.
const readyProbeID = "readyz-probe"

// healthRoutes registers /healthz, which answers while the process serves,
// and /readyz, which answers only while the store does, within
// readyTimeout. Neither says why it fails: the log does.
func (a *app) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		// In a goroutine, so that a store that ignores its context cannot
		// hold the probe past its deadline.
		done := make(chan error, 1)
		go func() {
			_, err := a.m.Store().Get(ctx, readyProbeID)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = store.ErrUnavailable
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.logger.WarnContext(ctx, "not ready: the session store failed", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
