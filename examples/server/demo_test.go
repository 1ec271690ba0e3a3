package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store/memstore"
)

func TestLogin(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)

	lr, ck := c.login("alice", testPassword)
	is.Equal(lr.UserID, "alice")
	is.True(lr.SessionID != "")
	is.True(lr.Token != "")
	is.True(ck != nil)   // session cookie set
	is.True(ck.HttpOnly) // not readable by scripts
	is.True(!ck.Secure)  // the demo serves plain http by default
	is.Equal(ck.SameSite, http.SameSiteLaxMode)

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrong password", `{"username":"alice","password":"nope"}`, http.StatusUnauthorized, "invalid_credentials"},
		{"unknown user", `{"username":"mallory","password":"` + testPassword + `"}`, http.StatusUnauthorized, "invalid_credentials"},
		{"bad JSON", `{"username":`, http.StatusBadRequest, "bad_request"},
		{"not an object", `["alice"]`, http.StatusBadRequest, "bad_request"},
		{"missing password", `{"username":"alice"}`, http.StatusBadRequest, "bad_request"},
		{"too large", `{"username":"alice","password":"` + strings.Repeat("x", maxLoginBody) + `"}`, http.StatusRequestEntityTooLarge, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			res, b := c.do(http.MethodPost, "/login", tc.body)
			is.Equal(res.StatusCode, tc.status)
			is.Equal(res.Header.Get("Content-Type"), "application/json")
			is.Equal(decode[errorResponse](t, b).Error, tc.code)
			is.Equal(sessionCookie(res), nil) // no session on failure
		})
	}
}

func TestMeAndLogout(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	lr, ck := c.login("bob", testPassword)

	for name, cl := range map[string]*client{"cookie": c.withCookie(ck), "header": c.withToken(lr.Token)} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			res, b := cl.do(http.MethodGet, "/me", "")
			is.Equal(res.StatusCode, http.StatusOK) // me with the session
			me := decode[meResponse](t, b)
			is.Equal(me.UserID, "bob")
			is.Equal(me.SessionID, lr.SessionID)
			is.True(!me.Admin)
			is.Equal(res.Header.Get("Cache-Control"), "no-store")
		})
	}
	res, b := c.do(http.MethodGet, "/me", "")
	is.Equal(res.StatusCode, http.StatusUnauthorized) // anonymous
	is.Equal(decode[errorResponse](t, b).Error, "unauthorized")

	res, _ = c.withCookie(ck).do(http.MethodPost, "/logout", "")
	is.Equal(res.StatusCode, http.StatusNoContent)
	expired := sessionCookie(res)
	is.True(expired != nil && expired.MaxAge < 0) // cookie expired

	is.Equal(c.withCookie(ck).meStatus(), http.StatusUnauthorized)      // the cookie is dead
	is.Equal(c.withToken(lr.Token).meStatus(), http.StatusUnauthorized) // and so is the token: one session

	res, _ = c.withCookie(ck).do(http.MethodPost, "/logout", "")
	is.Equal(res.StatusCode, http.StatusNoContent) // signing out twice is fine
}

func TestLogoutWithToken(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	lr, _ := c.login("carol", testPassword)
	other, _ := c.login("carol", testPassword)

	res, _ := c.withToken(lr.Token).do(http.MethodPost, "/logout", "")
	is.Equal(res.StatusCode, http.StatusNoContent)
	is.Equal(c.withToken(lr.Token).meStatus(), http.StatusUnauthorized)
	is.Equal(c.withToken(other.Token).meStatus(), http.StatusOK) // only the current session ends
}

func TestCrossOriginRefused(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	lr, ck := c.login("alice", testPassword)

	res, b := c.withCookie(ck).do(http.MethodPost, "/logout", "", "Sec-Fetch-Site", "cross-site")
	is.Equal(res.StatusCode, http.StatusForbidden)
	is.Equal(decode[errorResponse](t, b).Error, "forbidden")
	is.Equal(c.withToken(lr.Token).meStatus(), http.StatusOK) // still signed in

	res, _ = c.do(http.MethodPost, "/login", `{"username":"alice","password":"`+testPassword+`"}`,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	is.Equal(res.StatusCode, http.StatusForbidden) // no login CSRF
	is.Equal(sessionCookie(res), nil)

	res, _ = c.withCookie(ck).do(http.MethodPost, "/logout", "", "Sec-Fetch-Site", "same-origin", "Origin", srv.URL)
	is.Equal(res.StatusCode, http.StatusNoContent) // the page's own requests pass
}

func TestSecureCookieFlag(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.secureCookie = true })
	_, ck := newClient(t, srv.URL).login("alice", testPassword)
	is.True(ck.Secure)
}

func TestCookieKeyIsUsed(t *testing.T) {
	is := is.New(t)
	key := []byte(strings.Repeat("k", 32))
	srv1, a := newTestServer(t, func(c *config) { c.cookieKey = key })
	_, ck := newClient(t, srv1.URL).login("alice", testPassword)

	// A second app with the same key on the same store accepts the cookie,
	// as a restarted server does.
	srv2 := newServerOn(t, a, func(c *config) { c.cookieKey = key })
	is.Equal(newClient(t, srv2.URL).withCookie(ck).meStatus(), http.StatusOK)
	// With another key, the cookie is rejected.
	srv3 := newServerOn(t, a, func(c *config) { c.cookieKey = []byte(strings.Repeat("o", 32)) })
	is.Equal(newClient(t, srv3.URL).withCookie(ck).meStatus(), http.StatusUnauthorized)
}

