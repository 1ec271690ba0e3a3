// Command quickstart is the app of the README's quick start: a sign-in form,
// a "your sessions" page on which users end any of their sessions or all the
// others, an administrator's "sign this user out everywhere", and the
// revocation API of the handlers package, on SQLite.
//
//	export SESSION_HASH_KEY=$(openssl rand -hex 32) SESSION_BLOCK_KEY=$(openssl rand -hex 32)
//	export ADMIN_API_TOKEN=$(openssl rand -hex 24)
//	go run ./examples/quickstart      # http://127.0.0.1:8083
//
// Sign in as alice, bob or admin (an administrator), password "secret".
package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/sqlitestore"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	hashKey, err := keyFromEnv("SESSION_HASH_KEY") // signs the cookie (HMAC-SHA256)
	if err != nil {
		return err
	}
	blockKey, err := keyFromEnv("SESSION_BLOCK_KEY") // encrypts it (AES-256)
	if err != nil {
		return err
	}
	st, err := sqlitestore.Open("sessions.db")
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := revoke.New(st, revoke.WithCookieKeys(hashKey, blockKey))
	if err != nil {
		return err
	}
	srv, err := newServer(m, os.Getenv("ADMIN_API_TOKEN"))
	if err != nil {
		return err
	}
	log.Print("listening on http://127.0.0.1:8083")
	return http.ListenAndServe("127.0.0.1:8083", srv)
}

// keyFromEnv reads a 32-byte key, written in hex, from the environment
// variable name (make one with: openssl rand -hex 32).
func keyFromEnv(name string) ([]byte, error) {
	key, err := hex.DecodeString(os.Getenv(name))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s must hold 32 bytes in hex (64 digits): openssl rand -hex 32", name)
	}
	return key, nil
}

// newServer returns the whole app: the revocation API of the handlers
// package, and the app's pages behind the Manager's Middleware.
func newServer(m *revoke.Manager, adminToken string) (http.Handler, error) {
	// handlers.New refuses an admin token shorter than 16 characters.
	h, err := handlers.New(m,
		handlers.WithAdminTokens(adminToken), // Authorization: SSWS or Bearer
		handlers.WithAdminSessions(func(_ context.Context, userID string) (bool, error) {
			return isAdmin(userID), nil // administrators may also use their session
		}),
		handlers.WithUserLookup(func(_ context.Context, userID string) (bool, error) {
			return knownUser(userID), nil // unknown users get the API's 404
		}),
	)
	if err != nil {
		return nil, err
	}
	a := &app{m: m}
	pages := m.RedirectToLogin("/login") // HTML pages; RequireSession answers 401 JSON, for APIs

	routes := http.NewServeMux()
	routes.HandleFunc("GET /login", a.loginForm)
	routes.HandleFunc("POST /login", a.login)
	routes.HandleFunc("POST /logout", a.logout)
	routes.Handle("GET /{$}", pages(http.HandlerFunc(a.sessionsPage)))
	routes.Handle("POST /sessions/{id}/revoke", pages(http.HandlerFunc(a.revokeSession)))
	routes.Handle("POST /sessions/revoke-others", pages(http.HandlerFunc(a.revokeOthers)))
	routes.Handle("POST /admin/sign-out-user", pages(http.HandlerFunc(a.signOutUser)))

	mux := http.NewServeMux()
	h.Mount(mux) // the handlers resolve sessions themselves
	// The app's routes: sessions resolved, cross-site form posts refused.
	mux.Handle("/", http.NewCrossOriginProtection().Handler(m.Middleware(routes)))
	return mux, nil
}
