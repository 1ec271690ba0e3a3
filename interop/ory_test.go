package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"
	ory "github.com/ory/client-go"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/device"
)

// oryClient returns Ory's client for the test server. Its frontend API
// paths are relative to the server URL ("/sessions/whoami"), so the server
// is the handlers' /auth prefix.
func (e *env) oryClient() *ory.APIClient {
	cfg := ory.NewConfiguration()
	cfg.Servers = ory.ServerConfigurations{{URL: e.srv.URL + "/auth"}}
	cfg.HTTPClient = e.srv.Client()
	return ory.NewAPIClient(cfg)
}

// credential is one way of presenting a session to Ory's client.
type credential struct {
	name   string
	token  string // X-Session-Token
	cookie string // Cookie header
}

// presenting sets c on one of the Ory client's request builders, which all
// offer XSessionToken and Cookie.
func presenting[R interface {
	XSessionToken(string) R
	Cookie(string) R
}](req R, c credential) R {
	if c.token != "" {
		req = req.XSessionToken(c.token)
	}
	if c.cookie != "" {
		req = req.Cookie(c.cookie)
	}
	return req
}

func (e *env) credentials(s session) []credential {
	return []credential{
		{name: "X-Session-Token", token: s.token},
		// As a server relaying its browser's Cookie header would: other
		// cookies come along.
		{name: "cookie", cookie: "theme=dark; " + e.cookie(s.token)},
	}
}

// oryError returns the error body an Ory client call failed with, as the
// client decoded it (ErrorGeneric), and as Kratos's GenericError, which
// carries the fields the client's model keeps only as additional
// properties.
func oryError(t *testing.T, err error) (ory.ErrorGeneric, ory.GenericError) {
	t.Helper()
	var gerr *ory.GenericOpenAPIError
	if !errors.As(err, &gerr) {
		t.Fatalf("error %T %v is not the client's GenericOpenAPIError", err, err)
	}
	m, ok := gerr.Model().(ory.ErrorGeneric)
	if !ok {
		t.Fatalf("model %T of %q is not ErrorGeneric", gerr.Model(), gerr.Body())
	}
	var body struct {
		Error ory.GenericError `json:"error"`
	}
	if err := json.Unmarshal(gerr.Body(), &body); err != nil {
		t.Fatalf("body %q: %v", gerr.Body(), err)
	}
	return m, body.Error
}

// checkSession checks what Ory's client parsed of a session against the
// fixture it came from.
func checkSession(is *is.I, got ory.Session, want session) {
	is.Helper()
	is.Equal(got.Id, want.ID)
	is.True(got.GetActive())
	// The session ends at the earlier of its absolute and idle expiry.
	expiry := want.ExpiresAt
	if want.IdleExpiresAt.Before(expiry) {
		expiry = want.IdleExpiresAt
	}
	is.True(got.GetExpiresAt().Equal(expiry))
	is.True(got.GetAuthenticatedAt().Equal(want.Authenticated()))
	is.True(got.GetIssuedAt().Equal(want.CreatedAt))
	identity := got.GetIdentity()
	is.Equal(identity.Id, want.UserID)
	is.Equal(len(got.Devices), 1)
	is.Equal(got.Devices[0].GetIpAddress(), deviceIP)
	is.Equal(got.Devices[0].GetUserAgent(), deviceAgent)
	// Beyond Kratos, kept by the client as additional properties: the
	// readable device, and the absolute expiry.
	is.Equal(got.Devices[0].AdditionalProperties["name"], device.Describe(deviceAgent).Name)
	is.Equal(got.Devices[0].AdditionalProperties["mobile"], false)
	absolute, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got.AdditionalProperties["absolute_expires_at"]))
	is.NoErr(err)
	is.True(absolute.Equal(want.ExpiresAt))
}

func TestOryToSession(t *testing.T) {
	e := newEnv(t, envConfig{})
	s1 := e.login("ory-user")
	e.login("ory-user")

	for _, c := range e.credentials(s1) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			req := e.oryClient().FrontendAPI.ToSession(context.Background())
			req = presenting(req, c)
			got, resp, err := req.Execute()
			is.NoErr(err)
			is.Equal(resp.StatusCode, http.StatusOK)
			checkSession(is, *got, s1)
			is.Equal(got.AdditionalProperties["current"], true)
			is.Equal(resp.Header.Get("X-Kratos-Authenticated-Identity-Id"), "ory-user")
		})
	}
}

func TestOryListMySessions(t *testing.T) {
	e := newEnv(t, envConfig{})
	s1, s2, s3 := e.login("ory-user"), e.login("ory-user"), e.login("ory-user")
	s4 := e.login("ory-user")
	e.login("00u2bob")
	if _, err := e.m.RevokeSession(context.Background(), "ory-user", s4.ID, revoke.Cause{Actor: "test", Reason: "test"}); err != nil {
		t.Fatal(err)
	}

	for _, c := range e.credentials(s1) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			req := e.oryClient().FrontendAPI.ListMySessions(context.Background())
			req = presenting(req, c)
			got, resp, err := req.Execute()
			is.NoErr(err)
			is.Equal(resp.StatusCode, http.StatusOK)
			// The other active sessions: not the current one (whoami's),
			// not the revoked one, not another user's.
			is.Equal(len(got), 2)
			want := map[string]session{s2.ID: s2, s3.ID: s3}
			for _, g := range got {
				w, ok := want[g.Id]
				is.True(ok) // unexpected session listed
				checkSession(is, g, w)
				is.Equal(g.AdditionalProperties["current"], false)
			}
		})
	}
}

