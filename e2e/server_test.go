package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/demoproc"
)

// The demo's settings. They are fixed so that the test needs nothing from
// the server's output but its address; they protect nothing beyond a server
// that only listens on 127.0.0.1 for the length of a test.
const (
	cookieKey  = "6532652d636f6f6b69652d6b65792d6f6e6c792d666f722d7465737473212121" // 32 bytes
	adminToken = "e2e-admin-token-0123456789"
	password   = "demo" // the demo's default: REVOKE_DEMO_PASSWORD is left unset
)

const (
	// readyTimeout bounds the wait for the admin API to answer once the
	// server listens.
	readyTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// server is the demo server running as a child process.
type server struct {
	base string // http://127.0.0.1:port
}

// startServer runs bin on a port the kernel picks, with its sessions in a
// fresh SQLite file, and returns once it answers the admin API with the
// fixed token. The server is stopped, and its clean shutdown checked, when
// the test ends.
func startServer(t *testing.T, bin string, flags ...string) *server {
	t.Helper()
	p := demoproc.Start(t, bin, append([]string{"-db", filepath.Join(t.TempDir(), "sessions.db")}, flags...),
		[]string{"REVOKE_COOKIE_KEY=" + cookieKey, "REVOKE_ADMIN_TOKEN=" + adminToken})
	t.Cleanup(func() { p.StopWithin(t, stopTimeout) })
	s := &server{base: p.URL()}

	// Ready means serving, and with the token from the environment.
	deadline := time.Now().Add(readyTimeout)
	for {
		status, err := s.adminGet("/demo/audit", nil)
		if err == nil && status == http.StatusOK {
			return s
		}
		if err == nil {
			t.Fatalf("GET /demo/audit with the admin token: status %d, want 200", status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer within %s: %v", readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminSession is the part of the admin API's session JSON the test reads.
type adminSession struct {
	ID           string     `json:"id"`
	Active       bool       `json:"active"`
	RevokedAt    *time.Time `json:"revokedAt"`
	RevokeReason string     `json:"revokeReason"`
}

// adminSessions lists userID's sessions, revoked ones included, through the
// admin API: what the server holds, whatever the page shows.
func (s *server) adminSessions(t *testing.T, userID string) map[string]adminSession {
	t.Helper()
	var body struct {
		Sessions []adminSession `json:"sessions"`
	}
	status, err := s.adminGet("/auth/admin/api/users/"+userID+"/sessions?active=false&limit=1000", &body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("admin API: list %s's sessions: status %d, %v", userID, status, err)
	}
	byID := make(map[string]adminSession, len(body.Sessions))
	for _, as := range body.Sessions {
		byID[as.ID] = as
	}
	return byID
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// adminGet sends GET path with the admin token and decodes a 200 body into
// v unless v is nil.
func (s *server) adminGet(path string, v any) (int, error) {
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || v == nil {
		return res.StatusCode, nil
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return res.StatusCode, fmt.Errorf("decode %s: %w", path, err)
	}
	return res.StatusCode, nil
}

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
