package caep

import (
	"context"
	"crypto"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// A revocation on one Manager reaches another through events alone: the
// sender's outbox, a signed SET over HTTP, the receiver's verification.
// The two share no store.
func TestSenderToReceiver(t *testing.T) {
	// The receiving app, trusting the sending app's JWKS.
	recvM, err := revoke.New(memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(newKeys(t)["RS256"], "app-1")
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(signer.JWKSHandler())
	defer jwks.Close()
	rc, err := NewReceiver(recvM, ReceiverConfig{Audience: testAudience, Transmitters: []Transmitter{{Issuer: testIssuer, JWKSURL: jwks.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	// The first delivery fails, so the retry is exercised.
	var mu sync.Mutex
	calls := 0
	recvSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		rc.ServeHTTP(w, r)
	}))
	defer recvSrv.Close()

	sendStore := memstore.New()
	sender, err := NewSender(sendStore, SenderConfig{Issuer: testIssuer, Signer: signer,
		Receivers:  []PushReceiver{{Name: "peer", URL: recvSrv.URL, Audience: testAudience, Format: FormatIssSub}},
		MinBackoff: 10 * time.Millisecond, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sendM, err := revoke.New(sendStore, sender.Option())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sender.Run(ctx)

	// alice signs in at the sender, then at the receiver through it (its
	// session id is the receiver's provider sid).
	s, _, err := sendM.Create(t.Context(), "alice", revoke.Device{})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := recvM.Create(t.Context(), "alice", revoke.Device{}, revoke.FromProvider(testIssuer, "alice", s.ID))
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := recvM.Create(t.Context(), "alice", revoke.Device{}, revoke.FromProvider(testIssuer, "alice", "another-sid"))

	if _, err := sendM.RevokeSession(t.Context(), "alice", s.ID, revoke.Cause{Actor: revoke.AdminActor("root"), Reason: revoke.ReasonAdminRevoked}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := recvM.Resolve(t.Context(), tok); revoke.Anonymous(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the receiver's session is still active")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := recvM.Resolve(t.Context(), other); err != nil {
		t.Fatalf("another provider session was revoked too: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 2 {
		t.Fatalf("%d deliveries, want a failed one and a retry", calls)
	}
}

func TestBackoffDoublesToTheCap(t *testing.T) {
	s := &Sender{cfg: SenderConfig{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}}
	for attempts, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		got := s.backoff(attempts)
		if got > want || got < want*3/4 {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", attempts, got, want*3/4, want)
		}
	}
}

// capture is a push endpoint that verifies each SET and records its
// session and jti, failing the deliveries fail says to.
type capture struct {
	mu   sync.Mutex
	v    *Verifier
	got  []pending        // every delivery, in order
	fail func(n int) bool // whether delivery n (from 0) gets a 503
}

func newCapture(t *testing.T, signer *Signer, fail func(int) bool) (*capture, *httptest.Server) {
	t.Helper()
	v, err := NewVerifier(testAudience, []Transmitter{{Issuer: testIssuer, Keys: []crypto.PublicKey{signer.JWKS().Keys[0].Key}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{v: v, fail: fail}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		set, err := c.v.Verify(r.Context(), string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		n := len(c.got)
		c.got = append(c.got, pending{jti: set.ID, sessionID: set.Subject.sessionID()})
		c.mu.Unlock()
		if c.fail != nil && c.fail(n) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *capture) deliveries() []pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// A revocation of several sessions is one outbox message per receiver and
// one SET per session, each with a jti of its own. When one SET fails, the
// message is delivered again whole, and its SETs carry the same jtis.
func TestSenderOneSETPerSessionSameJTIOnRetry(t *testing.T) {
	signer, err := NewSigner(newKeys(t)["ES256"], "k1")
	if err != nil {
		t.Fatal(err)
	}
	c, srv := newCapture(t, signer, func(n int) bool { return n == 1 }) // the second SET fails once
	st := memstore.New()
	sender, err := NewSender(st, SenderConfig{Issuer: testIssuer, Signer: signer,
		Receivers:  []PushReceiver{{Name: "peer", URL: srv.URL, Audience: testAudience, Format: FormatOpaque}},
		MinBackoff: 5 * time.Millisecond, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := revoke.New(st, sender.Option())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		s, _, err := m.Create(t.Context(), "alice", revoke.Device{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if n, err := m.RevokeAll(t.Context(), "alice", revoke.Cause{Actor: revoke.AdminActor("root"), Reason: "offboarded"}); err != nil || n != 3 {
		t.Fatalf("RevokeAll: %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sender.Run(ctx)

	deadline := time.Now().Add(10 * time.Second)
	for len(c.deliveries()) < 5 { // 2 (the second failing), then 3 again
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %+v", c.deliveries())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := c.deliveries()
	jtis := map[string]string{} // session -> jti
	for _, d := range got {
		if j, ok := jtis[d.sessionID]; ok && j != d.jti {
			t.Fatalf("session %s delivered under jtis %s and %s", d.sessionID, j, d.jti)
		}
		jtis[d.sessionID] = d.jti
	}
	slices.Sort(ids)
	if !slices.Equal(slices.Sorted(maps.Keys(jtis)), ids) {
		t.Fatalf("SETs for %v, want one for each of %v", slices.Sorted(maps.Keys(jtis)), ids)
	}
	if distinct := slices.Compact(slices.Sorted(maps.Values(jtis))); len(distinct) != 3 {
		t.Fatalf("jtis %v, want one per session", jtis)
	}
	if got[0] != got[2] {
		t.Fatalf("the retry starts with %+v, want the first SET again, %+v", got[2], got[0])
	}
}

// A message written before the store kept session ids (its payload names
// the one session) is still delivered, under its own id as the jti.
func TestSenderDeliversOldMessages(t *testing.T) {
	signer, err := NewSigner(newKeys(t)["ES256"], "k1")
	if err != nil {
		t.Fatal(err)
	}
	c, srv := newCapture(t, signer, nil)
	st := memstore.New()
	sender, err := NewSender(st, SenderConfig{Issuer: testIssuer, Signer: signer,
		Receivers: []PushReceiver{{Name: "peer", URL: srv.URL, Audience: testAudience, Format: FormatOpaque}}, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := `{"user_id":"alice","session_id":"s-1","actor":"system","reason":"test","at":"` + now.Format(time.RFC3339Nano) + `"}`
	if err := st.EnqueueOutbox(t.Context(), []store.OutboxMessage{{ID: "m-1", Destination: "peer", Payload: []byte(old), CreatedAt: now, NextAttempt: now}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sender.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for len(c.deliveries()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the old message was not delivered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := c.deliveries()[0]; d != (pending{jti: "m-1", sessionID: "s-1"}) {
		t.Fatalf("delivered %+v", d)
	}
}

// The Manager must record in the Sender's own store.
func TestSenderOptionNeedsTheSendersStore(t *testing.T) {
	signer, err := NewSigner(newKeys(t)["ES256"], "k1")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := NewSender(memstore.New(), SenderConfig{Issuer: testIssuer, Signer: signer,
		Receivers: []PushReceiver{{Name: "peer", URL: "http://127.0.0.1:1", Audience: testAudience, Format: FormatOpaque}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := revoke.New(memstore.New(), sender.Option()); err == nil {
		t.Fatal("a Manager on another store took the Sender's option")
	}
}
