package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/matryer/is"

	"github.com/revokehq/revoke/caep"
	"github.com/revokehq/revoke/internal/demoproc"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// loginLinked signs user in on p as the sign-in of the transmitter's
// session sid.
func loginLinked(t *testing.T, p *demoproc.Process, user, sid string) signedIn {
	t.Helper()
	body, _ := json.Marshal(loginRequest{Username: user, Password: testPassword, TransmitterSession: sid})
	res, b := newClient(t, p.URL()).do(http.MethodPost, "/login", string(body))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("linked login on %s: %d %s", p.URL(), res.StatusCode, b)
	}
	return signedIn{decode[loginResponse](t, b), sessionCookie(res)}
}

// awaitRefused waits until GET /me on p with s's token is refused.
func awaitRefused(t *testing.T, p *demoproc.Process, s signedIn) {
	t.Helper()
	c := newClient(t, p.URL()).withToken(s.lr.Token)
	deadline := time.Now().Add(30 * time.Second)
	for c.meStatus() != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("session %s on %s is still active", s.lr.SessionID, p.URL())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCAEPBetweenTwoDemos runs two demo processes, each on its own SQLite
// file: one a CAEP transmitter pushing to the other's POST
// /auth/ssf/events, whose keys the other fetches from its JWKS endpoint.
// Sessions on the receiver signed in through sessions of the transmitter
// end when those end on the transmitter, through events alone; SETs that
// are forged, mis-addressed or replayed revoke nothing.
func TestCAEPBetweenTwoDemos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two server binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the servers with SIGTERM")
	}
	is := is.New(t)
	dir := t.TempDir()
	bin := demoproc.Build(t, dir)

	// The transmitter's signing key, in a file, so that the test can sign
	// SETs with it too.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	is.NoErr(err)
	keyFile := filepath.Join(dir, "caep-key.pem")
	is.NoErr(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	kid, err := keyID(key)
	is.NoErr(err)

	port := freePort(t)
	senderURL := "http://127.0.0.1:" + strconv.Itoa(port)
	issuer := senderURL
	const audience = "https://receiver.demo.example"
	env := func(name string) []string {
		return []string{envPassword + "=" + testPassword, envAdminToken + "=" + testAdminToken,
			envCookieKey + "=" + strings.Repeat(name[:1], 64)}
	}
	receiver := demoproc.Start(t, bin, []string{"-db", filepath.Join(dir, "receiver.db"),
		"-caep-audience", audience, "-caep-transmitter", issuer, "-caep-transmitter-jwks", senderURL + jwksPath}, env("receiver"))
	sender := demoproc.Start(t, bin, []string{"-addr", "127.0.0.1:" + strconv.Itoa(port), "-db", filepath.Join(dir, "sender.db"),
		"-caep-issuer", issuer, "-caep-key", keyFile,
		"-caep-push-url", receiver.URL() + "/auth/ssf/events", "-caep-push-audience", audience}, env("sender"))
	is.Equal(sender.URL(), senderURL)

	res, b := newClient(t, senderURL).do(http.MethodGet, jwksPath, "")
	is.Equal(res.StatusCode, http.StatusOK) // the JWKS
	var jwks jose.JSONWebKeySet
	is.NoErr(json.Unmarshal(b, &jwks))
	is.Equal(len(jwks.Key(kid)), 1) // names the key by its thumbprint

	t.Run("sign-outs on the transmitter end the linked sessions", func(t *testing.T) {
		is := is.New(t)
		first, second := signIn(t, sender, "alice"), signIn(t, sender, "alice")
		linked := loginLinked(t, receiver, "alice", first.lr.SessionID)
		linked2 := loginLinked(t, receiver, "alice", second.lr.SessionID)
		own := signIn(t, receiver, "alice") // signed in on the receiver alone
		expectMe(t, receiver, linked, http.StatusOK)

		// alice signs out of the first session on the transmitter.
		res, b := newClient(t, senderURL).withToken(first.lr.Token).do(http.MethodPost, "/logout", "")
		is.Equal(res.StatusCode, http.StatusNoContent) // signed out
		_ = b
		awaitRefused(t, receiver, linked)
		expectMe(t, receiver, linked2, http.StatusOK) // only the session the event named
		expectMe(t, receiver, own, http.StatusOK)

		// An administrator signs alice out everywhere on the transmitter.
		res, b = newClient(t, senderURL).do(http.MethodDelete, "/auth/admin/api/users/alice/sessions", "",
			"Authorization", "Bearer "+testAdminToken)
		is.Equal(res.StatusCode, http.StatusOK)
		is.Equal(decode[map[string]int](t, b), map[string]int{"count": 1})
		awaitRefused(t, receiver, linked2)
		expectMe(t, receiver, own, http.StatusOK) // the receiver's own session was no session of the transmitter's
	})

	// SETs posted to the receiver by the test: signed with the
	// transmitter's key unless forged.
	signer, err := caep.NewSigner(key, kid)
	is.NoErr(err)
	rogueKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	rogue, err := caep.NewSigner(rogueKey, kid) // the same kid, another key
	is.NoErr(err)
	set := func(sub *caep.Subject, edit func(*caep.SET)) caep.SET {
		ev, _ := json.Marshal(caep.SessionRevoked{EventTimestamp: time.Now().Unix(), InitiatingEntity: "admin"})
		s := caep.SET{Issuer: issuer, Audience: jwt.Audience{audience}, IssuedAt: jwt.NewNumericDate(time.Now()),
			ID: rand.Text(), Subject: sub, Events: map[string]json.RawMessage{caep.EventSessionRevoked: ev}}
		if edit != nil {
			edit(&s)
		}
		return s
	}
	session := func(user, sid string) *caep.Subject {
		return &caep.Subject{Format: caep.FormatComplex, User: &caep.Subject{Format: caep.FormatIssSub, Issuer: issuer, Sub: user},
			Session: &caep.Subject{Format: caep.FormatOpaque, ID: sid}}
	}
	post := func(s *caep.Signer, st caep.SET) (int, map[string]string) {
		t.Helper()
		raw, err := s.Sign(st)
		is.NoErr(err)
		return postRaw(t, receiver, raw)
	}

	t.Run("forged, mis-addressed and replayed SETs revoke nothing", func(t *testing.T) {
		is := is.New(t)
		target := loginLinked(t, receiver, "bob", "bob-sid")
		for _, tc := range []struct {
			name   string
			signer *caep.Signer
			set    caep.SET
			code   string
		}{
			{"forged", rogue, set(session("bob", "bob-sid"), nil), caep.ErrInvalidKey},
			{"another audience", signer, set(session("bob", "bob-sid"), func(s *caep.SET) { s.Audience = jwt.Audience{"https://other.example"} }), caep.ErrInvalidAudience},
			{"another issuer", signer, set(session("bob", "bob-sid"), func(s *caep.SET) { s.Issuer = "https://rogue.example" }), caep.ErrInvalidIssuer},
			{"too old", signer, set(session("bob", "bob-sid"), func(s *caep.SET) { s.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) }), caep.ErrInvalidRequest},
		} {
			status, body := post(tc.signer, tc.set)
			if status != http.StatusBadRequest || body["err"] != tc.code {
				t.Fatalf("%s: %d %v, want 400 %s", tc.name, status, body, tc.code)
			}
			expectMe(t, receiver, target, http.StatusOK)
		}

		// A SET naming carol, delivered before carol had a session here,
		// and delivered again once she has one.
		replayed, err := signer.Sign(set(&caep.Subject{Format: caep.FormatIssSub, Issuer: issuer, Sub: "carol"}, nil))
		is.NoErr(err)
		status, _ := postRaw(t, receiver, replayed)
		is.Equal(status, http.StatusAccepted) // nothing to revoke yet
		carol := loginLinked(t, receiver, "carol", "carol-sid")
		status, body := postRaw(t, receiver, replayed)
		is.Equal(status, http.StatusBadRequest)
		is.Equal(body["err"], caep.ErrInvalidRequest) // refused as a replay
		expectMe(t, receiver, carol, http.StatusOK)

		// The same SETs, genuine and fresh, do revoke: the refusals above
		// were for what was wrong with them.
		status, _ = post(signer, set(session("bob", "bob-sid"), nil))
		is.Equal(status, http.StatusAccepted)
		expectMe(t, receiver, target, http.StatusUnauthorized)
		status, _ = post(signer, set(&caep.Subject{Format: caep.FormatIssSub, Issuer: issuer, Sub: "carol"}, nil))
		is.Equal(status, http.StatusAccepted)
		expectMe(t, receiver, carol, http.StatusUnauthorized)
	})

	if n, first := sender.Logged("ERROR"); n > 0 {
		t.Errorf("the transmitter logged %d errors, the first: %s", n, first)
	}
	sender.Stop(t)
	receiver.Stop(t)
}

