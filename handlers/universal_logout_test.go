package handlers_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

const pGTR = "/oauth2/v1/global-token-revocation"

// oktaJWT returns the bearer JWT Okta's Universal Logout sends, signed by
// the org's key, edited by edit.
func (e *idpEnv) oktaJWT(edit func(c map[string]any)) string {
	e.t.Helper()
	now := time.Now()
	c := map[string]any{
		"iss": oktaOrg,
		"aud": ulAudience,
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": rand.Text(),
		"sub": "0oa-okta-app",
	}
	if edit != nil {
		edit(c)
	}
	return e.okta.sign(e.t, c)
}

// resolver is the app's user lookup by email; "breakglass@example.com"
// must never be signed out this way, and "boom@example.com" fails.
func resolver(_ context.Context, id handlers.SubjectID) (string, error) {
	if id.Format != "email" {
		return "", handlers.ErrUnsupportedSubject
	}
	switch id.Email {
	case "ann@example.com":
		return "ann", nil
	case "breakglass@example.com":
		return "", handlers.ErrCannotSignOut
	case "boom@example.com":
		return "", errors.New(secret)
	}
	return "", handlers.ErrUnknownSubject
}

func TestGlobalTokenRevocation(t *testing.T) {
	e := newIDPEnv(t, idpConfig{handlers: []handlers.Option{
		handlers.WithSubjectResolver(resolver),
		handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return id == "ann", nil }),
	}})
	bearer := func(edit func(c map[string]any)) func(*idpEnv) []string {
		return func(e *idpEnv) []string { return []string{"Authorization", "Bearer " + e.oktaJWT(edit)} }
	}
	okta := bearer(nil)
	admin := func(*idpEnv) []string { return []string{"Authorization", "SSWS " + adminToken} }
	jsonBody := func(h func(*idpEnv) []string) func(*idpEnv) []string {
		return func(e *idpEnv) []string { return append(h(e), "Content-Type", "application/json") }
	}
	issSub := `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `","sub":"sub-ann"}}`
	cases := []struct {
		name    string
		headers func(*idpEnv) []string
		body    string
		status  int
		code    string
		revokes bool
		actor   string
	}{
		{"Okta's JWT, iss_sub", jsonBody(okta), issSub, 204, "", true, revoke.ProviderActor(oktaOrg)},
		{"Okta's JWT, email through the app's lookup", jsonBody(okta), `{"sub_id":{"format":"email","email":"ann@example.com"}}`, 204, "", true, revoke.ProviderActor(oktaOrg)},
		{"admin token, opaque user id", jsonBody(admin), `{"sub_id":{"format":"opaque","id":"ann"}}`, 204, "", true, ""},
		{"aud among several", jsonBody(bearer(func(c map[string]any) { c["aud"] = []string{"x", ulAudience} })), issSub, 204, "", true, revoke.ProviderActor(oktaOrg)},
		{"a subject the app does not know", jsonBody(okta), `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `","sub":"sub-nobody"}}`, 404, "E0000007", false, ""},
		{"an email the app does not know", jsonBody(okta), `{"sub_id":{"format":"email","email":"nobody@example.com"}}`, 404, "E0000007", false, ""},
		{"an opaque id of no user", jsonBody(admin), `{"sub_id":{"format":"opaque","id":"nobody"}}`, 404, "E0000007", false, ""},
		{"a user who cannot be signed out", jsonBody(okta), `{"sub_id":{"format":"email","email":"breakglass@example.com"}}`, 422, "E0000001", false, ""},
		{"an unsupported format", jsonBody(okta), `{"sub_id":{"format":"phone_number","phone_number":"+12065550100"}}`, 400, "E0000001", false, ""},
		{"no format", jsonBody(okta), `{"sub_id":{"email":"ann@example.com"}}`, 400, "E0000001", false, ""},
		{"email format without email", jsonBody(okta), `{"sub_id":{"format":"email"}}`, 400, "E0000001", false, ""},
		{"iss_sub without sub", jsonBody(okta), `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `"}}`, 400, "E0000001", false, ""},
		{"no sub_id", jsonBody(okta), `{}`, 400, "E0000001", false, ""},
		{"sub_id not an object", jsonBody(okta), `{"sub_id":"ann"}`, 400, "E0000001", false, ""},
		{"malformed JSON", jsonBody(okta), `{"sub_id":`, 400, "E0000003", false, ""},
		{"two JSON values", jsonBody(okta), issSub + issSub, 400, "E0000003", false, ""},
		{"a body over the limit", jsonBody(okta), `{"pad":"` + strings.Repeat("p", 8<<10) + `"}`, 400, "E0000003", false, ""},
		{"no credentials", nil, issSub, 401, "E0000011", false, ""},
		{"an unknown admin token", func(*idpEnv) []string { return []string{"Authorization", "SSWS not-the-admin-token-at-all"} }, issSub, 401, "E0000011", false, ""},
		{"forged JWT: another key", func(e *idpEnv) []string {
			return []string{"Authorization", "Bearer " + e.rogue.sign(t, map[string]any{"iss": oktaOrg, "aud": ulAudience,
				"exp": time.Now().Add(time.Minute).Unix(), "jti": rand.Text()})}
		}, issSub, 401, "E0000011", false, ""},
		{"JWT for another audience", bearer(func(c map[string]any) { c["aud"] = "https://other.example/logout" }), issSub, 401, "E0000011", false, ""},
		{"expired JWT", bearer(func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() }), issSub, 401, "E0000011", false, ""},
		{"JWT without exp", bearer(func(c map[string]any) { delete(c, "exp") }), issSub, 401, "E0000011", false, ""},
		{"JWT living too long", bearer(func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }), issSub, 401, "E0000011", false, ""},
		{"JWT without jti", bearer(func(c map[string]any) { delete(c, "jti") }), issSub, 401, "E0000011", false, ""},
		{"JWT not yet valid", bearer(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), issSub, 401, "E0000011", false, ""},
		{"JWT of an unknown issuer", bearer(func(c map[string]any) { c["iss"] = "https://evil.example" }), issSub, 401, "E0000011", false, ""},
		{"a valid token without admin rights", func(*idpEnv) []string { return []string{"Authorization", "Bearer " + readOnlyBearer} }, issSub, 403, "E0000006", false, ""},
		{"a user's session is no admin", func(e *idpEnv) []string {
			return []string{"X-Session-Token", e.signIn("bob", "", "", "").token}
		}, issSub, 401, "E0000011", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			ann := []session{
				e.signIn("ann", issuerA, "sub-ann", "sid-"+rand.Text()),
				e.signIn("ann", "", "", ""),
			}
			bystander := e.signIn("bob", issuerA, "sub-bob", "sid-bob")
			before := len(e.recorded())
			var headers []string
			if tc.headers != nil {
				headers = tc.headers(e)
			}
			r := e.do("POST", pGTR, tc.body, headers...)
			if tc.status == 204 {
				is.Equal(r.StatusCode, 204)
				is.Equal(len(r.body), 0)
			} else {
				checkOkta(t, r, tc.status, tc.code)
			}
			is.True(r.Header.Get("X-Rate-Limit-Limit") != "") // Okta's rate-limit headers
			for _, s := range ann {
				is.Equal(e.active(s), !tc.revokes)
			}
			is.True(e.active(bystander)) // nobody else is signed out
			evs := e.recorded()[before:]
			if !tc.revokes {
				is.Equal(len(evs), 0)
				return
			}
			is.Equal(len(evs), 1)
			is.Equal(evs[0].UserID, "ann")
			is.Equal(evs[0].Reason, revoke.ReasonProviderLogout)
			if tc.actor != "" {
				is.Equal(evs[0].Actor, tc.actor)
			}
		})
	}
}

