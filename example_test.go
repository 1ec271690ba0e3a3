package revoke_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// A Manager wraps an app's routes; a login sets the session cookie and also
// returns a token for clients that send X-Session-Token instead.
func ExampleManager_Middleware() {
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys([]byte("a-32-byte-or-longer-hash-key-...")))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// Check the user's credentials first; then:
		_, token, err := m.Login(w, r, "alice")
		if err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, token)
	})
	mux.Handle("GET /me", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		fmt.Fprintf(w, "%s (%s)", cur.UserID, cur.Source)
	})))
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	res, _ := http.Post(srv.URL+"/login", "", nil)
	token, _ := io.ReadAll(res.Body)
	res.Body.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	req.Header.Set(revoke.HeaderName, string(token))
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output: 200 alice (header)
}

// Signing a user out everywhere takes effect on the very next request.
func ExampleManager_RevokeAll() {
	ctx := context.Background()
	m, _ := revoke.New(memstore.New())
	_, phone, _ := m.Create(ctx, "alice", revoke.Device{UserAgent: "phone"})
	_, laptop, _ := m.Create(ctx, "alice", revoke.Device{UserAgent: "laptop"})

	n, err := m.RevokeAll(ctx, "alice", revoke.Cause{Actor: "admin:ops", Reason: "password reset"})
	fmt.Println(n, err)
	_, err = m.Resolve(ctx, phone)
	fmt.Println(err)
	_, err = m.Resolve(ctx, laptop)
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// revoke: session revoked
	// revoke: session revoked
}

// "Sign out of other devices" keeps the current session.
func ExampleManager_RevokeOthers() {
	ctx := context.Background()
	m, _ := revoke.New(memstore.New())
	current, token, _ := m.Create(ctx, "alice", revoke.Device{})
	_, _, _ = m.Create(ctx, "alice", revoke.Device{})
	_, _, _ = m.Create(ctx, "alice", revoke.Device{})

	n, _ := m.RevokeOthers(ctx, "alice", current.ID, revoke.Cause{Actor: "alice", Reason: revoke.ReasonSignOutOthers})
	_, err := m.Resolve(ctx, token)
	fmt.Println(n, err)
	// Output: 2 <nil>
}

// Hooks see every revocation, for an audit log.
func ExampleOnRevoke() {
	ctx := context.Background()
	m, _ := revoke.New(memstore.New(), revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
		fmt.Printf("%s revoked %d session(s) of %s: %s\n", ev.Actor, len(ev.SessionIDs), ev.UserID, ev.Reason)
	}))
	s, _, _ := m.Create(ctx, "bob", revoke.Device{})
	_, _ = m.RevokeSession(ctx, "bob", s.ID, revoke.Cause{Actor: "admin:carol", Reason: "stolen laptop"})
	// Output: admin:carol revoked 1 session(s) of bob: stolen laptop
}
