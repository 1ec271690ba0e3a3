package revoke_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// TestMaxSessionsEvictsOverHTTP: with a cap of 2, a third sign-in over HTTP
// revokes the session seen least recently, whose token is then refused,
// and the OnRevoke hook hears of it as the system's session_limit.
func TestMaxSessionsEvictsOverHTTP(t *testing.T) {
	is := is.New(t)
	clock := time.Now()
	var (
		mu     sync.Mutex
		events []revoke.Event
	)
	m, _ := newManager(t,
		revoke.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Second); return clock }),
		revoke.WithTouchInterval(0),
		revoke.WithMaxSessions(2, revoke.EvictLeastRecentlySeen),
		revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}))
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	login := func() string {
		code, token, _ := do(t, http.DefaultClient, "POST", srv.URL+"/login?user=alice", nil)
		is.Equal(code, 200)
		return token
	}
	whoami := func(token string) int {
		code, _, _ := do(t, http.DefaultClient, "GET", srv.URL+"/whoami", http.Header{"X-Session-Token": {token}})
		return code
	}
	first, second := login(), login()
	is.Equal(whoami(first), 200) // first is now seen more recently than second
	third := login()
	is.Equal(whoami(second), 401)
	is.Equal(whoami(first), 200)
	is.Equal(whoami(third), 200)

	mu.Lock()
	defer mu.Unlock()
	is.Equal(len(events), 1)
	is.Equal(events[0].Actor, revoke.ActorSystem)
	is.Equal(events[0].Reason, revoke.ReasonSessionLimit)
	is.Equal(events[0].UserID, "alice")
	is.Equal(len(events[0].SessionIDs), 1)
}

// TestMaxSessionsRefusesOverHTTP: under RefuseNewLogin the sign-in beyond
// the cap fails with ErrSessionLimit, which the app answers clearly, and
// the sessions already there stay.
func TestMaxSessionsRefusesOverHTTP(t *testing.T) {
	is := is.New(t)
	m, st := newManager(t, revoke.WithMaxSessions(2, revoke.RefuseNewLogin))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_, _, err := m.Login(w, r, "alice")
		switch {
		case errors.Is(err, revoke.ErrSessionLimit):
			http.Error(w, "too many sessions: sign out of one first", http.StatusConflict)
		case err != nil:
			http.Error(w, "sign-in failed", http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()
	for _, want := range []int{200, 200, 409} {
		code, _, _ := do(t, http.DefaultClient, "POST", srv.URL+"/login", nil)
		is.Equal(code, want)
	}
	p, err := st.ListPage(t.Context(), "alice", store.PageQuery{Limit: 10, Now: time.Now()})
	is.NoErr(err)
	is.Equal(len(p.Sessions), 2)
}

func TestWithMaxSessionsRefusesBadValues(t *testing.T) {
	for _, opt := range []revoke.Option{
		revoke.WithMaxSessions(0, revoke.EvictLeastRecentlySeen),
		revoke.WithMaxSessions(3, 0),
	} {
		st := &unlimitedStore{}
		if _, err := revoke.New(st, opt); err == nil {
			t.Error("New accepted a bad WithMaxSessions")
		}
	}
	if _, err := revoke.New(&unlimitedStore{}, revoke.WithMaxSessions(3, revoke.RefuseNewLogin)); err == nil {
		t.Error("New accepted WithMaxSessions on a store without limits")
	}
}

// unlimitedStore is a SessionStore that cannot cap sessions.
type unlimitedStore struct{ store.SessionStore }
