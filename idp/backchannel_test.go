package idp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Bounds of the waits: Hydra sends a logout token right after ending the
// session; a token that has not come by then will not.
const (
	deliveryWait = 20 * time.Second
	absenceWait  = 3 * time.Second
)

// TestHydraBackChannelLogout signs a user in through Hydra, ends the
// user's Hydra login session through Hydra's admin API, and checks what
// reaches the app and what the app's session does, on two app instances
// sharing one PostgreSQL store.
func TestHydraBackChannelLogout(t *testing.T) {
	hydraBinary(t) // skip early without it
	dsn := freshDatabase(t, postgresServer(t))
	app1, app2 := listenApp(t), listenApp(t)
	h := startHydra(t, dsn, hydraConfig{loginURL: app1.url + "/login", consentURL: app1.url + "/consent"})
	clientA := h.createClient(t, "revoke e2e app", app1.url+"/callback", app1.url+"/auth/oidc/backchannel-logout")
	other := &capture{delivered: make(chan struct{}, 16)}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	clientB := h.createClient(t, "another app", otherSrv.URL+"/callback", otherSrv.URL+"/backchannel")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app1.serve(ctx, dsn, h, clientA)
	app2.serve(ctx, dsn, h, clientA) // another instance: its own store connection, the same database
	instances := []*app{app1, app2}
	const subject = "alice@example.com"

	t.Run("by sid", func(t *testing.T) {
		b := newBrowser(t)
		in := b.signIn(t, app1, subject)
		b.authorize(t, h, clientB, otherSrv.URL+"/callback") // the same Hydra session signs in another app
		b.mustBeSignedIn(t, instances, "u-"+subject)

		h.endLoginSessions(t, url.Values{"sid": {in.SID}})
		d, err := app1.waitLogout(deliveryWait)
		if err != nil {
			t.Fatalf("no logout token reached the app within %v", deliveryWait)
		}
		if d.status != http.StatusOK {
			t.Fatalf("the app answered Hydra's logout token with %d", d.status)
		}
		c := unverifiedClaims(t, d.token)
		if c["sid"] != in.SID || c["iss"] != in.Issuer || !audienceHas(c["aud"], clientA.ID) {
			t.Fatalf("logout token claims %v, want sid %s, iss %s, aud %s", c, in.SID, in.Issuer, clientA.ID)
		}
		b.mustBeSignedOut(t, instances) // on the very next request, on every instance

		// Hydra told the other app too; its token is not for this one.
		if _, err := other.wait(deliveryWait); err != nil {
			t.Fatalf("no logout token reached the other client")
		}
		// The token again: a replay.
		if got := postLogout(t, app1, d.token); got != http.StatusBadRequest {
			t.Fatalf("a replayed logout token got %d, want 400", got)
		}
	})

	t.Run("refused tokens revoke nothing", func(t *testing.T) {
		b := newBrowser(t)
		in := b.signIn(t, app1, subject)
		b.authorize(t, h, clientB, otherSrv.URL+"/callback")
		app1.hold.Store(true) // keep Hydra's token for this test to present
		h.endLoginSessions(t, url.Values{"sid": {in.SID}})
		held, err := app1.waitLogout(deliveryWait)
		if err != nil {
			t.Fatalf("no logout token reached the app within %v", deliveryWait)
		}
		forOther, err := other.wait(deliveryWait)
		if err != nil {
			t.Fatalf("no logout token reached the other client")
		}
		b.mustBeSignedIn(t, instances, "u-"+subject)

		for _, tc := range []struct{ name, token string }{
			{"for another audience", forOther},
			{"forged", forge(t, held.token, nil)},
			{"forged, for another sid", forge(t, held.token, map[string]any{"sid": "another-sid"})},
		} {
			if got := postLogout(t, app1, tc.token); got != http.StatusBadRequest {
				t.Errorf("a token %s got %d, want 400", tc.name, got)
			}
			b.mustBeSignedIn(t, instances, "u-"+subject)
		}

		// Hydra's own token works, once.
		if got := postLogout(t, app1, held.token); got != http.StatusOK {
			t.Fatalf("Hydra's logout token got %d", got)
		}
		b.mustBeSignedOut(t, instances)
		if got := postLogout(t, app1, held.token); got != http.StatusBadRequest {
			t.Fatalf("a replayed logout token got %d, want 400", got)
		}
	})

	t.Run("expired", func(t *testing.T) {
		b := newBrowser(t)
		in := b.signIn(t, app1, subject)
		app1.hold.Store(true)
		h.endLoginSessions(t, url.Values{"sid": {in.SID}})
		held, err := app1.waitLogout(deliveryWait)
		if err != nil {
			t.Fatalf("no logout token reached the app within %v", deliveryWait)
		}
		iat := time.Unix(int64(unverifiedClaims(t, held.token)["iat"].(float64)), 0)
		time.Sleep(time.Until(iat.Add(logoutMaxAge + 2*time.Second)))
		if got := postLogout(t, app1, held.token); got != http.StatusBadRequest {
			t.Fatalf("an expired logout token got %d, want 400", got)
		}
		b.mustBeSignedIn(t, instances, "u-"+subject)
	})

	t.Run("by subject", func(t *testing.T) {
		b := newBrowser(t)
		in := b.signIn(t, app1, subject)
		b.mustBeSignedIn(t, instances, "u-"+subject)
		// Hydra ends every login session of the subject, and, as its
		// admin API documents, sends no back-channel logout for that.
		h.endLoginSessions(t, url.Values{"subject": {subject}})
		if d, err := app1.waitLogout(absenceWait); err == nil {
			t.Fatalf("Hydra %s sent a logout token for a subject revocation (answered %d), which it documents it does not: revisit this test",
				HydraVersion, d.status)
		}
		b.mustBeSignedIn(t, instances, "u-"+subject)
		// The operator tells the app instead: Global Token Revocation for
		// the provider's subject, which the app maps to its user.
		body := `{"sub_id":{"format":"iss_sub","iss":"` + in.Issuer + `","sub":"` + in.Subject + `"}}`
		req, err := http.NewRequest(http.MethodPost, app2.url+"/oauth2/v1/global-token-revocation", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "SSWS "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("global token revocation: %d", res.StatusCode)
		}
		b.mustBeSignedOut(t, instances)
	})
}

