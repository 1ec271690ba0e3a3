package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/demoproc"
)

// startServer runs the binary on a free loopback port with its sessions in
// db, and waits until it listens.
func startServer(t *testing.T, bin, db, cookieKey string) *demoproc.Process {
	t.Helper()
	return demoproc.Start(t, bin, []string{"-db", db}, []string{
		envPassword + "=" + testPassword,
		envCookieKey + "=" + cookieKey,
		envAdminToken + "=" + testAdminToken,
	})
}

// TestBinary builds the demo, runs it on SQLite and walks the four
// documented endpoints over real HTTP, with cookies and with
// X-Session-Token, then stops it with SIGTERM and starts it again on the
// same database.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the server with SIGTERM")
	}
	is := is.New(t)
	dir := t.TempDir()
	bin := demoproc.Build(t, dir)
	db := filepath.Join(dir, "demo.db")
	cookieKey := hex.EncodeToString([]byte(rand.Text() + rand.Text()))
	p := startServer(t, bin, db, cookieKey)
	adminToken := testAdminToken

	res, b := newClient(t, p.URL()).do(http.MethodGet, "/", "")
	is.Equal(res.StatusCode, http.StatusOK) // the page
	is.True(strings.Contains(string(b), `id="sessions-table"`))

	// A browser-like client for alice, keeping its cookie in a jar; the
	// page's requests are same-origin.
	jar, err := cookiejar.New(nil)
	is.NoErr(err)
	alice := newClient(t, p.URL())
	alice.http = &http.Client{Jar: jar}
	alice.header.Set("Origin", p.URL())
	alice.header.Set("Sec-Fetch-Site", "same-origin")
	aliceMain, _ := alice.login("alice", testPassword)
	api := newClient(t, p.URL())
	alice2, _ := api.login("alice", testPassword)
	alice3, _ := api.login("alice", testPassword)
	bob1, bobCookie := api.login("bob", testPassword)
	bob2, _ := api.login("bob", testPassword)
	carol1, _ := api.login("carol", testPassword)
	carol2, _ := api.login("carol", testPassword)
	carol3, _ := api.login("carol", testPassword)
	is.Equal(alice.meStatus(), http.StatusOK) // the jar sends the cookie over http

	// 1. Okta: an administrator revokes all of bob's sessions, with an API
	// token, and his OAuth tokens too.
	res, b = api.do(http.MethodDelete, "/api/v1/users/bob/sessions?oauthTokens=true", "", "Authorization", "SSWS "+adminToken)
	is.Equal(res.StatusCode, http.StatusNoContent)
	is.Equal(len(b), 0)
	is.Equal(api.withToken(bob1.Token).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withCookie(bobCookie).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withToken(bob2.Token).meStatus(), http.StatusUnauthorized)
	res, b = api.do(http.MethodGet, "/demo/audit", "", "Authorization", "Bearer "+adminToken)
	is.Equal(res.StatusCode, http.StatusOK)
	var kinds []string
	for _, e := range decode[[]auditEntry](t, b) {
		is.Equal(e.UserID, "bob")
		kinds = append(kinds, e.Kind)
	}
	is.Equal(kinds, []string{kindRevoke, kindDevices, kindOAuthTokens}) // newest first

	// 2. Okta: alice ends her other sessions from the browser (cookie only;
	// keepCurrent defaults to true).
	res, b = alice.do(http.MethodPost, "/api/v1/users/me/lifecycle/delete_sessions", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(len(b), 0)
	is.Equal(alice.meStatus(), http.StatusOK) // the current one stays
	is.Equal(api.withToken(alice2.Token).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withToken(alice3.Token).meStatus(), http.StatusUnauthorized)

	// 3. Kratos: carol disables her other sessions with X-Session-Token.
	res, b = api.withToken(carol1.Token).do(http.MethodDelete, "/auth/sessions", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(decode[map[string]int](t, b), map[string]int{"count": 2})
	is.Equal(api.withToken(carol1.Token).meStatus(), http.StatusOK)
	is.Equal(api.withToken(carol2.Token).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withToken(carol3.Token).meStatus(), http.StatusUnauthorized)

	// 4. Admin API: an administrator revokes carol's remaining session with
	// a bearer token; doing it again answers the same.
	path := "/auth/admin/api/users/carol/sessions/" + carol1.SessionID
	bearer := []string{"Authorization", "Bearer " + adminToken}
	res, b = api.do(http.MethodDelete, path, "", bearer...)
	is.Equal(res.StatusCode, http.StatusOK)
	revoked := decode[map[string]any](t, b)
	is.Equal(revoked["id"], carol1.SessionID)
	is.Equal(revoked["userId"], "carol")
	is.True(revoked["revokedAt"] != nil)
	is.Equal(api.withToken(carol1.Token).meStatus(), http.StatusUnauthorized)
	res, b = api.do(http.MethodDelete, path, "", bearer...)
	is.Equal(res.StatusCode, http.StatusOK) // idempotent
	is.Equal(decode[map[string]any](t, b)["revokedAt"], revoked["revokedAt"])

	p.Stop(t)

	// Sessions and revocations are in the SQLite file, and the cookie key
	// is fixed: after a restart alice's browser is still signed in and
	// every revoked session stays revoked.
	p = startServer(t, bin, db, cookieKey)
	alice.base, api.base = p.URL(), p.URL()
	alice.header.Set("Origin", p.URL())
	res, b = alice.do(http.MethodGet, "/me", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(decode[meResponse](t, b).SessionID, aliceMain.SessionID)
	for _, tok := range []string{bob1.Token, bob2.Token, alice2.Token, carol1.Token, carol2.Token} {
		is.Equal(api.withToken(tok).meStatus(), http.StatusUnauthorized)
	}
	p.Stop(t)
}
