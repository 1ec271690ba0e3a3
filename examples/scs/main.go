// Command scs is a typical github.com/alexedwards/scs/v2 application that
// gained revocation: "sign out everywhere" for users and session revocation
// for administrators. Compared with the app it was, the line that sets the
// scs store changed, and a Manager, the mounted handlers and a BindUser call
// at sign-in were added.
//
//	go run ./examples/scs -addr 127.0.0.1:8082
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	db := flag.String("db", "scs-demo.db", "SQLite database file")
	flag.Parse()

	adminToken := os.Getenv("REVOKE_ADMIN_TOKEN")
	if adminToken == "" {
		adminToken = rand.Text()
		fmt.Println("admin API token:", adminToken)
	}
	st, err := sqlitestore.Open(*db)
	if err != nil {
		slog.Error("open store", "err", err)
		os.Exit(1)
	}
	defer st.Close()
	app, err := newApp(st, adminToken)
	if err != nil {
		slog.Error("start", "err", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("listening", "addr", "http://"+*addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", err)
	}
}

// newApp wires the app. Everything but the marked lines is what an scs app
// already has.
func newApp(st store.DataStore, adminToken string) (http.Handler, error) {
	sm := scs.New()
	sm.Lifetime = 24 * time.Hour
	sm.IdleTimeout = 2 * time.Hour
	sm.HashTokenInStore = true

	// Changed line 1: the scs store is backed by a revoke store, which
	// indexes each session by the user id the app puts under "userID".
	scsStore, err := scsstore.New(st, scsstore.WithUserKey("userID"), scsstore.WithHashedTokens())
	if err != nil {
		return nil, err
	}
	sm.Store = scsStore

	// The Manager resolves scs's cookie and keeps scs's timeouts.
	m, err := revoke.New(st, scsstore.ManagerOptions(sm)...)
	if err != nil {
		return nil, err
	}
	h, err := handlers.New(m,
		handlers.WithAdminTokens(adminToken), // at least 16 characters
		handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return users[id], nil }),
	)
	if err != nil {
		return nil, err
	}

	// Changed line 2: "sign out everywhere", "sign out other devices" and
	// the admin API, on a mux of their own in front of the app's routes.
	root := http.NewServeMux()
	h.Mount(root)
	root.Handle("/", routes(sm))
	return sm.LoadAndSave(root), nil
}

// routes are the app's own routes, as they were, but for one added line.
func routes(sm *scs.SessionManager) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if !users[user] { // a real app checks a password here
			http.Error(w, "unknown user", http.StatusUnauthorized)
			return
		}
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "userID", user)
		// Added: the sign-in counts from now, so that a "sign out
		// everywhere" before the end of this request refuses it.
		scsstore.BindUser(r.Context(), sm, user)
		fmt.Fprintf(w, "signed in as %s\n", user)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		user := sm.GetString(r.Context(), "userID")
		if user == "" {
			fmt.Fprintln(w, "not signed in")
			return
		}
		fmt.Fprintf(w, "hello, %s\n", user)
	})
	return mux
}

// users stands in for the app's user table.
var users = map[string]bool{"alice": true, "bob": true}
