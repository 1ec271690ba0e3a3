// Command chi runs revoke on a github.com/go-chi/chi/v5 router: every path
// under the handlers package's prefixes handed to its Handler, and the app's
// own routes in a group behind the Manager's Middleware. It is a module of
// its own, so that chi stays out of the library's go.mod.
//
//	cd examples/chi && go run .   # http://127.0.0.1:8084, any user, password "secret"
package main

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

func main() {
	// In memory, with a random cookie key: see the quick start for a store
	// and keys that outlive the process.
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	adminToken := rand.Text()
	r, err := newRouter(m, adminToken)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://127.0.0.1:8084 (admin API token %s)", adminToken)
	log.Fatal(http.ListenAndServe("127.0.0.1:8084", r))
}

// newRouter returns the app on a chi router.
func newRouter(m *revoke.Manager, adminToken string) (http.Handler, error) {
	h, err := handlers.New(m, handlers.WithAdminTokens(adminToken))
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()

	// Every path under the handlers' prefixes: chi hands the request on,
	// and the handlers' own ServeMux picks the endpoint, or answers in the
	// family's shape (405, a 404 under the prefix, an empty id, Okta's
	// trailing slash). The app's own routes under a prefix still win.
	api := h.Handler()
	for _, p := range h.Prefixes() {
		r.Handle(p+"*", api)
	}

	// The app's routes: sessions resolved, cross-site form posts refused.
	r.Group(func(r chi.Router) {
		r.Use(http.NewCrossOriginProtection().Handler, m.Middleware)
		r.Post("/login", login(m))
		r.With(m.RedirectToLogin("/login")).Get("/", home)
		r.With(m.RequireSession).Delete("/api/sessions/{id}", revokeSession(m))
	})
	return r, nil
}

func login(m *revoke.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		checked := m.Now()
		user := r.PostFormValue("user")
		if user == "" || subtle.ConstantTimeCompare([]byte(r.PostFormValue("password")), []byte("secret")) != 1 {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		if _, _, err := m.Login(w, r, user, revoke.AuthenticatedAt(checked)); err != nil {
			http.Error(w, "sign in again", http.StatusConflict)
			return
		}
		http.Redirect(w, r, revoke.SafeNext(r.PostFormValue("next")), http.StatusSeeOther)
	}
}

func home(w http.ResponseWriter, r *http.Request) {
	cur, _ := revoke.FromContext(r.Context()) // RedirectToLogin lets only sessions in
	fmt.Fprintf(w, "hello %s, session %s\n", cur.UserID, cur.ID)
}

// revokeSession ends one of the caller's sessions; chi fills r.PathValue
// from {id} as net/http's ServeMux does.
func revokeSession(m *revoke.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context()) // RequireSession lets only sessions in
		cause := revoke.Cause{Actor: revoke.UserActor(cur.UserID), Reason: revoke.ReasonUserRevoked}
		_, err := m.RevokeSession(r.Context(), cur.UserID, r.PathValue("id"), cause)
		if errors.Is(err, revoke.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "something went wrong", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
