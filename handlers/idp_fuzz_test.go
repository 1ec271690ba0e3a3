package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/revokehq/revoke/handlers"
)

// FuzzBackChannelLogoutToken posts arbitrary logout tokens to a handler
// with two providers configured: none may be accepted, get a 5xx or revoke
// anything, since the fuzzer cannot sign for a provider.
func FuzzBackChannelLogoutToken(f *testing.F) {
	// Unlimited, so that every input reaches the verification.
	e := newIDPEnv(f, idpConfig{handlers: []handlers.Option{handlers.WithoutRateLimit(handlers.FamilyOIDC)}})
	victim := e.signIn("fuzz", issuerA, "sub-0", "sid-0")
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC1hLmV4YW1wbGUifQ.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImExIn0.eyJpc3MiOiJodHRwczovL2lkcC1hLmV4YW1wbGUiLCJzaWQiOiJzaWQtMCJ9.c2ln")
	f.Add(e.rogue.sign(f, logoutClaims(issuerA, clientA, "sub-0", "sid-0")))
	f.Fuzz(func(t *testing.T, token string) {
		res, err := http.Post(e.srv.URL+"/auth/oidc/backchannel-logout", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%q: %d %s", token, res.StatusCode, body)
		}
		if !e.active(victim) {
			t.Fatalf("%q revoked a session", token)
		}
	})
}
