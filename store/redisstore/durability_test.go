package redisstore

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// redisServer is a redis-server of the test's own, on a free port and a
// temporary directory, persisting with AOF as the package doc says.
type redisServer struct {
	dir, port string
	cmd       *exec.Cmd
}

func startRedis(t *testing.T, bin, dir, port string) *redisServer {
	t.Helper()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--logfile", dir+"/redis.log")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r := &redisServer{dir: dir, port: port, cmd: cmd}
	t.Cleanup(r.kill)
	url := r.url()
	deadline := time.Now().Add(10 * time.Second)
	for redistest.Ping(url) != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server on port %s did not answer:\n%s", port, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (r *redisServer) kill() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		_ = r.cmd.Wait()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestDurability runs revocations from several goroutines against a Redis
// with "appendonly yes" and "appendfsync always", kills it with SIGKILL in
// the middle of them, restarts it on the same directory, and checks that
// every revocation that was acknowledged still holds: each of the user's
// sessions revoked, and the user's not-before time kept.
func TestDurability(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; the durability test starts one of its own")
	}
	ctx := t.Context()
	dir, port := t.TempDir(), freePort(t)
	srv := startRedis(t, bin, dir, port)
	opts := []Option{WithCleanupInterval(0), WithCallTimeout(2 * time.Second)}
	s, err := Open(ctx, srv.url(), opts...)
	if err != nil {
		t.Fatal(err)
	}

	const users, perUser = 2000, 3
	now := time.Now()
	sessions := make(map[string][]store.Session, users)
	for u := range users {
		user := fmt.Sprintf("user-%d", u)
		for range perUser {
			sess := storetest.NewSession(user, now)
			if err := s.Create(ctx, sess); err != nil {
				t.Fatal(err)
			}
			sessions[user] = append(sessions[user], sess)
		}
	}

	// Revoke every user's sessions from 8 goroutines; kill the server once
	// a third of them are acknowledged.
	var (
		mu    sync.Mutex
		acked []string
		count atomic.Int64
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	var killOnce sync.Once
	notBefore := now.Add(time.Second).Truncate(time.Microsecond)
	for range 8 {
		wg.Go(func() {
			for {
				u := next.Add(1) - 1
				if u >= users {
					return
				}
				user := fmt.Sprintf("user-%d", u)
				_, err := s.Revoke(ctx, store.Selection{UserID: user, NotBefore: notBefore}, now.Add(time.Second), "durability")
				if err != nil {
					return // the server is gone: this one was not acknowledged
				}
				mu.Lock()
				acked = append(acked, user)
				mu.Unlock()
				if count.Add(1) == users/3 {
					killOnce.Do(func() { srv.kill(); close(killed) })
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("every revocation finished before the kill; the test proves nothing")
	}
	s.Close()

	srv = startRedis(t, bin, dir, port)
	s, err = Open(ctx, srv.url(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lost := 0
	for _, user := range acked {
		for _, sess := range sessions[user] {
			got, err := s.Get(ctx, sess.ID)
			if err != nil || !got.Revoked() {
				lost++
				t.Errorf("the acknowledged revocation of %s's session %s was lost (err %v)", user, sess.ID, err)
			}
		}
		late := storetest.NewSession(user, now.Add(2*time.Second))
		late.AuthenticatedAt = notBefore.Add(-time.Microsecond)
		if err := s.Create(ctx, late); !errors.Is(err, store.ErrNotBefore) {
			t.Errorf("%s's not-before time was lost: a late sign-in got %v", user, err)
		}
	}
	t.Logf("acknowledged revocations: %d of %d users (%d sessions); lost after SIGKILL and restart: %d",
		len(acked), users, len(acked)*perUser, lost)
}
