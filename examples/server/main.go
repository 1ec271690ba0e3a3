// Command server is the revoke demo: a small web app with demo users, an
// "Active sessions" page and every endpoint of the handlers package, on
// SQLite by default.
//
//	go run ./examples/server                 # http://127.0.0.1:8080, revoke-demo.db
//	go run ./examples/server -memory         # nothing written to disk
//	go run ./examples/server -addr 127.0.0.1:9000 -db /tmp/demo.db
//	go run ./examples/server -tls            # https://127.0.0.1:8080, self-signed
//
// Sign in as alice, bob or carol (regular users) or admin, with the password
// in REVOKE_DEMO_PASSWORD (default "demo"). The admin API token is
// REVOKE_ADMIN_TOKEN, or a random one shown at start-up when stdout is a
// terminal (never in the log, which may be kept or shipped). REVOKE_COOKIE_KEY
// (hex or base64, at least 32 bytes) keeps session cookies valid across
// restarts.
//
// -tls serves HTTPS, with a certificate generated at start-up for the
// loopback names (written to a file, its path and how to trust it printed)
// or with -tls-cert and -tls-key. Over HTTPS the session cookie is Secure.
// Over plain HTTP it is not, unless -secure-cookie is given (for HTTPS that
// ends in a proxy in front of the demo): a Secure cookie is not sent back
// over HTTP by every client.
//
// While the password is the default, the demo listens on loopback only and
// answers only requests whose Host is that address or localhost, so that a
// page at another origin that resolves to 127.0.0.1 (DNS rebinding) cannot
// use the public password through a visitor's browser.
//
// -caep-issuer makes the demo a CAEP transmitter: every revocation is
// recorded in the store's outbox in its own write and pushed, as signed
// session-revoked SETs, to -caep-push-url; the key's JWKS is at GET
// /.well-known/jwks.json. -caep-audience (with -caep-transmitter and
// -caep-transmitter-jwks) makes it a receiver at POST /auth/ssf/events, and
// lets POST /login name the transmitter session a sign-in belongs to
// ("transmitterSession"), which such an event then ends.
//
// -metrics-addr serves the library's OpenTelemetry metrics at /metrics in
// Prometheus's format, on loopback unless -metrics-public is given. GET
// /healthz answers while the process serves; GET /readyz while the session
// store answers too, within 2 seconds.
//
// Routes: POST /login, POST /logout, GET /me, the "Active sessions" page at
// GET /, the administrators' GET /demo/users and GET /demo/audit, and every
// endpoint of the handlers package at its default path. POST /login allows,
// per minute, 10 failed attempts for one username from one address, 50
// failed attempts from one address, and 300 attempts in all from one
// address; no limit is shared between addresses, so guessing from one
// address locks no one out elsewhere. The other routes of the demo allow 600
// requests a minute per session (or per address without one) and 6000 per
// address. The demo's own routes answer with Okta's X-Rate-Limit-Limit,
// -Remaining and -Reset headers, as its Okta routes do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/revokehq/revoke/store"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// once a stop signal has arrived.
const shutdownTimeout = 10 * time.Second

// maxHeaderBytes bounds a request's headers, in place of net/http's 1 MiB:
// every connection that sends half a header holds what it sent until
// ReadHeaderTimeout, so the default let 100 of them take 100 MiB. The demo's
// clients send a cookie or a token and a few short headers; 16 KiB is what
// Node's HTTP server allows too.
const maxHeaderBytes = 16 << 10

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run starts the demo and serves until ctx is done, then shuts down
// gracefully. It reads its flags from args and its settings from getenv,
// and writes its log to stdout, so that tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: the usage has been printed
	}
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))

	// Before the store, whose cache (-cache) records into it too.
	stopMetrics, err := cfg.metrics.start(ctx, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	err = serve(ctx, cfg, st, logger, stdout)
	if cerr := st.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close the session store: %w", cerr)
	}
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// serve runs the app on st until ctx is done, then lets in-flight requests
// finish.
func serve(ctx context.Context, cfg config, st store.SessionStore, logger *slog.Logger, stdout io.Writer) error {
	a, err := newApp(cfg, st, logger)
	if err != nil {
		return err
	}
	cfg.announce(logger, stdout, isTerminal(stdout))
	// The outbox is delivered until the server has shut down, and the
	// store is closed only after that.
	sctx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	a.caep.start(sctx)
	defer a.caep.wait()
	defer stopSender()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	listen := ln.Addr().(*net.TCPAddr)
	var h http.Handler = a
	if cfg.defaultPassword {
		h = requireHost(a, listen.IP)
		logger.Info("default password in use: answering only requests for " + hostForURL(listen.IP) + " and localhost")
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.serveTLS() {
		tc, cleanup, err := cfg.tlsConfig(listen.IP, strconv.Itoa(listen.Port), logger, stdout)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer cleanup()
		srv.TLSConfig, scheme = tc, "https"
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+"/", "store", cfg.storeName())

	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	// ctx is already done: the shutdown gets a fresh deadline of its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed, now that Shutdown has returned
	return nil
}
