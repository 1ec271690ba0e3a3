package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// bclFixture is what each back-channel case starts from: a user signed in
// twice in provider session sid of provider A, once in another provider
// session, once with a password, and once at provider B.
type bclFixture struct {
	user, sub, sid       string
	inSID1, inSID2       session // the provider session the tokens name
	otherSID, local, atB session
}

func newBCLFixture(e *idpEnv, i int) bclFixture {
	f := bclFixture{user: fmt.Sprintf("user-%d", i), sub: fmt.Sprintf("sub-%d", i), sid: fmt.Sprintf("sid-%d", i)}
	f.inSID1 = e.signIn(f.user, issuerA, f.sub, f.sid)
	f.inSID2 = e.signIn(f.user, issuerA, f.sub, f.sid)
	f.otherSID = e.signIn(f.user, issuerA, f.sub, f.sid+"-other")
	f.local = e.signIn(f.user, "", "", "")
	f.atB = e.signIn(f.user, issuerB, f.sub, f.sid)
	return f
}

// What a case revokes of its fixture.
type bclEffect int

const (
	revokesNothing bclEffect = iota
	revokesSID               // the two sessions of the named provider session
	revokesUser              // every session of the user
	revokesAtB               // the session of provider B
)

func TestBackChannelLogout(t *testing.T) {
	e := newIDPEnv(t, idpConfig{})
	now := time.Now()
	valid := func(f bclFixture) map[string]any { return logoutClaims(issuerA, clientA, f.sub, f.sid) }
	signedA := func(edit func(c map[string]any)) func(*idpEnv, bclFixture) string {
		return func(e *idpEnv, f bclFixture) string {
			c := valid(f)
			if edit != nil {
				edit(c)
			}
			return e.keyA.sign(t, c)
		}
	}
	cases := []struct {
		name   string
		token  func(*idpEnv, bclFixture) string
		status int
		effect bclEffect
	}{
		{"sid and sub", signedA(nil), 200, revokesSID},
		{"sid alone", signedA(func(c map[string]any) { delete(c, "sub") }), 200, revokesSID},
		{"sub alone revokes every session of the user", signedA(func(c map[string]any) { delete(c, "sid") }), 200, revokesUser},
		{"aud as a string", signedA(func(c map[string]any) { c["aud"] = clientA }), 200, revokesSID},
		{"aud listing this client among others", signedA(func(c map[string]any) { c["aud"] = []string{"another", clientA} }), 200, revokesSID},
		{"an unknown sid matches nothing", signedA(func(c map[string]any) { c["sid"] = "sid-nobody" }), 200, revokesNothing},
		{"an unknown sub alone matches nothing", signedA(func(c map[string]any) { delete(c, "sid"); c["sub"] = "sub-nobody" }), 200, revokesNothing},
		{"sid with another subject matches nothing", signedA(func(c map[string]any) { c["sub"] = "sub-someone-else" }), 200, revokesNothing},
		{"iat a little ahead of our clock", signedA(func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() }), 200, revokesSID},
		{"provider B, without exp", func(e *idpEnv, f bclFixture) string {
			c := logoutClaims(issuerB, clientB, f.sub, f.sid)
			delete(c, "exp")
			return e.keyB.sign(t, c)
		}, 200, revokesAtB},

		{"forged: signed by a key the provider does not have", func(e *idpEnv, f bclFixture) string {
			return e.rogue.sign(t, valid(f)) // same kid as the provider's key
		}, 400, revokesNothing},
		{"forged: provider B's key for provider A", func(e *idpEnv, f bclFixture) string {
			return e.keyB.sign(t, valid(f))
		}, 400, revokesNothing},
		{"forged: payload swapped after signing", func(e *idpEnv, f bclFixture) string {
			good := strings.Split(e.keyA.sign(t, logoutClaims(issuerA, clientA, "sub-nobody", "sid-nobody")), ".")
			other := strings.Split(e.keyA.sign(t, valid(f)), ".")
			return good[0] + "." + other[1] + "." + good[2]
		}, 400, revokesNothing},
		{"forged: alg none", func(e *idpEnv, f bclFixture) string {
			return unsignedJWT(t, valid(f))
		}, 400, revokesNothing},
		{"forged: HS256 with the public key as secret", func(e *idpEnv, f bclFixture) string {
			return hmacJWT(t, valid(f))
		}, 400, revokesNothing},
		{"another audience", signedA(func(c map[string]any) { c["aud"] = []string{"another-client"} }), 400, revokesNothing},
		{"no aud", signedA(func(c map[string]any) { delete(c, "aud") }), 400, revokesNothing},
		{"an issuer that is not configured", signedA(func(c map[string]any) { c["iss"] = "https://evil.example" }), 400, revokesNothing},
		{"provider A's token claiming provider B", signedA(func(c map[string]any) { c["iss"] = issuerB; c["aud"] = clientB }), 400, revokesNothing},
		{"expired", signedA(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), 400, revokesNothing},
		{"issued too long ago", signedA(func(c map[string]any) { c["iat"] = now.Add(-handlers.DefaultLogoutTokenMaxAge - time.Minute).Unix() }), 400, revokesNothing},
		{"issued in the future", signedA(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }), 400, revokesNothing},
		{"no iat", signedA(func(c map[string]any) { delete(c, "iat") }), 400, revokesNothing},
		{"no exp from a provider that must send it", signedA(func(c map[string]any) { delete(c, "exp") }), 400, revokesNothing},
		{"no jti", signedA(func(c map[string]any) { delete(c, "jti") }), 400, revokesNothing},
		{"a nonce (an ID token, not a logout token)", signedA(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" }), 400, revokesNothing},
		{"no events", signedA(func(c map[string]any) { delete(c, "events") }), 400, revokesNothing},
		{"another event", signedA(func(c map[string]any) {
			c["events"] = map[string]any{"https://schemas.openid.net/secevent/caep/event-type/session-revoked": map[string]any{}}
		}), 400, revokesNothing},
		{"neither sub nor sid", signedA(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }), 400, revokesNothing},
		{"not a JWT", func(*idpEnv, bclFixture) string { return "not-a-jwt" }, 400, revokesNothing},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			f := newBCLFixture(e, i)
			before := len(e.recorded())
			r := e.postLogout(tc.token(e, f))
			if tc.status == 200 {
				is.Equal(r.StatusCode, 200)
				is.Equal(r.Header.Get("Cache-Control"), "no-store")
			} else {
				checkOAuth(t, r, tc.status, "invalid_request")
			}
			want := map[string]bool{"inSID1": true, "inSID2": true, "otherSID": true, "local": true, "atB": true}
			switch tc.effect {
			case revokesSID:
				want["inSID1"], want["inSID2"] = false, false
			case revokesUser:
				for k := range want {
					want[k] = false
				}
			case revokesAtB:
				want["atB"] = false
			}
			got := map[string]bool{"inSID1": e.active(f.inSID1), "inSID2": e.active(f.inSID2),
				"otherSID": e.active(f.otherSID), "local": e.active(f.local), "atB": e.active(f.atB)}
			is.Equal(got, want) // which sessions are still active
			evs := e.recorded()[before:]
			if tc.effect == revokesNothing {
				is.Equal(len(evs), 0) // no revocation reported
				return
			}
			is.Equal(len(evs), 1)
			iss := issuerA
			if tc.effect == revokesAtB {
				iss = issuerB
			}
			is.Equal(evs[0].Actor, revoke.ProviderActor(iss)) // the provider is the actor
			is.Equal(evs[0].Reason, revoke.ReasonProviderLogout)
			is.Equal(evs[0].UserID, f.user)
		})
	}
}

