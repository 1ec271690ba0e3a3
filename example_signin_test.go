package revoke_test

import (
	"log"
	"net/http"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// Record how the user signed in, with a label the lists show; guard
// "sign out everywhere" behind a recent authentication, and let the user
// type the password again to pass it.
func ExampleManager_Reauthenticated() {
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	password := revoke.AuthMethod{Method: "password", AAL: revoke.AAL1}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password of r.FormValue("user") first
		_, _, err := m.Login(w, r, r.FormValue("user"),
			revoke.AuthenticatedWith(password),
			revoke.Label("device", r.FormValue("device_name")))
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusBadRequest)
		}
	})
	mux.Handle("POST /reauthenticate", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ... check the password again first
		if _, err := m.Reauthenticated(w, r, password); err != nil {
			http.Error(w, "try again", http.StatusUnauthorized)
		}
	})))
	mux.Handle("POST /sign-out-everywhere", m.RequireFresh(5*time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ... m.RevokeAll
	})))
	_ = m.Middleware(mux)
}
