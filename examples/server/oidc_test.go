package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store/memstore"
)

func TestParseConfigOIDC(t *testing.T) {
	is := is.New(t)
	all := []string{"-oidc-issuer", "http://127.0.0.1:4444", "-oidc-client-id", "demo", "-oidc-client-secret", "s3cret"}
	cfg, err := parseConfig(all, env(), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.oidc, oidcFlags{issuer: "http://127.0.0.1:4444", clientID: "demo", clientSecret: "s3cret"})

	for _, args := range [][]string{all[:2], all[:4], all[2:]} {
		_, err := parseConfig(args, env(), io.Discard)
		is.True(err != nil) // a partial provider configuration is refused
	}
}

// A provider that cannot be discovered stops the demo at start-up rather
// than leaving a sign-in button that fails.
func TestOIDCProviderMustBeReachable(t *testing.T) {
	is := is.New(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	cfg := config{addr: "127.0.0.1:0", memory: true, password: testPassword, adminToken: testAdminToken,
		oidc: oidcFlags{issuer: gone.URL, clientID: "demo", clientSecret: "s3cret"}}
	st := memstore.New()
	defer st.Close()
	_, err := newApp(cfg, st, slog.New(slog.DiscardHandler))
	is.True(err != nil)
}

func TestOIDCRoutesNeedTheFlags(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	res, err := http.Get(srv.URL + "/auth/oidc/login")
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusNotFound) // no provider, no sign-in through one
}
