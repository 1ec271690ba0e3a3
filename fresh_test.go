package revoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
)

func TestRequireFresh(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	m, _ := newManager(t, revoke.WithClock(clk.Now))
	srv := httptest.NewServer(m.Middleware(m.RequireFresh(5 * time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("done"))
	}))))
	defer srv.Close()
	c, _ := loginCookie(t, m, "alice")
	call := func(withCookie bool) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/delete-account", nil)
		if withCookie {
			req.AddCookie(c)
		}
		res, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		return res
	}
	res := call(true)
	res.Body.Close()
	is.Equal(res.StatusCode, 200) // just signed in

	clk.Advance(6 * time.Minute)
	res = call(true)
	is.Equal(res.StatusCode, http.StatusUnauthorized)
	is.Equal(res.Header.Get("WWW-Authenticate"),
		`Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=300`)
	var body struct {
		Error  string `json:"error"`
		MaxAge int    `json:"max_age"`
	}
	is.NoErr(json.NewDecoder(res.Body).Decode(&body))
	res.Body.Close()
	is.Equal(body.Error, "insufficient_user_authentication")
	is.Equal(body.MaxAge, 300)

	res = call(false)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusUnauthorized) // anonymous: RequireSession's answer
	is.Equal(res.Header.Get("WWW-Authenticate"), "")
}

// TestPasswordChanged: one call ends every other session, renews the
// current one, refuses a sign-in that checked the old password before it,
// and tells the audit hook once.
func TestPasswordChanged(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	var events []revoke.Event
	m, st := newManager(t, revoke.WithClock(clk.Now), revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { events = append(events, ev) }))
	current, _ := loginCookie(t, m, "alice")
	_, phone, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)
	checkedOld := m.Now() // a sign-in elsewhere checks the old password now
	clk.Advance(time.Second)

	w := httptest.NewRecorder()
	r := withCookie(current)
	cur, err := m.ResolveRequest(nil, r)
	is.NoErr(err)
	token, n, err := m.PasswordChanged(w, r)
	is.NoErr(err)
	is.Equal(n, 1)
	_, err = m.Resolve(context.Background(), phone)
	is.Equal(err, revoke.ErrRevoked)
	s, err := m.Resolve(context.Background(), token)
	is.NoErr(err) // the current session goes on, under a new token
	is.Equal(s.ID, cur.ID)
	is.True(s.ExpiresAt.Equal(cur.ExpiresAt)) // with its lifetime
	_, ok, _, _ := whoami(m, withCookie(current))
	is.True(!ok) // the old token is dead
	var renewed bool
	for _, c := range w.Result().Cookies() {
		renewed = renewed || (c.Name == m.CookieName() && c.MaxAge > 0)
	}
	is.True(renewed) // and the browser has the new one

	clk.Advance(time.Second)
	_, _, err = m.Create(context.Background(), "alice", revoke.Device{}, revoke.AuthenticatedAt(checkedOld))
	is.True(errors.Is(err, revoke.ErrNotBefore))
	is.Equal(len(events), 1)
	is.Equal(events[0].Reason, revoke.ReasonPasswordChanged)
	list, err := st.List(context.Background(), "alice")
	is.NoErr(err)
	is.Equal(len(list), 2) // nothing else was created
}
