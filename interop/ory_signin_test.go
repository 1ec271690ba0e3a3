package interop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"
	ory "github.com/ory/client-go"

	"github.com/revokehq/revoke"
)

// TestOryToSessionAuthentication: Ory's client parses how the session was
// authenticated, in Kratos's own fields, at sign-in and after a step-up.
func TestOryToSessionAuthentication(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	checked := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	s, token, err := e.m.Create(context.Background(), "ory-user", revoke.Device{IP: deviceIP, UserAgent: deviceAgent},
		revoke.AuthenticatedAt(checked),
		revoke.AuthenticatedWith(revoke.AuthMethod{Method: "password", AAL: revoke.AAL1}),
		revoke.Label("tenant", "acme"))
	is.NoErr(err)

	toSession := func(token string) ory.Session {
		got, resp, err := e.oryClient().FrontendAPI.ToSession(context.Background()).XSessionToken(token).Execute()
		is.NoErr(err)
		is.Equal(resp.StatusCode, http.StatusOK)
		checkSession(is, *got, session{s, token})
		return *got
	}
	got := toSession(token)
	is.True(got.GetAuthenticatedAt().Equal(checked))
	is.Equal(got.GetAuthenticatorAssuranceLevel(), ory.AUTHENTICATORASSURANCELEVEL_AAL1)
	methods := got.GetAuthenticationMethods()
	is.Equal(len(methods), 1)
	is.Equal(methods[0].GetMethod(), "password")
	is.Equal(methods[0].GetAal(), ory.AUTHENTICATORASSURANCELEVEL_AAL1)
	is.True(methods[0].GetCompletedAt().Equal(checked))
	is.Equal(got.AdditionalProperties["labels"], map[string]any{"tenant": "acme"})

	// A second factor: a new token, a new authentication time, aal2.
	r, _ := http.NewRequest("POST", "/", nil)
	r.Header.Set(revoke.HeaderName, token)
	stepped, err := e.m.Reauthenticated(httptest.NewRecorder(), r, revoke.AuthMethod{Method: "totp", AAL: revoke.AAL2})
	is.NoErr(err)
	after, err := e.m.Resolve(context.Background(), stepped)
	is.NoErr(err)
	s = after
	got = toSession(stepped)
	is.Equal(got.GetAuthenticatorAssuranceLevel(), ory.AUTHENTICATORASSURANCELEVEL_AAL2)
	methods = got.GetAuthenticationMethods()
	is.Equal(len(methods), 2)
	is.Equal(methods[1].GetMethod(), "totp")
	is.Equal(methods[1].GetAal(), ory.AUTHENTICATORASSURANCELEVEL_AAL2)
	is.True(got.GetAuthenticatedAt().After(checked))
	is.True(!e.active(token)) // the token from before the step-up is dead
}