func TestAdminDemoRoutes(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	_, aliceCk := c.login("alice", testPassword)
	adm, adminCk := c.login("admin", testPassword)

	res, b := c.withCookie(adminCk).do(http.MethodGet, "/me", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.True(decode[meResponse](t, b).Admin) // admin flagged for the page
	is.Equal(decode[meResponse](t, b).SessionID, adm.SessionID)

	for _, path := range []string{"/demo/users", "/demo/audit"} {
		res, _ := c.do(http.MethodGet, path, "")
		is.Equal(res.StatusCode, http.StatusUnauthorized) // anonymous
		res, _ = c.withCookie(aliceCk).do(http.MethodGet, path, "")
		is.Equal(res.StatusCode, http.StatusForbidden) // not an admin
		res, _ = c.do(http.MethodGet, path, "", "Authorization", "Bearer wrong-token-wrong-token")
		is.Equal(res.StatusCode, http.StatusUnauthorized) // bad token
		res, _ = c.withCookie(adminCk).do(http.MethodGet, path, "")
		is.Equal(res.StatusCode, http.StatusOK) // admin session
		res, _ = c.do(http.MethodGet, path, "", "Authorization", "SSWS "+testAdminToken)
		is.Equal(res.StatusCode, http.StatusOK) // admin token
	}
	_, b = c.withCookie(adminCk).do(http.MethodGet, "/demo/users", "")
	is.Equal(len(decode[[]user](t, b)), len(demoUsers))
}

// TestHooksAreAudited checks that every revocation option has a visible
// effect: the OAuth token revoker, the device forgetter and the OnRevoke
// hook all land in the audit log.
func TestHooksAreAudited(t *testing.T) {
	is := is.New(t)
	srv, a := newTestServer(t)
	c := newClient(t, srv.URL)
	bob, _ := c.login("bob", testPassword)
	_, adminCk := c.login("admin", testPassword)

	// The page calls Okta's endpoint with the admin's cookie.
	res, b := c.withCookie(adminCk).do(http.MethodDelete, "/api/v1/users/bob/sessions?oauthTokens=true&forgetDevices=true", "",
		"Origin", srv.URL, "Sec-Fetch-Site", "same-origin")
	is.Equal(res.StatusCode, http.StatusNoContent) // revoke all of bob's sessions
	is.Equal(len(b), 0)
	is.Equal(c.withToken(bob.Token).meStatus(), http.StatusUnauthorized)

	entries := a.audit.list()
	is.Equal(len(entries), 3)
	kinds := map[string]auditEntry{}
	for _, e := range entries {
		is.Equal(e.UserID, "bob")
		kinds[e.Kind] = e
	}
	is.Equal(kinds[kindRevoke].SessionIDs, []string{bob.SessionID})
	is.Equal(kinds[kindRevoke].Actor, "admin:admin") // the admin's session granted it
	is.True(kinds[kindOAuthTokens].Detail != "")
	is.True(kinds[kindDevices].Detail != "")

	// The same is served to the page.
	_, b = c.withCookie(adminCk).do(http.MethodGet, "/demo/audit", "")
	is.Equal(len(decode[[]auditEntry](t, b)), 3)
}

func TestUserLookup(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	auth := []string{"Authorization", "SSWS " + testAdminToken}

	res, _ := c.do(http.MethodDelete, "/api/v1/users/mallory/sessions", "", auth...)
	is.Equal(res.StatusCode, http.StatusNotFound) // not a demo user
	res, _ = c.do(http.MethodDelete, "/api/v1/users/carol/sessions", "", auth...)
	is.Equal(res.StatusCode, http.StatusNoContent) // a demo user without sessions
	res, _ = c.do(http.MethodGet, "/auth/admin/api/users/carol/sessions", "", auth...)
	is.Equal(res.StatusCode, http.StatusOK)
}

// postLogin serves POST /login on a directly, from remoteAddr.
func postLogin(t *testing.T, a *app, remoteAddr, username, password string) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(loginRequest{Username: username, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remoteAddr
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

// TestLoginFailureLogsNoUsername: a failed sign-in is logged without the
// text typed as the username, which may be a password in the wrong field;
// a username that names an account is logged as that account.
func TestLoginFailureLogsNoUsername(t *testing.T) {
	is := is.New(t)
	var logs bytes.Buffer
	cfg := config{addr: "127.0.0.1:0", memory: true, password: testPassword, adminToken: testAdminToken}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	a, err := newApp(cfg, st, slog.New(slog.NewTextHandler(&logs, nil)))
	is.NoErr(err)

	const typed = "Tr0ub4dor&3-in-the-wrong-field"
	rec := postLogin(t, a, "192.0.2.1:4000", typed, "whatever")
	is.Equal(rec.Code, http.StatusUnauthorized)
	line := logs.String()
	is.True(!strings.Contains(line, typed))       // the raw username is not logged
	is.True(!strings.Contains(line, "Tr0ub4dor")) // nor any part of it
	is.True(strings.Contains(line, "login failed"))
	is.True(strings.Contains(line, "user_known=false"))
	is.True(strings.Contains(line, "ip=192.0.2.1"))

	logs.Reset()
	rec = postLogin(t, a, "192.0.2.1:4000", "alice", "wrong")
	is.Equal(rec.Code, http.StatusUnauthorized)
	is.True(strings.Contains(logs.String(), "user=alice")) // an account's id is no secret
}