// browser is a user agent with a cookie jar that follows redirects. Cookies
// ignore ports, so the app's cookie reaches both instances.
type browser struct{ c *http.Client }

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{&http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// signedIn is what the app's callback reports of the ID token.
type signedIn struct {
	SID     string `json:"sid"`
	Subject string `json:"sub"`
	Issuer  string `json:"iss"`
}

// signIn goes through the authorization-code flow at a as subject.
func (b *browser) signIn(t *testing.T, a *app, subject string) signedIn {
	t.Helper()
	a.nextSubject.Store(subject)
	status, body := b.get(t, a.url+"/start")
	if status != http.StatusOK {
		t.Fatalf("sign-in ended with %d: %s", status, body)
	}
	var in signedIn
	if err := json.Unmarshal([]byte(body), &in); err != nil || in.SID == "" {
		t.Fatalf("sign-in answered %q", body)
	}
	return in
}

// authorize has Hydra authorize another client in the browser's Hydra
// session, so that the session's logout concerns that client too.
func (b *browser) authorize(t *testing.T, h *hydra, c hydraClient, redirect string) {
	t.Helper()
	q := url.Values{"client_id": {c.ID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirect}, "state": {rand.Text()}}
	if status, body := b.get(t, h.issuer+"/oauth2/auth?"+q.Encode()); status != http.StatusOK {
		t.Fatalf("authorizing the other client ended with %d: %s", status, body)
	}
}

func (b *browser) me(t *testing.T, a *app) (int, string) {
	t.Helper()
	return b.get(t, a.url+"/me")
}

func (b *browser) mustBeSignedIn(t *testing.T, instances []*app, user string) {
	t.Helper()
	for i, a := range instances {
		if status, body := b.me(t, a); status != http.StatusOK || body != user {
			t.Fatalf("instance %d: %d %q, want the session of %s", i+1, status, body, user)
		}
	}
}

func (b *browser) mustBeSignedOut(t *testing.T, instances []*app) {
	t.Helper()
	for i, a := range instances {
		if status, _ := b.me(t, a); status != http.StatusUnauthorized {
			t.Fatalf("instance %d: %d, want 401: the session must be refused", i+1, status)
		}
	}
}

// postLogout presents a logout token to a's back-channel logout endpoint
// as a provider would, and returns the status.
func postLogout(t *testing.T, a *app, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+"/auth/oidc/backchannel-logout",
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(testPost, "1")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// unverifiedClaims reads a JWT's claims without checking anything.
func unverifiedClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func audienceHas(aud any, id string) bool {
	switch v := aud.(type) {
	case string:
		return v == id
	case []any:
		for _, a := range v {
			if a == id {
				return true
			}
		}
	}
	return false
}

// forge returns the claims of a genuine token, changed by edit and with a
// fresh jti, signed with a key of the forger's under the provider's key id.
func forge(t *testing.T, genuine string, edit map[string]any) string {
	t.Helper()
	c := unverifiedClaims(t, genuine)
	c["jti"] = rand.Text()
	c["iat"] = time.Now().Unix()
	for k, v := range edit {
		c[k] = v
	}
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(genuine, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: h.Kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
