package revoke_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// lostEnqueue is a store on which a write of outbox messages made after a
// revocation, in a write of its own, is lost, as it is when the process
// dies between the two: its EnqueueOutbox always fails. A revocation's
// messages reach its outbox only in the revocation's own write.
type lostEnqueue struct{ *memstore.Store }

func (lostEnqueue) EnqueueOutbox(context.Context, []store.OutboxMessage) error {
	return errors.New("the process died before writing the outbox")
}

// outboxOf is a WithOutbox func that records one message per revocation,
// its payload the cause, and the messages leased from the store.
type outboxOf struct {
	st store.OutboxStore
	n  int
}

func (o *outboxOf) messages(userID string, c revoke.Cause, at time.Time) []store.OutboxMessage {
	o.n++
	return []store.OutboxMessage{{ID: store.NewID(), Destination: "peer",
		Payload: []byte(userID + "|" + c.Actor + "|" + c.Reason), CreatedAt: at, NextAttempt: at}}
}

// recorded returns the messages enqueued since the last call.
func (o *outboxOf) recorded(t *testing.T) []store.OutboxMessage {
	t.Helper()
	far := time.Now().Add(100 * 365 * 24 * time.Hour)
	msgs, err := o.st.LeaseOutbox(t.Context(), far, far.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestEveryRevocationRecordsItsMessagesInItsWrite: each way the Manager
// revokes records its messages in the revocation's own write, with the ids
// it ended, so that none is lost to a crash between two writes. With the
// messages written after the revocation (by an OnRevoke hook) on this
// store, every one would be lost.
func TestEveryRevocationRecordsItsMessagesInItsWrite(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	st := lostEnqueue{memstore.New()}
	ob := &outboxOf{st: st}
	clk := newClock()
	cookie := revoke.DefaultCookie()
	cookie.Secure = false
	m, err := revoke.New(st, revoke.WithCookieKeys(testKey), revoke.WithCookie(cookie), revoke.WithClock(clk.Now),
		revoke.WithMaxSessions(3, revoke.EvictLeastRecentlySeen), revoke.WithOutbox(ob.messages))
	is.NoErr(err)

	// check asserts that one message was recorded, for user, with the
	// revoked ids and the cause.
	check := func(name, user string, ids []string, actor, reason string) {
		t.Helper()
		msgs := ob.recorded(t)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages recorded, want 1", name, len(msgs))
		}
		got := slices.Sorted(slices.Values(msgs[0].SessionIDs))
		want := slices.Sorted(slices.Values(ids))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("%s: the message names sessions %v, want %v", name, got, want)
		}
		if p := string(msgs[0].Payload); p != user+"|"+actor+"|"+reason {
			t.Fatalf("%s: payload %q", name, p)
		}
	}
	create := func(user string, opts ...revoke.LoginOption) revoke.Session {
		t.Helper()
		clk.Advance(time.Second)
		s, _, err := m.Create(ctx, user, revoke.Device{}, opts...)
		is.NoErr(err)
		return s
	}
	user := revoke.Cause{Actor: revoke.UserActor("alice"), Reason: revoke.ReasonUserRevoked}

	one := create("alice")
	_, err = m.RevokeSession(ctx, "alice", one.ID, user)
	is.NoErr(err)
	check("RevokeSession", "alice", []string{one.ID}, user.Actor, user.Reason)

	keep, other := create("alice"), create("alice")
	_, err = m.RevokeOthers(ctx, "alice", keep.ID, user)
	is.NoErr(err)
	check("RevokeOthers", "alice", []string{other.ID}, user.Actor, user.Reason)

	admin := revoke.Cause{Actor: revoke.AdminActor("root"), Reason: revoke.ReasonAdminRevoked}
	_, err = m.RevokeAll(ctx, "alice", admin)
	is.NoErr(err)
	check("RevokeAll", "alice", []string{keep.ID}, admin.Actor, admin.Reason)

	old := create("alice")
	clk.Advance(time.Second)
	cut := clk.Now()
	create("alice")
	_, err = m.RevokeAuthenticatedBefore(ctx, "alice", cut, admin)
	is.NoErr(err)
	check("RevokeAuthenticatedBefore", "alice", []string{old.ID}, admin.Actor, admin.Reason)

	first := create("bob", revoke.FromProvider("https://idp.example", "bob-sub", "sid-1"))
	create("bob", revoke.FromProvider("https://idp.example", "bob-sub", "sid-2"))
	idp := revoke.Cause{Actor: revoke.ProviderActor("https://idp.example"), Reason: revoke.ReasonProviderLogout}
	_, err = m.RevokeProviderSession(ctx, "https://idp.example", "sid-1", "", idp)
	is.NoErr(err)
	check("RevokeProviderSession", "bob", []string{first.ID}, idp.Actor, idp.Reason)

	// Login on a request that presents a session ends that one.
	w := httptest.NewRecorder()
	prev, _, err := m.Login(w, httptest.NewRequest("POST", "/login", nil), "carol")
	is.NoErr(err)
	r := httptest.NewRequest("POST", "/login", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	_, _, err = m.Login(httptest.NewRecorder(), r, "carol")
	is.NoErr(err)
	check("Login", "carol", []string{prev.ID}, revoke.UserActor("carol"), revoke.ReasonReplaced)

	// PasswordChanged on carol's current session ends her others.
	w = httptest.NewRecorder()
	_, _, err = m.Login(w, httptest.NewRequest("POST", "/login", nil), "dave")
	is.NoErr(err)
	phone := create("dave")
	r = httptest.NewRequest("POST", "/password", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	_, _, err = m.PasswordChanged(httptest.NewRecorder(), r)
	is.NoErr(err)
	check("PasswordChanged", "dave", []string{phone.ID}, revoke.UserActor("dave"), revoke.ReasonPasswordChanged)

	// The cap of 3: the fourth sign-in evicts the least recently seen.
	eve := []revoke.Session{create("eve"), create("eve"), create("eve")}
	create("eve")
	check("WithMaxSessions", "eve", []string{eve[0].ID}, revoke.ActorSystem, revoke.ReasonSessionLimit)

	scs := create("frank")
	ids, err := m.RevokeSelection(ctx, store.Selection{UserID: "frank", SessionID: scs.ID}, clk.Now(), user)
	is.NoErr(err)
	is.Equal(ids, []string{scs.ID})
	check("RevokeSelection", "frank", []string{scs.ID}, user.Actor, user.Reason)

	// A revocation that ends nothing records nothing.
	calls := ob.n
	_, err = m.RevokeAll(ctx, "nobody", admin)
	is.NoErr(err)
	_, err = m.RevokeSession(ctx, "frank", scs.ID, user)
	is.NoErr(err)
	is.True(ob.n > calls) // asked
	is.Equal(len(ob.recorded(t)), 0)
}

// TestWithOutboxNeedsARecordingStore: a store that cannot record messages
// in a revocation's write is refused, rather than have messages lost.
func TestWithOutboxNeedsARecordingStore(t *testing.T) {
	var st struct{ store.SessionStore }
	st.SessionStore = memstore.New()
	_, err := revoke.New(st, revoke.WithOutbox((&outboxOf{}).messages))
	if err == nil || !strings.Contains(err.Error(), "store.RecordingStore") {
		t.Fatalf("New: %v, want a refusal naming store.RecordingStore", err)
	}
}

// TestOutboxFailureRevokesNothing: when the store cannot record the
// messages, the revocation fails whole, and the session stays usable for
// the caller to retry.
func TestOutboxFailureRevokesNothing(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	st := memstore.New()
	taken := store.NewID()
	is.NoErr(st.EnqueueOutbox(ctx, []store.OutboxMessage{{ID: taken, Payload: []byte{}}}))
	m, err := revoke.New(st, revoke.WithOutbox(func(string, revoke.Cause, time.Time) []store.OutboxMessage {
		return []store.OutboxMessage{{ID: taken}} // refused by the store
	}))
	is.NoErr(err)
	s, tok, err := m.Create(ctx, "alice", revoke.Device{})
	is.NoErr(err)
	_, err = m.RevokeSession(ctx, "alice", s.ID, revoke.Cause{Reason: "test"})
	is.True(errors.Is(err, store.ErrDuplicateMessage))
	_, err = m.Resolve(ctx, tok)
	is.NoErr(err) // not revoked
}