// unsignedJWT returns claims as a JWT with alg none.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	return b64JSON(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64JSON(t, claims) + "."
}

// hmacJWT signs claims with HS256, the key being a public string: the
// algorithm-confusion attack on verifiers that take any alg.
func hmacJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("the provider's public key, as a secret")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBackChannelLogoutRefusesAReplay(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{})
	f := newBCLFixture(e, 0)
	token := e.keyA.sign(t, logoutClaims(issuerA, clientA, "", f.sid))
	is.Equal(e.postLogout(token).StatusCode, 200)
	is.True(!e.active(f.inSID1))

	// The user signs in again with a password; the replayed sub-only token
	// must not end that session.
	again := e.signIn(f.user, "", "", "")
	subOnly := e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, ""))
	is.Equal(e.postLogout(subOnly).StatusCode, 200)
	is.True(!e.active(again))
	fresh := e.signIn(f.user, "", "", "")
	before := len(e.recorded())
	v := checkOAuth(t, e.postLogout(subOnly), 400, "invalid_request")
	is.True(strings.Contains(v["error_description"].(string), "already used"))
	is.True(e.active(fresh)) // the replay revoked nothing
	is.Equal(len(e.recorded()), before)
}

func TestBackChannelLogoutRequest(t *testing.T) {
	e := newIDPEnv(t, idpConfig{})
	f := newBCLFixture(e, 0)
	good := func() string { return e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, f.sid)) }
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, contentType, body string
	}{
		{"no body", form, ""},
		{"no logout_token", form, "token=" + good()},
		{"empty logout_token", form, "logout_token="},
		{"logout_token twice", form, url.Values{"logout_token": {good(), good()}}.Encode()},
		{"JSON instead of a form", "application/json", `{"logout_token":"` + good() + `"}`},
		{"no content type", "", "logout_token=" + good()},
		{"a bad form escape", form, "logout_token=%ZZ"},
		{"a body over the limit", form, "logout_token=" + good() + "&pad=" + strings.Repeat("p", 20<<10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.contentType != "" {
				headers = []string{"Content-Type", tc.contentType}
			}
			checkOAuth(t, e.do("POST", "/auth/oidc/backchannel-logout", tc.body, headers...), 400, "invalid_request")
			is.New(t).True(e.active(f.inSID1)) // nothing revoked
		})
	}
	t.Run("form with a charset", func(t *testing.T) {
		is := is.New(t)
		r := e.do("POST", "/auth/oidc/backchannel-logout", url.Values{"logout_token": {good()}}.Encode(),
			"Content-Type", form+"; charset=UTF-8")
		is.Equal(r.StatusCode, 200)
		is.True(!e.active(f.inSID1))
	})
	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		r := e.do("GET", "/auth/oidc/backchannel-logout", "")
		checkOAuth(t, r, 405, "invalid_request")
		is.Equal(r.Header.Get("Allow"), "POST")
	})
}

func TestBackChannelLogoutStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   int32
		status int
		code   string
	}{
		{"store unavailable", unavailable, 503, "temporarily_unavailable"},
		{"store failing", broken, 500, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newIDPEnv(t, idpConfig{})
			f := newBCLFixture(e, 0)
			token := e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, f.sid))
			e.st.mode.Store(tc.mode)
			r := e.postLogout(token)
			checkOAuth(t, r, tc.status, tc.code)
			if tc.status == 503 {
				is.Equal(r.Header.Get("Retry-After"), "2")
			}
			e.st.mode.Store(healthy)
			is.True(e.active(f.inSID1)) // nothing revoked
			is.True(strings.Contains(e.logs.String(), r.Header.Get("X-Request-Id")))
			// The provider retries once the store answers again.
			is.Equal(e.postLogout(token).StatusCode, 200)
			is.True(!e.active(f.inSID1))
		})
	}
}

// A provider that retries after the revocation itself failed is not
// refused as a replay.
func TestBackChannelLogoutRetryAfterAFailedRevocation(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{})
	f := newBCLFixture(e, 0)
	token := e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, f.sid))
	e.st.failRevoke.Store(true)
	checkOAuth(t, e.postLogout(token), 503, "temporarily_unavailable")
	e.st.failRevoke.Store(false)
	is.True(e.active(f.inSID1))
	is.Equal(e.postLogout(token).StatusCode, 200)
	is.True(!e.active(f.inSID1))
	checkOAuth(t, e.postLogout(token), 400, "invalid_request") // now it is a replay
}

func TestBackChannelLogoutRateLimit(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{handlers: []handlers.Option{
		handlers.WithRateLimit(handlers.FamilyOIDC, handlers.RateLimit{Requests: 1, Window: time.Hour}),
	}})
	f := newBCLFixture(e, 0)
	is.Equal(e.postLogout(e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, f.sid))).StatusCode, 200)
	other := e.signIn(f.user, issuerA, f.sub, "sid-2")
	r := e.postLogout(e.keyA.sign(t, logoutClaims(issuerA, clientA, f.sub, "sid-2")))
	checkOAuth(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	is.True(r.Header.Get("Retry-After") != "")
	is.True(e.active(other)) // refused before anything was verified or revoked
}

func TestBackChannelLogoutOptions(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{})
	ks := e.keySet()
	for _, p := range []handlers.OIDCProvider{
		{ClientID: clientA, KeySet: ks},
		{Issuer: issuerA, KeySet: ks},
		{Issuer: issuerA, ClientID: clientA},
	} {
		_, err := handlers.New(e.m, handlers.WithBackChannelLogout(p))
		is.True(err != nil) // an incomplete provider is refused
	}
	_, err := handlers.New(e.m, handlers.WithBackChannelLogout())
	is.True(err != nil) // no provider

	// A store without the extensions is refused at start-up.
	m, err := revoke.New(plainStore{e.st})
	is.NoErr(err)
	_, err = handlers.New(m, handlers.WithBackChannelLogout(handlers.OIDCProvider{Issuer: issuerA, ClientID: clientA, KeySet: e.keySet()}))
	is.True(err != nil)
}
