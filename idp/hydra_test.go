package idp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// HydraVersion is the version of Ory Hydra the tests run, which hydra/
// builds.
const HydraVersion = "v2.3.0"

// hydraBinary returns the path of the Hydra binary, or skips t.
func hydraBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REVOKE_HYDRA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("REVOKE_HYDRA=%s: %v", p, err)
		}
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no Hydra binary: no user cache directory (%v); set REVOKE_HYDRA", err)
	}
	p := filepath.Join(dir, "revoke-hydra", "hydra-"+HydraVersion)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Hydra binary at %s (build it: cd idp/hydra && go build -o %s github.com/ory/hydra/v2; .ci/run does), or set REVOKE_HYDRA", p, p)
	}
	return p
}

// postgresServer returns the connection string of the PostgreSQL server's
// maintenance database, or skips t.
func postgresServer(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("REVOKE_TEST_POSTGRES")
	explicit := dsn != ""
	if !explicit {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if explicit {
			t.Fatalf("PostgreSQL at REVOKE_TEST_POSTGRES is not reachable: %v", err)
		}
		t.Skipf("PostgreSQL is not reachable at 127.0.0.1:5432 (set REVOKE_TEST_POSTGRES): %v", err)
	}
	_ = conn.Close(ctx)
	return dsn
}

// freshDatabase creates a database of its own for this run on the server
// and returns its connection string; it is dropped when t ends.
func freshDatabase(t *testing.T, server string) string {
	t.Helper()
	name := "revoke_idp_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hydra is a running Hydra.
type hydra struct {
	bin    string
	issuer string // the public URL, which is the issuer
	admin  string // the admin API's URL
	log    *syncBuffer
}

// hydraConfig is what the test app tells Hydra.
type hydraConfig struct {
	loginURL, consentURL, logoutURL string
}

// startHydra migrates a fresh database and runs hydra serve all on free
// loopback ports until t ends.
func startHydra(t *testing.T, dsn string, cfg hydraConfig) *hydra {
	t.Helper()
	bin := hydraBinary(t)
	if cfg.logoutURL == "" {
		cfg.logoutURL = cfg.loginURL // unused by the test app
	}
	pub, adm := freePort(t), freePort(t)
	h := &hydra{
		bin:    bin,
		issuer: fmt.Sprintf("http://127.0.0.1:%d", pub),
		admin:  fmt.Sprintf("http://127.0.0.1:%d", adm),
		log:    &syncBuffer{},
	}
	env := append(os.Environ(),
		"DSN="+dsn,
		"URLS_SELF_ISSUER="+h.issuer,
		"URLS_LOGIN="+cfg.loginURL,
		"URLS_CONSENT="+cfg.consentURL,
		"URLS_LOGOUT="+cfg.logoutURL,
		"SECRETS_SYSTEM="+rand.Text(),
		"SERVE_PUBLIC_HOST=127.0.0.1",
		fmt.Sprintf("SERVE_PUBLIC_PORT=%d", pub),
		"SERVE_ADMIN_HOST=127.0.0.1",
		fmt.Sprintf("SERVE_ADMIN_PORT=%d", adm),
		"SQA_OPT_OUT=true", // no usage statistics sent anywhere
		"LOG_LEVEL=info",
		"LOG_LEAK_SENSITIVE_VALUES=false",
	)

	migrateCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mig := exec.CommandContext(migrateCtx, bin, "migrate", "sql", "up", "-e", "--yes")
	mig.Env = env
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("hydra migrate: %v\n%s", err, out)
	}

	ctx, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = h.log, h.log
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		stop()
		t.Fatalf("start hydra: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop()
		<-exited
		if t.Failed() {
			t.Logf("hydra's log:\n%s", h.log.String())
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("hydra exited before it was ready:\n%s", h.log.String())
		default:
		}
		if ready(h.admin+"/health/ready") && ready(h.issuer+"/health/ready") {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("hydra not ready within a minute:\n%s", h.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ready(u string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// adminClient talks to Hydra's admin API with bounded calls.
var adminClient = &http.Client{Timeout: 10 * time.Second}

// call sends a JSON request to Hydra's admin API and decodes the answer
// into out (when not nil); a status other than want is an error.
func (h *hydra) call(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.admin+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := adminClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("hydra %s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// hydraClient is an OAuth 2.0 client registered at Hydra.
type hydraClient struct {
	ID, Secret string
}

// createClient registers an authorization-code client whose back-channel
// logout URI is backChannel.
func (h *hydra) createClient(t *testing.T, name, redirectURI, backChannel string) hydraClient {
	t.Helper()
	secret := rand.Text()
	var out struct {
		ClientID string `json:"client_id"`
	}
	err := h.call(t.Context(), http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                         name,
		"client_secret":                       secret,
		"grant_types":                         []string{"authorization_code"},
		"response_types":                      []string{"code"},
		"scope":                               "openid",
		"redirect_uris":                       []string{redirectURI},
		"token_endpoint_auth_method":          "client_secret_basic",
		"backchannel_logout_uri":              backChannel,
		"backchannel_logout_session_required": true,
	}, &out, http.StatusCreated)
	if err != nil {
		t.Fatal(err)
	}
	return hydraClient{ID: out.ClientID, Secret: secret}
}

// endLoginSessions ends Hydra login sessions through the admin API: one
// by its sid, or all of a subject's.
func (h *hydra) endLoginSessions(t *testing.T, query url.Values) {
	t.Helper()
	if err := h.call(t.Context(), http.MethodDelete, "/admin/oauth2/auth/sessions/login?"+query.Encode(), nil, nil, http.StatusNoContent); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

var errTimeout = errors.New("timed out")
