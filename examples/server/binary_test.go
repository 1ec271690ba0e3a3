package main

import (
	"crypto/rand"
	"encoding/hex"
	"go/build"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
)

// process is the demo server running as a child process.
type process struct {
	cmd        *exec.Cmd
	out        *output
	exited     chan error
	base       string
	adminToken string
}

// buildServer compiles the demo into dir and returns the binary's path.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	bin := filepath.Join(dir, "revoke-demo")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs the binary on a free loopback port with its sessions in
// db, and waits until it listens. The admin token is the one it generates
// and prints.
func startServer(t *testing.T, bin, db, cookieKey string) *process {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", db)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REVOKE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envPassword+"="+testPassword, envCookieKey+"="+cookieKey)
	p := &process{cmd: cmd, out: newOutput(), exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	p.base = p.out.waitListening(t, p.exited)
	m := adminTokenRE.FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", p.out)
	}
	p.adminToken = m[1]
	return p
}

// stop sends SIGTERM and checks that the server shuts down cleanly.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("server exited with %v:\n%s", err, p.out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not stop within 20s of SIGTERM:\n%s", p.out)
	}
	if !strings.Contains(p.out.String(), "msg=stopped") {
		t.Fatalf("no clean shutdown in the log:\n%s", p.out)
	}
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
	bin := buildServer(t, dir)
	db := filepath.Join(dir, "demo.db")
	cookieKey := hex.EncodeToString([]byte(rand.Text() + rand.Text()))
	p := startServer(t, bin, db, cookieKey)

	res, b := newClient(t, p.base).do(http.MethodGet, "/", "")
	is.Equal(res.StatusCode, http.StatusOK) // the page
	is.True(strings.Contains(string(b), `id="sessions-table"`))

	// A browser-like client for alice, keeping its cookie in a jar; the
	// page's requests are same-origin.
	jar, err := cookiejar.New(nil)
	is.NoErr(err)
	alice := newClient(t, p.base)
	alice.http = &http.Client{Jar: jar}
	alice.header.Set("Origin", p.base)
	alice.header.Set("Sec-Fetch-Site", "same-origin")
	aliceMain, _ := alice.login("alice", testPassword)
	api := newClient(t, p.base)
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
	res, b = api.do(http.MethodDelete, "/api/v1/users/bob/sessions?oauthTokens=true", "", "Authorization", "SSWS "+p.adminToken)
	is.Equal(res.StatusCode, http.StatusNoContent)
	is.Equal(len(b), 0)
	is.Equal(api.withToken(bob1.Token).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withCookie(bobCookie).meStatus(), http.StatusUnauthorized)
	is.Equal(api.withToken(bob2.Token).meStatus(), http.StatusUnauthorized)
	res, b = api.do(http.MethodGet, "/demo/audit", "", "Authorization", "Bearer "+p.adminToken)
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
	bearer := []string{"Authorization", "Bearer " + p.adminToken}
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

	p.stop(t)

	// Sessions and revocations are in the SQLite file, and the cookie key
	// is fixed: after a restart alice's browser is still signed in and
	// every revoked session stays revoked.
	p = startServer(t, bin, db, cookieKey)
	alice.base, api.base = p.base, p.base
	alice.header.Set("Origin", p.base)
	res, b = alice.do(http.MethodGet, "/me", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(decode[meResponse](t, b).SessionID, aliceMain.SessionID)
	for _, tok := range []string{bob1.Token, bob2.Token, alice2.Token, carol1.Token, carol2.Token} {
		is.Equal(api.withToken(tok).meStatus(), http.StatusUnauthorized)
	}
	p.stop(t)
}