func TestOryDisableMySession(t *testing.T) {
	e := newEnv(t, envConfig{})
	s1 := e.login("ory-user")
	bob := e.login("00u2bob")

	for _, c := range e.credentials(s1) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			api := e.oryClient().FrontendAPI
			call := func(id string) (*http.Response, error) {
				req := api.DisableMySession(context.Background(), id)
				req = presenting(req, c)
				return req.Execute()
			}

			other := e.login("ory-user")
			resp, err := call(other.ID)
			is.NoErr(err)
			is.Equal(resp.StatusCode, http.StatusNoContent)
			is.True(!e.active(other.token))
			is.True(e.active(s1.token))

			// The current session is refused: that is the logout flow's job.
			resp, err = call(s1.ID)
			is.Equal(resp.StatusCode, http.StatusBadRequest)
			m, g := oryError(t, err)
			is.Equal(m.Error.GetMessage(), "The request was malformed or contained invalid parameters")
			is.Equal(g.GetCode(), int64(http.StatusBadRequest))
			is.True(e.active(s1.token))

			// Another user's session is not found, and stays active.
			resp, err = call(bob.ID)
			is.Equal(resp.StatusCode, http.StatusNotFound)
			_, g = oryError(t, err)
			is.Equal(g.GetCode(), int64(http.StatusNotFound))
			is.True(e.active(bob.token))
		})
	}
}

func TestOryDisableMyOtherSessions(t *testing.T) {
	e := newEnv(t, envConfig{})
	s1 := e.login("ory-user")
	bob := e.login("00u2bob")

	for _, c := range e.credentials(s1) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			api := e.oryClient().FrontendAPI
			call := func() (*ory.DeleteMySessionsCount, *http.Response, error) {
				req := api.DisableMyOtherSessions(context.Background())
				req = presenting(req, c)
				return req.Execute()
			}

			others := []session{e.login("ory-user"), e.login("ory-user"), e.login("ory-user")}
			// Already revoked sessions are not counted again.
			if _, err := e.m.RevokeSession(context.Background(), "ory-user", others[2].ID, revoke.Cause{Actor: "test", Reason: "test"}); err != nil {
				t.Fatal(err)
			}

			got, resp, err := call()
			is.NoErr(err)
			is.Equal(resp.StatusCode, http.StatusOK)
			is.Equal(got.GetCount(), int64(2))
			is.True(slices.IndexFunc(others, func(s session) bool { return e.active(s.token) }) < 0)
			is.True(e.active(s1.token))
			is.True(e.active(bob.token))

			got, _, err = call()
			is.NoErr(err)
			is.Equal(got.GetCount(), int64(0))
		})
	}
}

func TestOryUnauthorized(t *testing.T) {
	e := newEnv(t, envConfig{})
	s1 := e.login("ory-user")
	revoked := e.login("ory-user")
	if _, err := e.m.RevokeSession(context.Background(), "ory-user", revoked.ID, revoke.Cause{Actor: "test", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	api := e.oryClient().FrontendAPI
	ctx := context.Background()

	// Each call with each kind of bad credential.
	creds := []credential{
		{name: "none"},
		{name: "unknown token", token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{name: "revoked token", token: revoked.token},
		{name: "revoked cookie", cookie: e.cookie(revoked.token)},
	}
	type call func(c credential) (*http.Response, error)
	calls := map[string]call{
		"ToSession": func(c credential) (*http.Response, error) {
			req := api.ToSession(ctx)
			req = presenting(req, c)
			_, resp, err := req.Execute()
			return resp, err
		},
		"ListMySessions": func(c credential) (*http.Response, error) {
			req := api.ListMySessions(ctx)
			req = presenting(req, c)
			_, resp, err := req.Execute()
			return resp, err
		},
		"DisableMySession": func(c credential) (*http.Response, error) {
			req := api.DisableMySession(ctx, s1.ID)
			req = presenting(req, c)
			return req.Execute()
		},
		"DisableMyOtherSessions": func(c credential) (*http.Response, error) {
			req := api.DisableMyOtherSessions(ctx)
			req = presenting(req, c)
			_, resp, err := req.Execute()
			return resp, err
		},
	}
	for name, call := range calls {
		for _, c := range creds {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				is := is.New(t)
				resp, err := call(c)
				is.True(err != nil)
				is.Equal(resp.StatusCode, http.StatusUnauthorized)
				m, g := oryError(t, err)
				is.Equal(m.Error.GetMessage(), "The request could not be authorized")
				is.Equal(m.Error.GetId(), "session_inactive")
				is.Equal(g.GetCode(), int64(http.StatusUnauthorized))
				is.Equal(g.GetStatus(), "Unauthorized")
				is.Equal(g.GetReason(), "No valid session credentials found in the request.")
				is.Equal(g.GetRequest(), resp.Header.Get("X-Request-Id"))
			})
		}
	}
	if !e.active(s1.token) {
		t.Fatal("a refused call revoked a session")
	}
}

func TestOryMalformedToken(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	s1 := e.login("ory-user")

	_, resp, err := e.oryClient().FrontendAPI.DisableMyOtherSessions(context.Background()).
		XSessionToken("not a session token").Execute()
	is.Equal(resp.StatusCode, http.StatusBadRequest)
	_, g := oryError(t, err)
	is.Equal(g.GetCode(), int64(http.StatusBadRequest))
	is.True(e.active(s1.token))
}
