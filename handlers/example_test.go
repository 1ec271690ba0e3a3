package handlers_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// Mount every endpoint on the app's ServeMux, with a static admin API token
// (at least 16 characters, or New fails), and revoke all of a user's
// sessions the way Okta's SDKs do.
func Example() {
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	h, err := handlers.New(m,
		handlers.WithAdminTokens("an-admin-api-token-from-your-secrets"),
		// Users who are administrators may also use their session.
		handlers.WithAdminSessions(func(ctx context.Context, userID string) (bool, error) {
			return userID == "admin", nil
		}),
	)
	if err != nil {
		log.Fatal(err)
	}

	// The app's own routes live beside them, and only those need the
	// Manager's Middleware: the handlers resolve the session themselves.
	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the app's home page")
	})
	mux := http.NewServeMux()
	h.Mount(mux)
	mux.Handle("/", m.Middleware(app))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A user signs in somewhere.
	_, token, err := m.Create(context.Background(), "00ub0oNGTSWTBKOLGLNR", revoke.Device{})
	if err != nil {
		log.Fatal(err)
	}

	req, err := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/users/00ub0oNGTSWTBKOLGLNR/sessions", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS an-admin-api-token-from-your-secrets")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("revoke:", res.StatusCode)

	_, err = m.Resolve(context.Background(), token)
	fmt.Println("token:", err)
	// Output:
	// revoke: 204
	// token: revoke: session revoked
}
