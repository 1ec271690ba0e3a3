package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/revokehq/revoke/handlers"
)

// Okta's Go SDK v5 calls RevokeUserSessions through UserAPI and sends only
// oauthTokens: it has no forgetDevices parameter (so the server's default,
// true, applies) and no call for POST
// /api/v1/users/me/lifecycle/delete_sessions, which these tests therefore
// cannot drive.

// oktaClient returns an SDK client for the test server, authenticating with
// "SSWS token". maxRetries is how often the SDK retries a 429.
func (e *env) oktaClient(token string, maxRetries int32) *okta.APIClient {
	return e.oktaClientMode("SSWS", token, maxRetries)
}

// oktaClientMode is oktaClient with another of the SDK's authorization
// modes ("SSWS" or "Bearer").
func (e *env) oktaClientMode(mode, token string, maxRetries int32) *okta.APIClient {
	e.t.Helper()
	cfg, err := okta.NewConfiguration(
		okta.WithOrgUrl(e.srv.URL),
		okta.WithToken(token),
		okta.WithAuthorizationMode(mode),
		okta.WithTestingDisableHttpsCheck(true),
		okta.WithCache(false),
		okta.WithRequestTimeout(30),
		okta.WithRateLimitMaxRetries(maxRetries),
		okta.WithRateLimitMaxBackOff(5),
		okta.WithHttpClientPtr(e.srv.Client()),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	// The SDK keeps only the host name of the org URL and puts it in
	// Host, which overrides every request's host; give it the port too.
	cfg.Host = e.srv.Listener.Addr().String()
	cfg.Scheme = "http"
	return okta.NewAPIClient(cfg)
}

// oktaError returns the Okta Error an SDK call failed with. The SDK decodes
// the body itself for the statuses the Okta spec lists for the operation
// (403, 404, 429); for the others the body is decoded here, into the same
// type.
func oktaError(t *testing.T, err error) okta.Error {
	t.Helper()
	var gerr *okta.GenericOpenAPIError
	if !errors.As(err, &gerr) {
		t.Fatalf("error %T %v is not the SDK's GenericOpenAPIError", err, err)
	}
	if m, ok := gerr.Model().(okta.Error); ok {
		return m
	}
	var m okta.Error
	if err := json.Unmarshal(gerr.Body(), &m); err != nil {
		t.Fatalf("body %q: %v", gerr.Body(), err)
	}
	return m
}

func TestOktaRevokeUserSessions(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	a1, a2 := e.login("00u1alice"), e.login("00u1alice")
	b1 := e.login("00u2bob")

	resp, err := e.oktaClient(adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00u1alice").OauthTokens(true).Execute()
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusNoContent)

	is.True(!e.active(a1.token))
	is.True(!e.active(a2.token))
	is.True(e.active(b1.token)) // another user's session is untouched
	is.Equal(e.oauth.calls(), []string{"00u1alice"})
	is.Equal(e.forget.calls(), []string{"00u1alice"}) // forgetDevices defaults to true

	// What the SDK sent, and the headers its retry logic relies on.
	x := e.tap.exchanges()[0]
	is.Equal(x.header.Get("Authorization"), "SSWS "+adminToken)
	is.Equal(x.method, http.MethodDelete)
	is.Equal(x.path, "/api/v1/users/00u1alice/sessions")
	for _, h := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", "Date"} {
		is.True(resp.Header.Get(h) != "") // rate limit header missing
	}
}

func TestOktaRevokeUserSessionsBearerMode(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	a1 := e.login("00u1alice")

	// The static admin token is accepted as a bearer token too.
	resp, err := e.oktaClientMode("Bearer", adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00u1alice").Execute()
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusNoContent)
	is.Equal(e.tap.exchanges()[0].header.Get("Authorization"), "Bearer "+adminToken)
	is.True(!e.active(a1.token))
}

func TestOktaRevokeUserSessionsNoSessions(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})

	// A known user without sessions: still a success.
	resp, err := e.oktaClient(adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00u2bob").Execute()
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusNoContent)
	is.Equal(len(e.oauth.calls()), 0) // oauthTokens defaults to false
}

