package redisstore

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// startCluster starts a Redis Cluster of three masters of the test's own,
// on free ports, and returns their addresses once the cluster is ready.
func startCluster(t *testing.T) []string {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; the cluster test starts a cluster of its own")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed; the cluster test forms its cluster with it")
	}
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		port, bus := freePort(t), freePort(t)
		node := filepath.Join(dir, port)
		if err := os.Mkdir(node, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, "--bind", "127.0.0.1", "--port", port, "--cluster-enabled", "yes",
			"--cluster-port", bus, "--cluster-config-file", filepath.Join(node, "nodes.conf"),
			"--dir", node, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(node, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server %d: %v", i, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		})
		addrs = append(addrs, "127.0.0.1:"+port)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range addrs {
		for redistest.Ping("redis://"+addr) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("redis-server on %s did not answer", addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil || strings.Contains(string(out), "[ERR]") {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := c.ClusterInfo(t.Context()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ready on %s: %v\n%s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}

// TestClusterConformance runs the conformance suites (sessions, outbox,
// recording) on a Redis Cluster of three masters, each store under a
// prefix with a hash tag, as the package doc asks: every key of a store,
// and so every script and transaction, is on one node.
func TestClusterConformance(t *testing.T) {
	addrs := startCluster(t)
	open := func(t *testing.T) *Store {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { rdb.Close() })
		s, err := New(t.Context(), rdb, WithPrefix("{"+rand.Text()[:12]+"}:"), WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("Sessions", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.SessionStore { return open(t) })
	})
	t.Run("Outbox", func(t *testing.T) {
		storetest.Outbox(t, func(t *testing.T) store.OutboxStore { return open(t) })
	})
	t.Run("Recording", func(t *testing.T) {
		storetest.Recording(t, func(t *testing.T) store.RecordingStore { return open(t) })
	})
}
