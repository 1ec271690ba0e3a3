package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/redisstore"
)

// Environment of the cache child: one app instance with store/cachestore
// in front of a shared store, behind a small HTTP API.
const (
	envCacheChild    = "REVOKE_CACHE_CHILD"    // "1" in the child
	envCacheBackend  = "REVOKE_CACHE_BACKEND"  // "postgres" or "redis"
	envCacheTarget   = "REVOKE_CACHE_TARGET"   // the PostgreSQL DSN or the Redis URL
	envCacheSchema   = "REVOKE_CACHE_SCHEMA"   // the PostgreSQL schema, or the Redis key prefix
	envCacheInstance = "REVOKE_CACHE_INSTANCE" // cachestore.WithInstance
	envCacheLease    = "REVOKE_CACHE_LEASE"    // cachestore.WithLease
)

// childCallTimeout bounds each store call of a child: a store that is
// being restarted is an error soon, not a request that hangs.
const childCallTimeout = 2 * time.Second

// childReconnectDelay is how soon a PostgreSQL listener connects again
// after its connection broke (pgstore's default is a second): about when
// a Redis listener does, so that both spend as little of a run as they
// can resolving from the store.
const childReconnectDelay = 100 * time.Millisecond

// The answers of the child's GET /resolve.
const (
	answerActive   = "active"
	answerRevoked  = "revoked"
	answerUnknown  = "unknown"  // store.ErrNotFound
	answerInactive = "inactive" // expired, and not revoked
	answerError    = "error"    // followed by the error
)

// TestCacheChild is the child process of TestCacheAcrossProcesses; run
// directly it is skipped.
func TestCacheChild(t *testing.T) {
	if os.Getenv(envCacheChild) != "1" {
		t.Skip("the child process of TestCacheAcrossProcesses")
	}
	if err := runCacheChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cache child:", err)
		os.Exit(2)
	}
}

// openShared opens the shared store the way every process of the test
// does, without a cache.
func openShared(ctx context.Context, backend, target, schema string) (store.SessionStore, error) {
	switch backend {
	case "postgres":
		return pgstore.Open(ctx, target, pgstore.WithSchema(schema), pgstore.WithCleanupInterval(0),
			pgstore.WithCallTimeout(childCallTimeout), pgstore.WithReconnectDelay(childReconnectDelay))
	case "redis":
		return redisstore.Open(ctx, target, redisstore.WithPrefix(schema), redisstore.WithCleanupInterval(0),
			redisstore.WithCallTimeout(childCallTimeout))
	}
	return nil, fmt.Errorf("unknown backend %q", backend)
}

// runCacheChild opens the shared store named by the environment, puts a
// cache in front of it, serves the API on a loopback port, writes
// "ADDR <host:port>" and runs until its input closes.
func runCacheChild(in io.Reader, out io.Writer) error {
	ctx := context.Background()
	lease, err := time.ParseDuration(os.Getenv(envCacheLease))
	if err != nil {
		return fmt.Errorf("%s: %w", envCacheLease, err)
	}
	st, err := openShared(ctx, os.Getenv(envCacheBackend), os.Getenv(envCacheTarget), os.Getenv(envCacheSchema))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cachestore.New(st, cachestore.WithLease(lease),
		cachestore.WithInstance(os.Getenv(envCacheInstance)), cachestore.WithLogger(logger))
	if err != nil {
		return errors.Join(err, st.Close())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errors.Join(err, c.Close())
	}
	srv := &http.Server{Handler: cacheAPI(c), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(out, "ADDR %s\n", ln.Addr()); err != nil {
		return errors.Join(err, srv.Close(), c.Close())
	}
	_, _ = io.Copy(io.Discard, in)
	err = srv.Close()
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, c.Close())
}

// cacheAPI is what the parent asks of a child:
//
//	GET  /resolve?hash=<hex>     the session of a token hash: active, revoked, unknown, inactive or "error <text>"
//	POST /revoke?user=&id=       revokes one session; "<revoked> <microseconds the call took>" once Revoke returned
//	GET  /stats                  the cache's cachestore.Stats, as JSON
func cacheAPI(c *cachestore.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /resolve", func(w http.ResponseWriter, r *http.Request) {
		var hash [sha256.Size]byte
		b, err := hex.DecodeString(r.URL.Query().Get("hash"))
		if err != nil || len(b) != len(hash) {
			http.Error(w, "bad hash", http.StatusBadRequest)
			return
		}
		copy(hash[:], b)
		s, err := c.GetByTokenHash(r.Context(), hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, _ = io.WriteString(w, answerUnknown)
		case err != nil:
			_, _ = io.WriteString(w, answerError+" "+err.Error())
		case s.Revoked():
			_, _ = io.WriteString(w, answerRevoked)
		case s.Active(time.Now()):
			_, _ = io.WriteString(w, answerActive)
		default:
			_, _ = io.WriteString(w, answerInactive)
		}
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		began := time.Now()
		ids, err := c.Revoke(r.Context(), store.Selection{UserID: q.Get("user"), SessionID: q.Get("id")}, began, "reliability")
		took := time.Since(began)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d %d", len(ids), took.Microseconds())
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Stats())
	})
	return mux
}
