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
)

type recorder struct {
	mu     sync.Mutex
	events []revoke.Event
	oauth  []string
	forgot []string
}

func (r *recorder) options() []revoke.Option {
	return []revoke.Option{
		revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}),
		revoke.WithOAuthTokenRevoker(func(_ context.Context, userID string) error {
			r.mu.Lock()
			r.oauth = append(r.oauth, userID)
			r.mu.Unlock()
			return nil
		}),
		revoke.WithDeviceForgetter(func(_ context.Context, userID string) error {
			r.mu.Lock()
			r.forgot = append(r.forgot, userID)
			r.mu.Unlock()
			return nil
		}),
	}
}

func createN(t *testing.T, m *revoke.Manager, userID string, n int) ([]revoke.Session, []string) {
	t.Helper()
	var (
		sessions []revoke.Session
		tokens   []string
	)
	for range n {
		s, tok, err := m.Create(context.Background(), userID, revoke.Device{})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
		tokens = append(tokens, tok)
	}
	return sessions, tokens
}

func active(m *revoke.Manager, tokens []string) int {
	n := 0
	for _, tok := range tokens {
		if _, err := m.Resolve(context.Background(), tok); err == nil {
			n++
		}
	}
	return n
}

func TestRevokeSession(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	rec := &recorder{}
	m, _ := newManager(t, append(rec.options(), revoke.WithClock(clk.Now))...)
	alice, aliceTokens := createN(t, m, "alice", 2)
	_, bobTokens := createN(t, m, "bob", 1)

	// Another user's session is "not found", and stays active.
	_, err := m.RevokeSession(ctx, "bob", alice[0].ID, revoke.Cause{Actor: "bob", Reason: "x"})
	is.True(errors.Is(err, revoke.ErrNotFound))
	_, err = m.RevokeSession(ctx, "alice", "no-such-session", revoke.Cause{})
	is.True(errors.Is(err, revoke.ErrNotFound))
	is.Equal(active(m, aliceTokens), 2)

	first := clk.Now()
	s, err := m.RevokeSession(ctx, "alice", alice[0].ID, revoke.Cause{Actor: "admin:root", Reason: "lost phone"})
	is.NoErr(err)
	is.True(s.RevokedAt.Equal(first))
	is.Equal(s.RevokeReason, "lost phone")
	is.Equal(active(m, aliceTokens), 1)
	is.Equal(active(m, bobTokens), 1)

	// Idempotent: the original time and reason stay.
	clk.Advance(time.Minute)
	s, err = m.RevokeSession(ctx, "alice", alice[0].ID, revoke.Cause{Actor: "admin:root", Reason: "again"})
	is.NoErr(err)
	is.True(s.RevokedAt.Equal(first))
	is.Equal(s.RevokeReason, "lost phone")

	// One event, for the call that revoked something.
	is.Equal(len(rec.events), 1)
	ev := rec.events[0]
	is.Equal(ev.Actor, "admin:root")
	is.Equal(ev.UserID, "alice")
	is.Equal(ev.SessionIDs, []string{alice[0].ID})
	is.Equal(ev.Reason, "lost phone")
	is.True(ev.At.Equal(first))
}

func TestRevokeOthersAndAll(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rec := &recorder{}
	m, _ := newManager(t, rec.options()...)
	alice, aliceTokens := createN(t, m, "alice", 5)
	_, bobTokens := createN(t, m, "bob", 3)

	n, err := m.RevokeOthers(ctx, "alice", alice[2].ID, revoke.Cause{Actor: "alice", Reason: revoke.ReasonSignOutOthers})
	is.NoErr(err)
	is.Equal(n, 4)
	_, err = m.Resolve(ctx, aliceTokens[2])
	is.NoErr(err) // the kept session survives
	is.Equal(active(m, aliceTokens), 1)

	n, err = m.RevokeOthers(ctx, "alice", alice[2].ID, revoke.Cause{})
	is.NoErr(err)
	is.Equal(n, 0) // nothing left to revoke

	n, err = m.RevokeAll(ctx, "alice", revoke.Cause{Actor: "admin", Reason: revoke.ReasonAdminRevoked})
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(active(m, aliceTokens), 0)
	is.Equal(active(m, bobTokens), 3) // other users untouched
	is.Equal(len(rec.oauth), 0)
	is.Equal(len(rec.forgot), 0)
	is.Equal(len(rec.events), 2)

	n, err = m.RevokeAll(ctx, "bob", revoke.Cause{Actor: "admin"}, revoke.AlsoOAuthTokens(), revoke.AlsoForgetDevices())
	is.NoErr(err)
	is.Equal(n, 3)
	is.Equal(rec.oauth, []string{"bob"})
	is.Equal(rec.forgot, []string{"bob"})
	last := rec.events[len(rec.events)-1]
	is.True(last.OAuthTokensRevoked)
	is.True(last.DevicesForgotten)
	is.Equal(len(last.SessionIDs), 3)
}