// postRaw posts the SET raw to p's POST /auth/ssf/events and returns the
// status and the error body, if any.
func postRaw(t *testing.T, p *demoproc.Process, raw string) (int, map[string]string) {
	t.Helper()
	res, b := newClient(t, p.URL()).do(http.MethodPost, "/auth/ssf/events", raw, "Content-Type", caep.ContentType)
	var body map[string]string
	if len(b) > 0 {
		body = decode[map[string]string](t, b)
	}
	return res.StatusCode, body
}

// A sign-in may name a transmitter session only when there is a
// transmitter.
func TestTransmitterSessionNeedsATransmitter(t *testing.T) {
	srv, _ := newTestServer(t)
	body, _ := json.Marshal(loginRequest{Username: "alice", Password: testPassword, TransmitterSession: "sid"})
	res, b := newClient(t, srv.URL).do(http.MethodPost, "/login", string(body))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "-caep-transmitter") {
		t.Fatalf("linked login without a transmitter: %d %s", res.StatusCode, b)
	}
}

// The signing key is read from PKCS #8, SEC 1 and PKCS #1 PEM files, and
// named by its thumbprint in every process.
func TestSigningKeyFile(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	p8, err := x509.MarshalPKCS8PrivateKey(ec)
	is.NoErr(err)
	sec1, err := x509.MarshalECPrivateKey(ec)
	is.NoErr(err)
	want, err := keyID(ec)
	is.NoErr(err)
	for name, block := range map[string]*pem.Block{"p8": {Type: "PRIVATE KEY", Bytes: p8}, "sec1": {Type: "EC PRIVATE KEY", Bytes: sec1}} {
		f := filepath.Join(dir, name+".pem")
		is.NoErr(os.WriteFile(f, pem.EncodeToMemory(block), 0o600))
		k, err := signingKey(f)
		is.NoErr(err)
		kid, err := keyID(k)
		is.NoErr(err)
		is.Equal(kid, want) // the same key, the same kid
	}
	f := filepath.Join(dir, "junk.pem")
	is.NoErr(os.WriteFile(f, []byte("not a key"), 0o600))
	_, err = signingKey(f)
	is.True(err != nil)
	a, err := signingKey("")
	is.NoErr(err)
	b, err := signingKey("")
	is.NoErr(err)
	ka, _ := keyID(a)
	kb, _ := keyID(b)
	is.True(ka != kb) // a generated key is a new key
}
