package revoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// TestReauthenticated signs in with a password over HTTP, lets the sign-in
// grow old, steps up with a second factor and checks that the sensitive
// route opens, under a new token, with both methods recorded.
func TestReauthenticated(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	var logins []revoke.LoginEvent
	m, _ := newManager(t, revoke.WithClock(clk.Now), revoke.OnLogin(func(_ context.Context, ev revoke.LoginEvent) { logins = append(logins, ev) }))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_, _, err := m.Login(w, r, "alice",
			revoke.AuthenticatedWith(revoke.AuthMethod{Method: "password", AAL: revoke.AAL1}),
			revoke.Label("tenant", "acme"), revoke.Label("device", r.FormValue("device")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.Handle("POST /reauth", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Reauthenticated(w, r, revoke.AuthMethod{Method: "totp", AAL: revoke.AAL2}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})))
	mux.Handle("GET /me", m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"aal": cur.Assurance(), "methods": cur.AuthMethods, "labels": cur.Labels})
	})))
	mux.Handle("POST /sensitive", m.RequireFresh(5*time.Minute)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string) int {
		res, err := c.Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader("device=Alice's laptop"))
		is.NoErr(err)
		res.Body.Close()
		return res.StatusCode
	}
	me := func() (out struct {
		AAL     string              `json:"aal"`
		Methods []revoke.AuthMethod `json:"methods"`
		Labels  map[string]string   `json:"labels"`
	}) {
		res, err := c.Get(srv.URL + "/me")
		is.NoErr(err)
		defer res.Body.Close()
		is.Equal(res.StatusCode, 200)
		is.NoErr(json.NewDecoder(res.Body).Decode(&out))
		return out
	}

	is.Equal(post("/login"), 200)
	signedIn := clk.Now()
	got := me()
	is.Equal(got.AAL, revoke.AAL1)
	is.Equal(len(got.Methods), 1)
	is.Equal(got.Methods[0].Method, "password")
	is.True(got.Methods[0].CompletedAt.Equal(signedIn))
	is.Equal(got.Labels, map[string]string{"tenant": "acme", "device": "Alice's laptop"})
	is.Equal(len(logins), 1)
	is.Equal(logins[0].Session.Labels["tenant"], "acme") // the login hook has them too

	clk.Advance(10 * time.Minute)
	is.Equal(post("/sensitive"), http.StatusUnauthorized)
	u, _ := url.Parse(srv.URL)
	old := jar.Cookies(u)
	is.Equal(post("/reauth"), 200)
	is.Equal(post("/sensitive"), 200) // fresh again
	got = me()
	is.Equal(got.AAL, revoke.AAL2)
	is.Equal(len(got.Methods), 2)
	is.Equal(got.Methods[1].Method, "totp")
	is.True(got.Methods[1].CompletedAt.Equal(clk.Now()))
	is.Equal(got.Labels["tenant"], "acme") // kept

	// The token from before the step-up no longer works.
	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	for _, ck := range old {
		req.AddCookie(ck)
	}
	res, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusUnauthorized)
}

// TestReauthenticatedKeepsMethodsBounded: repeated step-ups keep the most
// recent store.MaxMethods methods.
func TestReauthenticatedKeepsMethodsBounded(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	m, st := newManager(t, revoke.WithClock(clk.Now))
	c, _ := loginCookie(t, m, "alice")
	for range store.MaxMethods + 2 {
		clk.Advance(time.Second)
		w := httptest.NewRecorder()
		_, err := m.Reauthenticated(w, withCookie(c), revoke.AuthMethod{Method: "password", AAL: revoke.AAL1})
		is.NoErr(err)
		for _, ck := range w.Result().Cookies() {
			if ck.Name == m.CookieName() {
				c = ck
			}
		}
	}
	list, err := st.List(context.Background(), "alice")
	is.NoErr(err)
	is.Equal(len(list[0].AuthMethods), store.MaxMethods)
	is.True(list[0].AuthMethods[store.MaxMethods-1].CompletedAt.Equal(clk.Now()))
	is.True(list[0].AuthenticatedAt.Equal(clk.Now()))

	_, err = m.Reauthenticated(httptest.NewRecorder(), withCookie(c))
	is.True(err != nil) // no method
	_, err = m.Reauthenticated(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), revoke.AuthMethod{Method: "password", AAL: revoke.AAL1})
	is.True(errors.Is(err, revoke.ErrNoSession))
}

// sessionsOnly hides every extension of the store it wraps, as a backend
// that keeps no sign-in details would.
type sessionsOnly struct{ store.SessionStore }

func TestSignInDetailsRefused(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	m, err := revoke.New(st)
	is.NoErr(err)
	for name, opt := range map[string]revoke.LoginOption{
		"label too long": revoke.Label("device", strings.Repeat("x", store.MaxLabelValue+1)),
		"bad label key":  revoke.Label("Device Name", "x"),
		"bad level":      revoke.AuthenticatedWith(revoke.AuthMethod{Method: "password", AAL: "high"}),
		"future method":  revoke.AuthenticatedWith(revoke.AuthMethod{Method: "password", AAL: revoke.AAL1, CompletedAt: time.Now().Add(time.Hour)}),
		"no method":      revoke.AuthenticatedWith(),
	} {
		if _, _, err := m.Create(context.Background(), "alice", revoke.Device{}, opt); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
	}
	_, _, err = m.Create(context.Background(), "alice", revoke.Device{}, revoke.Label("a", "1"), revoke.Label("a", "2"))
	is.True(err != nil)   // a label given twice
	is.Equal(st.Len(), 0) // nothing was stored

	plain, err := revoke.New(sessionsOnly{st})
	is.NoErr(err)
	_, _, err = plain.Create(context.Background(), "alice", revoke.Device{}, revoke.Label("tenant", "acme"))
	is.True(errors.Is(err, store.ErrUnsupported))
	is.Equal(st.Len(), 0)
}
