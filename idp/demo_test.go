package idp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoThroughHydra walks the README's "Identity providers" section:
// Hydra with examples/hydra-login as its login, consent and logout
// provider, a client made with the hydra CLI, and the demo server signing
// alice in through Hydra. Signing out at Hydra ends the demo's session.
func TestDemoThroughHydra(t *testing.T) {
	hydraBinary(t)
	dsn := freshDatabase(t, postgresServer(t))
	bin := t.TempDir()
	build(t, bin, "server", "./examples/server")
	build(t, bin, "hydra-login", "./examples/hydra-login")

	loginAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	demoAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	login := "http://" + loginAddr
	h := startHydra(t, dsn, hydraConfig{loginURL: login + "/login", consentURL: login + "/consent", logoutURL: login + "/logout"})
	start(t, filepath.Join(bin, "hydra-login"), login+"/login", "-addr", loginAddr, "-hydra-admin", h.admin)

	// The README's client.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.bin, "create", "oauth2-client", "--endpoint", h.admin,
		"--name", "revoke demo", "--grant-type", "authorization_code", "--response-type", "code", "--scope", "openid",
		"--redirect-uri", "http://"+demoAddr+"/auth/oidc/callback",
		"--backchannel-logout-callback", "http://"+demoAddr+"/auth/oidc/backchannel-logout",
		"--backchannel-logout-session-required", "--format", "json").Output()
	if err != nil {
		t.Fatalf("hydra create oauth2-client: %v", err)
	}
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &client); err != nil || client.ID == "" {
		t.Fatalf("hydra create oauth2-client printed %q", out)
	}
	demo := "http://" + demoAddr
	start(t, filepath.Join(bin, "server"), demo+"/me", "-memory", "-addr", demoAddr,
		"-oidc-issuer", h.issuer, "-oidc-client-id", client.ID, "-oidc-client-secret", client.Secret)

	b := newBrowser(t)
	// The demo sends the browser to Hydra, Hydra to the login page.
	status, body := b.get(t, demo+"/auth/oidc/login")
	if status != http.StatusOK || !strings.Contains(body, `name="login_challenge"`) {
		t.Fatalf("the sign-in did not reach the login page: %d %s", status, body)
	}
	challenge := between(body, `name="login_challenge" value="`, `"`)
	res, err := b.c.PostForm(login+"/login", url.Values{"login_challenge": {challenge}, "username": {"alice"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.String() != demo+"/" {
		t.Fatalf("signing in ended at %s with %d, want the demo's page", res.Request.URL, res.StatusCode)
	}
	if status, body := b.get(t, demo+"/me"); status != http.StatusOK || !strings.Contains(body, `"userId":"alice"`) {
		t.Fatalf("GET /me after signing in through Hydra: %d %s", status, body)
	}

	// Signing out at Hydra: Hydra asks its logout provider, then sends the
	// demo a back-channel logout token.
	if status, body := b.get(t, h.issuer+"/oauth2/sessions/logout"); status != http.StatusOK {
		t.Fatalf("signing out at Hydra: %d %s", status, body)
	}
	deadline := time.Now().Add(deliveryWait)
	for {
		status, _ := b.get(t, demo+"/me")
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's session still works %v after signing out at Hydra (%d)", deliveryWait, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// build compiles a command of the revoke module (the parent directory,
// with its own dependencies) into dir.
func build(t *testing.T, dir, name, pkg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), pkg)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

// start runs a command until t ends, and waits, a bounded time, until
// readyURL answers.
func start(t *testing.T, bin, readyURL string, args ...string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	log := &syncBuffer{}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		stop()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop()
		<-exited
		if t.Failed() {
			t.Logf("%s's log:\n%s", filepath.Base(bin), log.String())
		}
	})
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", filepath.Base(bin), log.String())
		default:
		}
		if res, err := c.Get(readyURL); err == nil {
			res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 30s:\n%s", filepath.Base(bin), log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