func TestRevokeAllWithoutOAuthRevokerRevokesNothing(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, _ := newManager(t)
	is.True(!m.HasOAuthTokenRevoker())
	_, tokens := createN(t, m, "alice", 2)
	n, err := m.RevokeAll(ctx, "alice", revoke.Cause{}, revoke.AlsoOAuthTokens())
	is.True(errors.Is(err, revoke.ErrNoOAuthTokenRevoker))
	is.Equal(n, 0)
	is.Equal(active(m, tokens), 2)

	// Without a device forgetter there is nothing to forget: not an error.
	is.True(!m.HasDeviceForgetter())
	n, err = m.RevokeAll(ctx, "alice", revoke.Cause{}, revoke.AlsoForgetDevices())
	is.NoErr(err)
	is.Equal(n, 2)

	m, _ = newManager(t, revoke.WithDeviceForgetter(func(context.Context, string) error { return nil }))
	is.True(m.HasDeviceForgetter())
}

// TestRevokeAllNilOptionRevokesNothing checks that a nil RevokeAllOption is
// an error, not a panic, and stops the call before any session is revoked.
func TestRevokeAllNilOptionRevokesNothing(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	_, tokens := createN(t, m, "alice", 2)
	n, err := m.RevokeAll(context.Background(), "alice", revoke.Cause{}, revoke.AlsoForgetDevices(), nil)
	is.True(err != nil)
	is.Equal(err.Error(), "revoke: RevokeAll: option 1 is nil")
	is.Equal(n, 0)
	is.Equal(active(m, tokens), 2)
}

func TestFailingHookStillRevokesSessions(t *testing.T) {
	is := is.New(t)
	failure := errors.New("idp unreachable")
	m, _ := newManager(t, revoke.WithOAuthTokenRevoker(func(context.Context, string) error { return failure }))
	_, tokens := createN(t, m, "alice", 2)
	n, err := m.RevokeAll(context.Background(), "alice", revoke.Cause{}, revoke.AlsoOAuthTokens())
	is.True(errors.Is(err, failure))
	is.True(errors.Is(err, revoke.ErrSessionsRevokedHookFailed))
	is.Equal(n, 2)
	is.Equal(active(m, tokens), 0)
}

func TestRenewAgainstFixation(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	oldCookie, _ := loginCookie(t, m, "alice")

	var newToken string
	w := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		newToken, err = m.Renew(w, r)
		is.NoErr(err)
	})).ServeHTTP(w, withCookie(oldCookie))
	var newCookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == m.CookieName() {
			newCookie = c
		}
	}
	is.True(newCookie != nil)

	_, ok, _, reason := whoami(m, withCookie(oldCookie))
	is.True(!ok) // the old token no longer works
	is.True(errors.Is(reason, revoke.ErrUnknownToken))
	cur, ok, _, _ := whoami(m, withCookie(newCookie))
	is.True(ok)
	is.Equal(cur.UserID, "alice")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(revoke.HeaderName, newToken)
	cur2, ok, _, _ := whoami(m, r)
	is.True(ok)
	is.Equal(cur2.ID, cur.ID) // same session, new token

	_, err := m.Renew(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	is.True(errors.Is(err, revoke.ErrNoSession))
}

func TestLogout(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	c, _ := loginCookie(t, m, "alice")
	w := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.NoErr(m.Logout(w, r))
	})).ServeHTTP(w, withCookie(c))
	is.True(expiresCookie(w, m.CookieName()))
	_, ok, _, reason := whoami(m, withCookie(c))
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrRevoked))
}

func TestConcurrentResolveAndRevoke(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, _ := newManager(t, revoke.WithTouchInterval(0))
	_, tokens := createN(t, m, "alice", 20)
	var (
		wg      sync.WaitGroup
		revoked = make(chan struct{})
		mu      sync.Mutex
		late    int
	)
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-revoked:
					// Every resolve that starts after RevokeAll returned must fail.
					if _, err := m.Resolve(ctx, tok); err == nil {
						mu.Lock()
						late++
						mu.Unlock()
					}
					return
				default:
					_, _ = m.Resolve(ctx, tok)
				}
			}
		}()
	}
	n, err := m.RevokeAll(ctx, "alice", revoke.Cause{})
	close(revoked)
	wg.Wait()
	is.NoErr(err)
	is.Equal(n, 20)
	is.Equal(late, 0)
}