func TestGlobalTokenRevocationRefusesAReplayedJWT(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{})
	e.signIn("ann", issuerA, "sub-ann", "sid-1")
	token := e.oktaJWT(nil)
	body := `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `","sub":"sub-ann"}}`
	is.Equal(e.do("POST", pGTR, body, "Authorization", "Bearer "+token).StatusCode, 204)
	again := e.signIn("ann", "", "", "")
	checkOkta(t, e.do("POST", pGTR, body, "Authorization", "Bearer "+token), 401, "E0000011")
	is.True(e.active(again))
}

// The route is one of the Okta family's: served with a trailing slash too,
// and a path under /oauth2/v1/ that is no route is Okta's 404, not the
// mux's text/plain.
func TestGlobalTokenRevocationIsAnOktaRoute(t *testing.T) {
	is := is.New(t)
	e := newIDPEnv(t, idpConfig{})
	s := e.signIn("ann", issuerA, "sub-ann", "sid-1")
	body := `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `","sub":"sub-ann"}}`
	r := e.do("POST", pGTR+"/", body, "Authorization", "Bearer "+e.oktaJWT(nil), "Content-Type", "application/json")
	is.Equal(r.StatusCode, 204)
	is.True(!e.active(s))

	r = e.do("POST", "/oauth2/v1/revoke", "", "Authorization", "SSWS "+adminToken)
	v := checkOkta(t, r, 404, "E0000007")
	is.Equal(v["errorSummary"], "Not found: Resource not found: /oauth2/v1/revoke")
	checkRateHeaders(t, r)
}

