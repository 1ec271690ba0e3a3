package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// Identity providers of the tests: two OpenID providers and an Okta org.
const (
	issuerA    = "https://idp-a.example"
	issuerB    = "https://idp-b.example" // sends no exp, as Ory Hydra v2 does
	clientA    = "app-at-a"
	clientB    = "app-at-b"
	oktaOrg    = "https://acme.okta.example"
	ulAudience = "https://app.example/oauth2/v1/global-token-revocation"
)

// signingKey is a provider's key pair.
type signingKey struct {
	kid  string
	priv any
	alg  jose.SignatureAlgorithm
}

func newRSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, priv: k, alg: jose.RS256}
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, priv: k, alg: jose.ES256}
}

func (k signingKey) public() jose.JSONWebKey {
	pub := jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	return pub.Public()
}

// sign returns claims as a compact JWS signed with k.
func (k signingKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// jwksServer serves the public keys as a JWKS and counts the fetches.
func jwksServer(t testing.TB, keys ...signingKey) (string, *atomic.Int64) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/keys", &fetches
}

// flakyStore is a memstore whose calls can be made to fail: with
// store.ErrUnavailable (a store that does not answer) or with an error
// whose text must not leak.
type flakyStore struct {
	*memstore.Store
	mode       atomic.Int32 // 0 healthy, 1 unavailable, 2 broken
	failRevoke atomic.Bool  // the revocation itself does not answer
}

func (f *flakyStore) TokenIDUsed(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.Store.TokenIDUsed(ctx, issuer, jti, now)
}

func (f *flakyStore) EndProviderSession(ctx context.Context, issuer, sid string, now, until time.Time) ([]store.ProviderLink, error) {
	if f.failRevoke.Load() {
		return nil, store.ErrUnavailable
	}
	return f.Store.EndProviderSession(ctx, issuer, sid, now, until)
}

const (
	healthy int32 = iota
	unavailable
	broken
)

func (f *flakyStore) err() error {
	switch f.mode.Load() {
	case unavailable:
		return store.ErrUnavailable
	case broken:
		return errors.New(secret)
	}
	return nil
}

func (f *flakyStore) UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.UseTokenID(ctx, issuer, jti, now, until)
}

func (f *flakyStore) ProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	if err := f.err(); err != nil {
		return "", err
	}
	return f.Store.ProviderUser(ctx, issuer, subject)
}

func (f *flakyStore) List(ctx context.Context, userID string) ([]store.Session, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, userID)
}

// idpEnv is a server with every route mounted and the identity-provider
// routes configured: providers A (RS256, exp required) and B (ES256,
// ExpiryFromIssuedAt) for back-channel logout, and an Okta org for
// Universal Logout.
type idpEnv struct {
	t      testing.TB
	st     *flakyStore
	m      *revoke.Manager
	srv    *httptest.Server
	logs   *syncBuffer
	keyA   signingKey
	keyB   signingKey
	okta   signingKey
	rogue  signingKey // a key no provider has
	mu     sync.Mutex
	events []revoke.Event
}

type idpConfig struct {
	handlers []handlers.Option
	manager  []revoke.Option
}

func newIDPEnv(t testing.TB, cfg idpConfig) *idpEnv {
	t.Helper()
	e := &idpEnv{t: t, logs: &syncBuffer{},
		keyA: newRSAKey(t, "a1"), keyB: newECKey(t, "b1"), okta: newRSAKey(t, "okta1"), rogue: newRSAKey(t, "a1")}
	e.st = &flakyStore{Store: memstore.New()}
	t.Cleanup(func() { _ = e.st.Close() })
	cookie := revoke.DefaultCookie()
	cookie.Secure = false
	mopts := []revoke.Option{
		revoke.WithCookie(cookie),
		revoke.OnRevoke(func(_ context.Context, ev revoke.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		}),
	}
	m, err := revoke.New(e.st, append(mopts, cfg.manager...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m

	ctx := context.Background()
	jwksA, _ := jwksServer(t, e.keyA)
	jwksB, _ := jwksServer(t, e.keyB)
	jwksOkta, _ := jwksServer(t, e.okta)
	hopts := []handlers.Option{
		handlers.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))),
		handlers.WithAdminTokens(adminToken),
		handlers.WithBearerAuthorizer(func(_ context.Context, token string) (string, error) {
			if token == readOnlyBearer {
				return "", handlers.ErrNotPermitted
			}
			return "", handlers.ErrInvalidCredentials
		}),
		handlers.WithBackChannelLogout(
			handlers.OIDCProvider{Issuer: issuerA, ClientID: clientA, KeySet: oidc.NewRemoteKeySet(ctx, jwksA)},
			handlers.OIDCProvider{Issuer: issuerB, ClientID: clientB, KeySet: oidc.NewRemoteKeySet(ctx, jwksB),
				SigningAlgs: []string{"ES256"}, ExpiryFromIssuedAt: true},
		),
		handlers.WithUniversalLogout(handlers.UniversalLogoutIssuer{
			Issuer: oktaOrg, Audience: ulAudience, KeySet: oidc.NewRemoteKeySet(ctx, jwksOkta)}),
	}
	h, err := handlers.New(m, append(hopts, cfg.handlers...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// signIn creates a session of user as if signed in through issuer.
func (e *idpEnv) signIn(user, issuer, subject, sid string) session {
	e.t.Helper()
	var opts []revoke.LoginOption
	if issuer != "" {
		opts = append(opts, revoke.FromProvider(issuer, subject, sid))
	}
	s, token, err := e.m.Create(context.Background(), user, revoke.Device{IP: "203.0.113.9"}, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return session{s, token}
}

func (e *idpEnv) active(s session) bool {
	_, err := e.m.Resolve(context.Background(), s.token)
	return err == nil
}

func (e *idpEnv) recorded() []revoke.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]revoke.Event(nil), e.events...)
}

func (e *idpEnv) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return send(e.t, e.srv, method, path, body, headers...)
}

// postLogout posts a back-channel logout request with the logout token.
func (e *idpEnv) postLogout(token string) response {
	e.t.Helper()
	return e.do("POST", "/auth/oidc/backchannel-logout", url.Values{"logout_token": {token}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded")
}

// checkOAuth asserts an OAuth error body (the OIDC family's shape).
func checkOAuth(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	is := is.New(t)
	is.Equal(r.StatusCode, status) // status
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	v := r.json(t)
	for k := range v {
		is.True(k == "error" || k == "error_description") // only the OAuth members
	}
	is.Equal(v["error"], code)
	is.True(!strings.Contains(string(r.body), "hunter2"))
	return v
}

// logoutClaims are the claims of a valid logout token of provider A for
// sid (and sub, when not empty), issued now.
func logoutClaims(issuer, aud, sub, sid string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":    issuer,
		"aud":    []string{aud},
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// plainStore hides the optional extensions of the store it wraps.
type plainStore struct{ store.SessionStore }

// keySet returns a key set that is never asked (the tests that use it
// fail before any token is verified).
func (e *idpEnv) keySet() oidc.KeySet {
	return oidc.NewRemoteKeySet(context.Background(), "http://127.0.0.1:9/keys")
}

// b64JSON returns v as base64url-encoded JSON, a part of a JWT.
func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
