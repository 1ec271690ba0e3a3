package scsstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store/memstore"
)

// TestManagerOptionsReadScsWhenUsed: the cookie name scs is given after
// the Manager was made is the one the Manager resolves, and a store made
// without WithHashedTokens follows sm.HashTokenInStore.
func TestManagerOptionsReadScsWhenUsed(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	defer st.Close()
	sm := scs.New()
	scsStore, err := scsstore.New(st, scsstore.WithUserKey("userID")) // no WithHashedTokens
	is.NoErr(err)
	sm.Store = scsStore
	m, err := revoke.New(st, scsstore.ManagerOptions(sm)...)
	is.NoErr(err)
	sm.Cookie.Name = "sid" // set after the Manager, as apps sometimes do
	sm.HashTokenInStore = true

	ctx, err := sm.Load(context.Background(), "")
	is.NoErr(err)
	sm.Put(ctx, "userID", "alice")
	token, _, err := sm.Commit(ctx)
	is.NoErr(err)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: token})
	cur, err := m.ResolveRequest(nil, r)
	is.NoErr(err) // found under scs's hashed token
	is.Equal(cur.UserID, "alice")
}

// TestMisspeltUserKeyIsLogged: sessions whose values hold what looks like a
// user id under another key than WithUserKey's are reported once.
func TestMisspeltUserKeyIsLogged(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	st := memstore.New()
	defer st.Close()
	sm := scs.New()
	scsStore, err := scsstore.New(st, scsstore.WithUserKey("userId"), scsstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	is.NoErr(err)
	sm.Store = scsStore
	for range 2 {
		ctx, err := sm.Load(context.Background(), "")
		is.NoErr(err)
		sm.Put(ctx, "userID", "alice") // not "userId"
		_, _, err = sm.Commit(ctx)
		is.NoErr(err)
	}
	is.Equal(strings.Count(logs.String(), "looks like a user id"), 1)
	is.True(strings.Contains(logs.String(), "key=userID"))

	logs.Reset()
	ctx, _ := sm.Load(context.Background(), "")
	sm.Put(ctx, "cart", "3 items") // an anonymous session is no mistake
	_, _, err = sm.Commit(ctx)
	is.NoErr(err)
	is.Equal(logs.String(), "")
}

// TestScsLogoutsReachTheAuditHook: scs's Destroy and RenewToken are
// revocations the OnRevoke hooks hear of, with the user and the reason.
func TestScsLogoutsReachTheAuditHook(t *testing.T) {
	is := is.New(t)
	var (
		mu     sync.Mutex
		events []revoke.Event
	)
	f := newApp(t, false, nil)
	m, err := revoke.New(f.st, append(scsstore.ManagerOptions(f.sm), revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))...)
	is.NoErr(err)
	_ = m
	b := f.browser(t)
	_, _ = b.do("POST", "/login?user=alice") // RenewToken of an anonymous session: no one's
	_, _ = b.do("POST", "/renew")
	_, _ = b.do("POST", "/logout")
	mu.Lock()
	defer mu.Unlock()
	is.Equal(len(events), 2) // the renewal and the logout
	for _, ev := range events {
		is.Equal(ev.UserID, "alice")
		is.Equal(ev.Reason, scsstore.ReasonDestroyed)
		is.Equal(ev.Actor, revoke.UserActor("alice"))
		is.Equal(len(ev.SessionIDs), 1)
	}
}

// TestScsSessionsGetADevice: an scs session, created by a commit that
// knows no request, gets the device of the first request the Manager
// resolves it for, so that "your sessions" can tell them apart.
func TestScsSessionsGetADevice(t *testing.T) {
	is := is.New(t)
	f := newApp(t, false, nil)
	token := f.signIn(t, "alice")
	s, err := f.m.Resolve(context.Background(), token)
	is.NoErr(err)
	is.Equal(s.UserAgent, "") // a commit has no request to read it from

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: f.sm.Cookie.Name, Value: token})
	r.Header.Set("User-Agent", "Firefox/133.0")
	r.RemoteAddr = "198.51.100.7:4000"
	cur, err := f.m.ResolveRequest(nil, r)
	is.NoErr(err)
	is.Equal(cur.UserAgent, "Firefox/133.0")
	s, err = f.m.Resolve(context.Background(), token)
	is.NoErr(err)
	is.Equal(s.IP, "198.51.100.7") // stored
	is.Equal(s.UserAgent, "Firefox/133.0")
}

// TestNewRefusesBadOptions: a nil store, a nil option or an option with a
// value the store cannot take make New fail instead of a later panic.
func TestNewRefusesBadOptions(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	for name, opt := range map[string]scsstore.Option{
		"empty user key": scsstore.WithUserKey(""),
		"nil codec":      scsstore.WithCodec(nil),
		"nil clock":      scsstore.WithClock(nil),
		"nil logger":     scsstore.WithLogger(nil),
		"nil option":     nil,
	} {
		if _, err := scsstore.New(st, opt); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := scsstore.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}
