// Command minimal is the smallest app that gains revocation: a Manager on a
// store, its Middleware around the app's routes, and the revocation
// endpoints mounted beside them.
//
//	go run ./examples/minimal
//	T=$(curl -s -d user=alice -d password=secret http://127.0.0.1:8081/login)
//	curl -H "X-Session-Token: $T" http://127.0.0.1:8081/              # hello alice
//	curl -X DELETE -H "X-Session-Token: $T" http://127.0.0.1:8081/auth/sessions
//
// The session cookie keeps its default attributes, Secure among them, so
// browsers send it over HTTPS only; clients such as curl send the token in
// the X-Session-Token header instead.
package main

import (
	"crypto/subtle"
	"fmt"
	"log"
	"net/http"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

func main() {
	srv, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	log.Print("listening on http://127.0.0.1:8081")
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", srv))
}

// newServer returns the whole app. Swap memstore.New() for
// sqlitestore.Open("app.db") to keep sessions across restarts.
func newServer() (http.Handler, error) {
	m, err := revoke.New(memstore.New())
	if err != nil {
		return nil, err
	}
	h, err := handlers.New(m)
	if err != nil {
		return nil, err
	}

	app := http.NewServeMux()
	app.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if !checkPassword(user, r.FormValue("password")) {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		_, token, err := m.Login(w, r, user)
		if err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, token)
	})
	app.Handle("GET /{$}", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s\n", cur.UserID)
	})))

	mux := http.NewServeMux()
	h.Mount(mux) // the revocation endpoints resolve sessions themselves
	mux.Handle("/", http.NewCrossOriginProtection().Handler(m.Middleware(app)))
	return mux, nil
}

// checkPassword stands in for the app's own credential check.
func checkPassword(user, password string) bool {
	return user != "" && subtle.ConstantTimeCompare([]byte(password), []byte("secret")) == 1
}