func TestGlobalTokenRevocationFailures(t *testing.T) {
	body := `{"sub_id":{"format":"iss_sub","iss":"` + issuerA + `","sub":"sub-ann"}}`
	t.Run("store unavailable", func(t *testing.T) {
		is := is.New(t)
		e := newIDPEnv(t, idpConfig{})
		s := e.signIn("ann", issuerA, "sub-ann", "sid-1")
		e.st.mode.Store(unavailable)
		r := e.do("POST", pGTR, body, "Authorization", "Bearer "+e.oktaJWT(nil))
		checkOkta(t, r, 503, "E0000010")
		is.True(r.Header.Get("X-Rate-Limit-Reset") != "")
		is.True(r.Header.Get("Date") != "")
		e.st.mode.Store(healthy)
		is.True(e.active(s))
	})
	t.Run("the app's lookup fails", func(t *testing.T) {
		is := is.New(t)
		e := newIDPEnv(t, idpConfig{handlers: []handlers.Option{handlers.WithSubjectResolver(resolver)}})
		s := e.signIn("ann", issuerA, "sub-ann", "sid-1")
		r := e.do("POST", pGTR, `{"sub_id":{"format":"email","email":"boom@example.com"}}`, "Authorization", "Bearer "+e.oktaJWT(nil))
		checkOkta(t, r, 500, "E0000009")
		is.True(strings.Contains(e.logs.String(), r.Header.Get("X-Request-Id")))
		is.True(e.active(s))
	})
	t.Run("the OAuth token revoker fails after the sessions", func(t *testing.T) {
		is := is.New(t)
		e := newIDPEnv(t, idpConfig{manager: []revoke.Option{
			revoke.WithOAuthTokenRevoker(func(context.Context, string) error { return errors.New(secret) }),
		}})
		s := e.signIn("ann", issuerA, "sub-ann", "sid-1")
		r := e.do("POST", pGTR, body, "Authorization", "Bearer "+e.oktaJWT(nil))
		v := checkOkta(t, r, 500, "E0000009")
		is.True(strings.Contains(fmt.Sprint(v["errorCauses"]), "retry"))
		is.True(!e.active(s)) // the sessions go first
	})
	t.Run("rate limited", func(t *testing.T) {
		is := is.New(t)
		e := newIDPEnv(t, idpConfig{handlers: []handlers.Option{
			handlers.WithRouteRateLimit(handlers.RouteGlobalTokenRevocation, handlers.RateLimit{Requests: 1, Window: time.Hour}),
		}})
		s := e.signIn("ann", issuerA, "sub-ann", "sid-1")
		checkOkta(t, e.do("POST", pGTR, `{}`, "Authorization", "SSWS "+adminToken), 400, "E0000001")
		r := e.do("POST", pGTR, body, "Authorization", "SSWS "+adminToken)
		checkOkta(t, r, http.StatusTooManyRequests, "E0000047")
		is.True(e.active(s))
	})
	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newIDPEnv(t, idpConfig{})
		r := e.do("DELETE", pGTR, "", "Authorization", "SSWS "+adminToken)
		checkOkta(t, r, 405, "E0000022")
		is.Equal(r.Header.Get("Allow"), "POST")
	})
}
