package caep

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/pgstore"
	"github.com/revokehq/revoke/store/redisstore"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// The sender process of TestOutboxSurvivesSIGKILL: this test binary, run
// again with CAEP_KILL_CHILD set. It revokes on request and delivers its
// outbox to CAEP_KILL_PUSH.
func TestMain(m *testing.M) {
	if os.Getenv("CAEP_KILL_CHILD") == "" {
		os.Exit(m.Run())
	}
	if err := runKillChild(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func runKillChild() error {
	der, _ := base64.StdEncoding.DecodeString(os.Getenv("CAEP_KILL_KEY"))
	key, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return err
	}
	signer, err := NewSigner(key, "k1")
	if err != nil {
		return err
	}
	st, err := openKillStore()
	if err != nil {
		return err
	}
	sender, err := NewSender(st, SenderConfig{Issuer: testIssuer, Signer: signer,
		Receivers:  []PushReceiver{{Name: "r", URL: os.Getenv("CAEP_KILL_PUSH"), Audience: testAudience, Format: FormatOpaque}},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Lease: time.Second, Poll: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	m, err := revoke.New(st, sender.Option())
	if err != nil {
		return err
	}
	go sender.Run(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _, err := m.Create(r.Context(), "u", revoke.Device{})
		if err == nil {
			_, err = m.RevokeSession(r.Context(), "u", s.ID, revoke.Cause{Actor: revoke.ActorSystem, Reason: "test"})
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, s.ID) // acknowledged: revoked, and its event in the outbox
	}))
}

// openKillStore opens the store CAEP_KILL_STORE names: a SQLite file, a
// PostgreSQL schema or a Redis prefix, all of which outlive the process.
func openKillStore() (store.SessionStore, error) {
	ctx := context.Background()
	switch os.Getenv("CAEP_KILL_STORE") {
	case "postgres":
		return pgstore.Open(ctx, os.Getenv("CAEP_KILL_DSN"), pgstore.WithSchema(os.Getenv("CAEP_KILL_SCHEMA")))
	case "redis":
		return redisstore.Open(ctx, os.Getenv("CAEP_KILL_DSN"), redisstore.WithPrefix(os.Getenv("CAEP_KILL_SCHEMA")))
	}
	return sqlitestore.Open(os.Getenv("CAEP_KILL_DB"))
}

func startKillChild(t *testing.T, env []string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child did not start: %v", err)
	}
	return cmd, "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// The sender is killed with SIGKILL while it delivers a backlog; restarted
// on the same store (a SQLite file, a PostgreSQL schema, a Redis prefix),
// it delivers every revocation it acknowledged. Duplicates are allowed and
// carry the same jti.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("sqlite", func(t *testing.T) {
		testOutboxSurvivesSIGKILL(t, []string{"CAEP_KILL_STORE=sqlite", "CAEP_KILL_DB=" + filepath.Join(t.TempDir(), "sender.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := pgtest.Schema(t, "caep_kill_", false)
		testOutboxSurvivesSIGKILL(t, []string{"CAEP_KILL_STORE=postgres", "CAEP_KILL_DSN=" + dsn, "CAEP_KILL_SCHEMA=" + schema})
	})
	t.Run("redis", func(t *testing.T) {
		url := redistest.URL(t)
		testOutboxSurvivesSIGKILL(t, []string{"CAEP_KILL_STORE=redis", "CAEP_KILL_DSN=" + url, "CAEP_KILL_SCHEMA=" + redistest.Prefix(t, url)})
	})
}

func testOutboxSurvivesSIGKILL(t *testing.T, storeEnv []string) {
	keys := newKeys(t)
	ec := keys["ES256"].(*ecdsa.PrivateKey)
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(testAudience, []Transmitter{{Issuer: testIssuer, Keys: []crypto.PublicKey{ec.Public()}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sessions := map[string]string{} // session id -> jti
	deliveries, duplicates := 0, 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // a slow receiver keeps a backlog
		body, _ := io.ReadAll(r.Body)
		set, err := v.Verify(r.Context(), string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sid := set.Subject.sessionID()
		mu.Lock()
		deliveries++
		if jti, seen := sessions[sid]; seen {
			if jti != set.ID {
				t.Errorf("session %s delivered under two jtis", sid)
			}
			duplicates++
		}
		sessions[sid] = set.ID
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()

	env := append([]string{"CAEP_KILL_CHILD=1", "CAEP_KILL_KEY=" + base64.StdEncoding.EncodeToString(der),
		"CAEP_KILL_PUSH=" + recv.URL}, storeEnv...)
	child, url := startKillChild(t, env)
	var acked []string
	const n = 200
	for i := range n {
		resp, err := http.Post(url, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			acked = append(acked, string(b))
		}
		if i == n/2 {
			mu.Lock()
			before := deliveries
			mu.Unlock()
			t.Logf("%d revocations acknowledged, %d delivered when killed", len(acked), before)
		}
	}
	mu.Lock()
	atKill := len(sessions)
	mu.Unlock()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if atKill == len(acked) {
		t.Fatalf("every event was delivered before the kill (%d); the test proves nothing", atKill)
	}
	t.Logf("killed with %d of %d acknowledged revocations delivered", atKill, len(acked))

	child, _ = startKillChild(t, env)
	defer func() { child.Process.Kill(); child.Wait() }()
	start := time.Now()
	for {
		mu.Lock()
		missing := 0
		for _, id := range acked {
			if _, ok := sessions[id]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("%d acknowledged revocations never delivered", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("after restart: all %d delivered in %v, %d deliveries, %d duplicates (same jti)",
		len(acked), time.Since(start).Round(time.Millisecond), deliveries, duplicates)
}