func TestOktaRevokeUserSessionsUnknownUser(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	a1 := e.login("00u1alice")

	resp, err := e.oktaClient(adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00uNOBODY").OauthTokens(true).Execute()
	is.True(err != nil)
	is.Equal(resp.StatusCode, http.StatusNotFound)
	m := oktaError(t, err)
	is.Equal(m.GetErrorCode(), "E0000007")
	is.Equal(m.GetErrorSummary(), "Not found: Resource not found: 00uNOBODY (User)")
	is.Equal(m.GetErrorLink(), "E0000007")
	is.True(strings.HasPrefix(m.GetErrorId(), "oae"))

	is.True(e.active(a1.token))
	is.Equal(len(e.oauth.calls()), 0)
	is.Equal(len(e.forget.calls()), 0)
}

func TestOktaRevokeUserSessionsBadToken(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{})
	a1 := e.login("00u1alice")

	for _, user := range []string{"00u1alice", "00uNOBODY"} {
		resp, err := e.oktaClient("not-the-admin-token-0123456789", 0).UserAPI.
			RevokeUserSessions(context.Background(), user).OauthTokens(true).Execute()
		is.True(err != nil)
		// Credentials come first: an unknown user gets the same answer.
		is.Equal(resp.StatusCode, http.StatusUnauthorized)
		m := oktaError(t, err)
		is.Equal(m.GetErrorCode(), "E0000011")
		is.Equal(m.GetErrorSummary(), "Invalid token provided")
	}

	is.True(e.active(a1.token))
	is.Equal(len(e.oauth.calls()), 0)
	is.Equal(len(e.forget.calls()), 0)
}

func TestOktaRevokeUserSessionsNoOAuthRevoker(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{noOAuthRevoker: true})
	a1, a2 := e.login("00u1alice"), e.login("00u1alice")

	resp, err := e.oktaClient(adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00u1alice").OauthTokens(true).Execute()
	is.True(err != nil)
	is.Equal(resp.StatusCode, http.StatusBadRequest)
	m := oktaError(t, err)
	is.Equal(m.GetErrorCode(), "E0000001")
	is.Equal(m.GetErrorSummary(), "Api validation failed: oauthTokens")
	is.Equal(len(m.GetErrorCauses()), 1)
	is.True(strings.Contains(m.GetErrorCauses()[0].GetErrorSummary(), "oauthTokens"))

	// A refused request changes nothing.
	is.True(e.active(a1.token))
	is.True(e.active(a2.token))
	is.Equal(len(e.forget.calls()), 0)

	// Without oauthTokens the same server revokes.
	resp, err = e.oktaClient(adminToken, 0).UserAPI.
		RevokeUserSessions(context.Background(), "00u1alice").OauthTokens(false).Execute()
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusNoContent)
	is.True(!e.active(a1.token))
}

// tightOktaLimit allows one Okta-family request a second per caller.
var tightOktaLimit = handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: 1, Window: time.Second})

func TestOktaRateLimitRetried(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{handlers: []handlers.Option{tightOktaLimit}})
	c := e.oktaClient(adminToken, 3)
	ctx := context.Background()

	_, err := c.UserAPI.RevokeUserSessions(ctx, "00u1alice").Execute()
	is.NoErr(err)
	a1 := e.login("00u1alice")

	// Over the limit: the SDK waits as the headers tell it and retries.
	resp, err := c.UserAPI.RevokeUserSessions(ctx, "00u1alice").Execute()
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusNoContent)
	is.True(!e.active(a1.token))

	xs := e.tap.exchanges()
	is.True(len(xs) >= 3)
	is.Equal(xs[0].status, http.StatusNoContent)
	is.Equal(xs[len(xs)-1].status, http.StatusNoContent)
	limited := xs[1]
	is.Equal(limited.status, http.StatusTooManyRequests)
	var body okta.Error
	is.NoErr(json.Unmarshal(limited.body, &body))
	is.Equal(body.GetErrorCode(), "E0000047")
	is.Equal(limited.respHeader.Get("X-Rate-Limit-Remaining"), "0")
	reset, err := strconv.ParseInt(limited.respHeader.Get("X-Rate-Limit-Reset"), 10, 64)
	is.NoErr(err)

	// The SDK waits X-Rate-Limit-Reset - Date + 1 seconds after the answer,
	// so the retry cannot arrive before reset + 1.
	retry := xs[2]
	is.Equal(retry.header.Get("X-Okta-Retry-Count"), "1")
	is.True(!retry.arrived.Before(time.Unix(reset+1, 0))) // the SDK did not wait for the reset
}

func TestOktaRateLimitNotRetried(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, envConfig{handlers: []handlers.Option{tightOktaLimit}})
	c := e.oktaClient(adminToken, 0)
	ctx := context.Background()

	_, err := c.UserAPI.RevokeUserSessions(ctx, "00u1alice").Execute()
	is.NoErr(err)
	a1 := e.login("00u1alice")

	// With retries off the SDK gives up at once. It drains and drops the
	// 429's body before deciding, so the Okta error is checked on the wire.
	_, err = c.UserAPI.RevokeUserSessions(ctx, "00u1alice").OauthTokens(true).Execute()
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "too many requests"))
	is.True(e.active(a1.token))
	is.Equal(len(e.oauth.calls()), 0)

	xs := e.tap.exchanges()
	is.Equal(len(xs), 2) // no retry
	is.Equal(xs[1].status, http.StatusTooManyRequests)
	var body okta.Error
	is.NoErr(json.Unmarshal(xs[1].body, &body))
	is.Equal(body.GetErrorCode(), "E0000047")
	is.Equal(body.GetErrorSummary(), "API call exceeded rate limit due to too many requests.")
}
