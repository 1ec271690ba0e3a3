package caep

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

const (
	testIssuer   = "https://transmitter.example"
	testAudience = "https://receiver.example"
)

type receiverFixture struct {
	m      *revoke.Manager
	signer *Signer
	srv    *httptest.Server
}

// newReceiverFixture serves a Receiver over real HTTP, trusting a
// transmitter whose JWKS is served by another real HTTP server.
func newReceiverFixture(t *testing.T) *receiverFixture {
	t.Helper()
	m, err := revoke.New(memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(newKeys(t)["ES256"], "transmitter-1")
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(signer.JWKSHandler())
	t.Cleanup(jwks.Close)
	rc, err := NewReceiver(m, ReceiverConfig{Audience: testAudience, Transmitters: []Transmitter{{Issuer: testIssuer, JWKSURL: jwks.URL}},
		UserByEmail: func(_ context.Context, email string) (string, error) {
			if email == "carol@example.com" {
				return "carol", nil
			}
			return "", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return &receiverFixture{m: m, signer: signer, srv: srv}
}

func (f *receiverFixture) session(t *testing.T, user, sid string) string {
	t.Helper()
	_, tok, err := f.m.Create(t.Context(), user, revoke.Device{}, revoke.FromProvider(testIssuer, user, sid))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *receiverFixture) active(t *testing.T, tok string) bool {
	t.Helper()
	_, err := f.m.Resolve(t.Context(), tok)
	if err != nil && !revoke.Anonymous(err) {
		t.Fatal(err)
	}
	return err == nil
}

func sessionRevokedSET(jti string, sub *Subject) SET {
	ev, _ := json.Marshal(SessionRevoked{EventTimestamp: time.Now().Unix(), InitiatingEntity: "admin", ReasonAdmin: map[string]string{"en": "test"}})
	return SET{Issuer: testIssuer, Audience: jwt.Audience{testAudience}, IssuedAt: jwt.NewNumericDate(time.Now()),
		ID: jti, Subject: sub, Events: map[string]json.RawMessage{EventSessionRevoked: ev}}
}

func (f *receiverFixture) post(t *testing.T, body string) (int, Error) {
	t.Helper()
	resp, err := http.Post(f.srv.URL, ContentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e Error
	if resp.StatusCode != http.StatusAccepted {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("status %d, body %q not JSON", resp.StatusCode, b)
		}
	}
	return resp.StatusCode, e
}

func (f *receiverFixture) sign(t *testing.T, set SET) string {
	t.Helper()
	raw, err := f.signer.Sign(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestReceiverRevokesBySessionAndByUser(t *testing.T) {
	f := newReceiverFixture(t)
	a1 := f.session(t, "alice", "idp-sid-1")
	a2 := f.session(t, "alice", "idp-sid-2")
	b := f.session(t, "bob", "idp-sid-3")
	c := f.session(t, "carol", "idp-sid-4")

	// By the transmitter's session: only that session ends.
	status, e := f.post(t, f.sign(t, sessionRevokedSET("j1", &Subject{Format: FormatComplex,
		User:    &Subject{Format: FormatIssSub, Issuer: testIssuer, Sub: "alice"},
		Session: &Subject{Format: FormatOpaque, ID: "idp-sid-1"}})))
	if status != http.StatusAccepted {
		t.Fatalf("session subject: %d %+v", status, e)
	}
	if f.active(t, a1) || !f.active(t, a2) {
		t.Fatal("session subject: want idp-sid-1 revoked and idp-sid-2 active")
	}
	// By user, iss_sub: every session of the user.
	if status, e := f.post(t, f.sign(t, sessionRevokedSET("j2", &Subject{Format: FormatIssSub, Issuer: testIssuer, Sub: "bob"}))); status != http.StatusAccepted {
		t.Fatalf("iss_sub: %d %+v", status, e)
	}
	if f.active(t, b) || !f.active(t, a2) {
		t.Fatal("iss_sub: want bob revoked, alice's other session active")
	}
	// By email through the app's lookup, with the subject inside the event
	// as older drafts send it.
	ev, _ := json.Marshal(SessionRevoked{Subject: &Subject{Format: FormatEmail, Email: "carol@example.com"}, EventTimestamp: time.Now().Unix()})
	set := sessionRevokedSET("j3", nil)
	set.Events[EventSessionRevoked] = ev
	if status, e := f.post(t, f.sign(t, set)); status != http.StatusAccepted {
		t.Fatalf("email: %d %+v", status, e)
	}
	if f.active(t, c) {
		t.Fatal("email: want carol revoked")
	}
	// An unknown subject and another event type are acknowledged, and
	// revoke nothing.
	if status, _ := f.post(t, f.sign(t, sessionRevokedSET("j4", &Subject{Format: FormatIssSub, Issuer: testIssuer, Sub: "nobody"}))); status != http.StatusAccepted {
		t.Fatalf("unknown subject: %d", status)
	}
	other := sessionRevokedSET("j5", &Subject{Format: FormatIssSub, Issuer: testIssuer, Sub: "alice"})
	other.Events = map[string]json.RawMessage{"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": json.RawMessage(`{}`)}
	if status, _ := f.post(t, f.sign(t, other)); status != http.StatusAccepted {
		t.Fatalf("other event: %d", status)
	}
	if !f.active(t, a2) {
		t.Fatal("an ignored event revoked a session")
	}
}

// Forged, mis-addressed, replayed and malformed SETs are refused with the
// RFC 8935 codes and revoke nothing.
func TestReceiverRefusals(t *testing.T) {
	f := newReceiverFixture(t)
	tok := f.session(t, "alice", "idp-sid-1")
	subject := &Subject{Format: FormatIssSub, Issuer: testIssuer, Sub: "alice"}

	forger, err := NewSigner(newKeys(t)["ES256"], "transmitter-1") // same kid, another key
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := forger.Sign(sessionRevokedSET("f1", subject))

	otherIssuer := sessionRevokedSET("f2", subject)
	otherIssuer.Issuer = "https://evil.example"
	misaddressed := sessionRevokedSET("f3", subject)
	misaddressed.Audience = jwt.Audience{"https://another-receiver.example"}
	stale := sessionRevokedSET("f4", subject)
	stale.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	noJTI := sessionRevokedSET("", subject)

	wrongTyp := signWithType(t, f.signer, sessionRevokedSET("f5", subject), "JWT")
	unsigned := "eyJhbGciOiJub25lIiwidHlwIjoic2VjZXZlbnQrand0In0." + b64(t, sessionRevokedSET("f6", subject)) + "."

	cases := []struct {
		name, body, code string
	}{
		{"forged signature", forged, ErrInvalidKey},
		{"unknown issuer", f.sign(t, otherIssuer), ErrInvalidIssuer},
		{"mis-addressed", f.sign(t, misaddressed), ErrInvalidAudience},
		{"too old", f.sign(t, stale), ErrInvalidRequest},
		{"no jti", f.sign(t, noJTI), ErrInvalidRequest},
		{"typ JWT", wrongTyp, ErrInvalidRequest},
		{"alg none", unsigned, ErrInvalidRequest},
		{"not a JWT", "hello", ErrInvalidRequest},
	}
	for _, c := range cases {
		status, e := f.post(t, c.body)
		if status != http.StatusBadRequest || e.Code != c.code || e.Description == "" {
			t.Errorf("%s: %d %+v, want 400 %s", c.name, status, e, c.code)
		}
	}
	if !f.active(t, tok) {
		t.Fatal("a refused SET revoked the session")
	}

	// Replay: the first delivery acts, the second is refused. A new
	// session of the same provider session is not revoked by the replay.
	good := f.sign(t, sessionRevokedSET("r1", subject))
	if status, _ := f.post(t, good); status != http.StatusAccepted {
		t.Fatalf("first delivery: %d", status)
	}
	if f.active(t, tok) {
		t.Fatal("first delivery revoked nothing")
	}
	fresh := f.session(t, "alice", "idp-sid-9")
	if status, e := f.post(t, good); status != http.StatusBadRequest || e.Code != ErrInvalidRequest {
		t.Fatalf("replay: %d %+v", status, e)
	}
	if !f.active(t, fresh) {
		t.Fatal("a replayed SET revoked a later session")
	}

	// Wrong content type and method.
	resp, err := http.Post(f.srv.URL, "application/jwt", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong content type: %d", resp.StatusCode)
	}
	resp, err = http.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func signWithType(t *testing.T, s *Signer, set SET, typ string) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: jose.JSONWebKey{Key: s.private, KeyID: s.public.KeyID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(set)
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := obj.CompactSerialize()
	return raw
}

func b64(t *testing.T, set SET) string {
	t.Helper()
	b, _ := json.Marshal(set)
	return base64.RawURLEncoding.EncodeToString(b)
}
