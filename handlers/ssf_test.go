package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/caep"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// The transmitter and this app's audience in the SSF tests.
const (
	ssfIssuer   = "https://transmitter.example"
	ssfAudience = "https://app.example"
)

// ssfEnv is a server with every route mounted and the SecurityEvents
// route handing SETs to a caep.Receiver that trusts one transmitter, whose
// JWKS another server serves.
type ssfEnv struct {
	t      *testing.T
	st     *flakyStore
	m      *revoke.Manager
	signer *caep.Signer // the transmitter's
	rogue  *caep.Signer // a key the transmitter does not have
	srv    *httptest.Server
	logs   *syncBuffer
}

func newSignerT(t *testing.T, kid string) *caep.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := caep.NewSigner(k, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSSFEnv(t *testing.T, configured bool) *ssfEnv {
	t.Helper()
	e := &ssfEnv{t: t, st: &flakyStore{Store: memstore.New()}, logs: &syncBuffer{},
		signer: newSignerT(t, "t1"), rogue: newSignerT(t, "t1")}
	t.Cleanup(func() { _ = e.st.Close() })
	m, err := revoke.New(e.st)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	jwks := httptest.NewServer(e.signer.JWKSHandler())
	t.Cleanup(jwks.Close)
	opts := []handlers.Option{handlers.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil)))}
	if configured {
		rc, err := caep.NewReceiver(m, caep.ReceiverConfig{Audience: ssfAudience,
			Transmitters: []caep.Transmitter{{Issuer: ssfIssuer, JWKSURL: jwks.URL}},
			Logger:       slog.New(slog.NewTextHandler(e.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, handlers.WithSecurityEvents(rc))
	}
	h, err := handlers.New(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// signIn creates a session of user signed in through the transmitter's
// session sid.
func (e *ssfEnv) signIn(user, sid string) session {
	e.t.Helper()
	s, tok, err := e.m.Create(context.Background(), user, revoke.Device{}, revoke.FromProvider(ssfIssuer, user, sid))
	if err != nil {
		e.t.Fatal(err)
	}
	return session{s, tok}
}

func (e *ssfEnv) active(s session) bool {
	_, err := e.m.Resolve(context.Background(), s.token)
	return err == nil
}

// revokedSET is a session-revoked SET of the transmitter for the session
// sid of user, edited by edit.
func revokedSET(user, sid string, edit func(*caep.SET)) caep.SET {
	ev, _ := json.Marshal(caep.SessionRevoked{EventTimestamp: time.Now().Unix(), InitiatingEntity: "admin"})
	set := caep.SET{
		Issuer: ssfIssuer, Audience: jwt.Audience{ssfAudience}, IssuedAt: jwt.NewNumericDate(time.Now()),
		ID: rand.Text(),
		Subject: &caep.Subject{Format: caep.FormatComplex,
			User:    &caep.Subject{Format: caep.FormatIssSub, Issuer: ssfIssuer, Sub: user},
			Session: &caep.Subject{Format: caep.FormatOpaque, ID: sid}},
		Events: map[string]json.RawMessage{caep.EventSessionRevoked: ev},
	}
	if edit != nil {
		edit(&set)
	}
	return set
}

func (e *ssfEnv) post(signer *caep.Signer, set caep.SET) response {
	e.t.Helper()
	raw, err := signer.Sign(set)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postRaw(raw, caep.ContentType)
}

func (e *ssfEnv) postRaw(body, contentType string) response {
	e.t.Helper()
	return send(e.t, e.srv, "POST", "/auth/ssf/events", body, "Content-Type", contentType)
}

// checkSSF asserts an SSF family error body: only err and description,
// err the RFC 8935 code (none when code is empty).
func checkSSF(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	is := is.New(t)
	is.Equal(r.StatusCode, status) // status
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	v := r.json(t)
	for k := range v {
		is.True(k == "err" || k == "description") // only the RFC 8935 members
	}
	_, described := v["description"].(string)
	is.True(described)
	if code == "" {
		_, has := v["err"]
		is.True(!has) // a failure of the receiver has no RFC 8935 code
	} else {
		is.Equal(v["err"], code)
	}
	is.True(!strings.Contains(string(r.body), "hunter2"))
	return v
}

// TestSecurityEventRevokesItsSession: a verified session-revoked SET
// revokes the session its subject names, and nothing else; 202.
func TestSecurityEventRevokesItsSession(t *testing.T) {
	is := is.New(t)
	e := newSSFEnv(t, true)
	named, other := e.signIn("alice", "sid-1"), e.signIn("alice", "sid-2")
	r := e.post(e.signer, revokedSET("alice", "sid-1", nil))
	is.Equal(r.StatusCode, 202)
	is.Equal(len(r.body), 0)
	is.Equal(r.Header.Get("Cache-Control"), "no-store")
	is.True(!e.active(named))
	is.True(e.active(other))

	// Another event type: acknowledged, nothing revoked.
	r = e.post(e.signer, revokedSET("alice", "sid-2", func(s *caep.SET) {
		s.Events = map[string]json.RawMessage{"https://schemas.openid.net/secevent/caep/event-type/credential-change": json.RawMessage(`{}`)}
	}))
	is.Equal(r.StatusCode, 202)
	is.True(e.active(other))
}

// TestSecurityEventRefusals: a SET refused answers 400 with its RFC 8935
// code and revokes nothing.
func TestSecurityEventRefusals(t *testing.T) {
	e := newSSFEnv(t, true)
	s := e.signIn("alice", "sid-1")
	replayed := revokedSET("bob", "sid-9", nil) // names no session here
	if r := e.post(e.signer, replayed); r.StatusCode != 202 {
		t.Fatalf("first delivery: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name string
		send func() response
		code string
	}{
		{"not a SET's media type", func() response { return e.postRaw("x", "application/json") }, caep.ErrInvalidRequest},
		{"not a JWT", func() response { return e.postRaw("not-a-jwt", caep.ContentType) }, caep.ErrInvalidRequest},
		{"forged", func() response { return e.post(e.rogue, revokedSET("alice", "sid-1", nil)) }, caep.ErrInvalidKey},
		{"another issuer", func() response {
			return e.post(e.signer, revokedSET("alice", "sid-1", func(s *caep.SET) { s.Issuer = "https://rogue.example" }))
		}, caep.ErrInvalidIssuer},
		{"another audience", func() response {
			return e.post(e.signer, revokedSET("alice", "sid-1", func(s *caep.SET) { s.Audience = jwt.Audience{"https://other.example"} }))
		}, caep.ErrInvalidAudience},
		{"replayed", func() response {
			replayed.Subject.Session.ID = "sid-1" // the same jti, now naming alice's session
			replayed.Subject.User.Sub = "alice"
			return e.post(e.signer, replayed)
		}, caep.ErrInvalidRequest},
		{"too large", func() response { return e.postRaw(strings.Repeat("a", 17<<10), caep.ContentType) }, caep.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSSF(t, tc.send(), 400, tc.code)
			is.New(t).True(e.active(s)) // nothing revoked
		})
	}
}

// TestSecurityEventsUnconfigured: without WithSecurityEvents every SET is
// from an issuer the app does not know.
func TestSecurityEventsUnconfigured(t *testing.T) {
	e := newSSFEnv(t, false)
	s := e.signIn("alice", "sid-1")
	checkSSF(t, e.post(e.signer, revokedSET("alice", "sid-1", nil)), 400, caep.ErrInvalidIssuer)
	is.New(t).True(e.active(s))
}

// TestSecurityEventsStoreFailure: a store that fails gets 500, one that
// does not answer 503 with Retry-After, without the store's text and
// without a code that would make the transmitter drop the SET; a retry
// once the store is back is accepted, not refused as a replay.
func TestSecurityEventsStoreFailure(t *testing.T) {
	is := is.New(t)
	e := newSSFEnv(t, true)
	s := e.signIn("alice", "sid-1")
	set := revokedSET("alice", "sid-1", nil)

	e.st.mode.Store(broken)
	checkSSF(t, e.post(e.signer, set), 500, "")
	e.st.mode.Store(unavailable)
	r := e.post(e.signer, set)
	checkSSF(t, r, 503, "")
	is.True(r.Header.Get("Retry-After") != "")
	is.True(e.active(s))
	is.True(strings.Contains(e.logs.String(), "request_id=")) // logged, with the request id

	e.st.mode.Store(healthy)
	is.Equal(e.post(e.signer, set).StatusCode, 202) // the transmitter's retry
	is.True(!e.active(s))
}
