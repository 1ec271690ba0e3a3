package caep

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke"
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
	sendM, err := revoke.New(sendStore, revoke.OnRevoke(sender.OnRevoke))
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
