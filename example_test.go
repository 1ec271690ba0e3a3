package revoke_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// A Manager wraps an app's routes; a login sets the session cookie and also
// returns a token for clients that send X-Session-Token instead.
func ExampleManager_Middleware() {
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys([]byte("a-32-byte-or-longer-hash-key-..."), nil))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// Check the user's credentials first; then:
		_, token, err := m.Login(w, r, "alice")
		if err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, token)
	})
	mux.Handle("GET /me", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context()) // RequireSession lets only sessions in
		fmt.Fprintf(w, "%s (%s)", cur.UserID, cur.Source)
	})))
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	token := get(http.MethodPost, srv.URL+"/login", "")
	fmt.Println(get(http.MethodGet, srv.URL+"/me", token))
	// Output: alice (header)
}

// get sends a request, with an X-Session-Token when token is not empty, and
// returns the body of the response.
func get(method, url, token string) string {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	if token != "" {
		req.Header.Set(revoke.HeaderName, token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		log.Fatal(err)
	}
	return string(body)
}

// HTML pages send a visitor without a session to the sign-in form, which
// sends them back where they were going once signed in.
func ExampleManager_RedirectToLogin() {
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	pages := m.RedirectToLogin("/login")
	account := pages(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "your account")
	}))

	w := httptest.NewRecorder()
	m.Middleware(account).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/account?tab=2", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))

	// In the sign-in handler, after m.Login: only a path on this site.
	fmt.Println(revoke.SafeNext("/account?tab=2"), revoke.SafeNext("https://evil.example/"))
	// Output:
	// 303 /login?next=%2Faccount%3Ftab%3D2
	// /account?tab=2 /
}

// Signing a user out everywhere takes effect on the very next request.
func ExampleManager_RevokeAll() {
	ctx := context.Background()
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	_, phone, err := m.Create(ctx, "alice", revoke.Device{UserAgent: "phone"})
	if err != nil {
		log.Fatal(err)
	}

	cause := revoke.Cause{Actor: revoke.AdminActor("ops"), Reason: "password reset"}
	n, err := m.RevokeAll(ctx, "alice", cause)
	if err != nil {
		log.Fatal(err)
	}
	_, err = m.Resolve(ctx, phone)
	fmt.Println(n, err)
	// Output: 1 revoke: session revoked
}

// "Sign out everywhere else" keeps the current session.
func ExampleManager_RevokeOthers() {
	ctx := context.Background()
	m, err := revoke.New(memstore.New())
	if err != nil {
		log.Fatal(err)
	}
	var current revoke.Session
	var token string
	for range 3 {
		if current, token, err = m.Create(ctx, "alice", revoke.Device{}); err != nil {
			log.Fatal(err)
		}
	}

	cause := revoke.Cause{Actor: revoke.UserActor("alice"), Reason: revoke.ReasonSignOutOthers}
	n, err := m.RevokeOthers(ctx, "alice", current.ID, cause)
	if err != nil {
		log.Fatal(err)
	}
	_, err = m.Resolve(ctx, token)
	fmt.Println(n, err)
	// Output: 2 <nil>
}

// Hooks see every revocation, for an audit log.
func ExampleOnRevoke() {
	ctx := context.Background()
	m, err := revoke.New(memstore.New(), revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
		fmt.Printf("%s revoked %d session(s) of %s: %s\n", ev.Actor, len(ev.SessionIDs), ev.UserID, ev.Reason)
	}))
	if err != nil {
		log.Fatal(err)
	}
	s, _, err := m.Create(ctx, "bob", revoke.Device{})
	if err != nil {
		log.Fatal(err)
	}
	cause := revoke.Cause{Actor: revoke.AdminActor("carol"), Reason: "stolen laptop"}
	if _, err := m.RevokeSession(ctx, "bob", s.ID, cause); err != nil {
		log.Fatal(err)
	}
	// Output: admin:carol revoked 1 session(s) of bob: stolen laptop
}
