package redisstore

import (
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
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
	// --cluster-port is Redis 7.0's, and redis-cli follows a bus port of
	// its own from 7.0.3 on.
	out, err := exec.Command(server, "--version").Output()
	if err != nil {
		t.Fatalf("redis-server --version: %v", err)
	}
	if v := versionOf(string(out)); slices.Compare(v, []int{7, 0, 3}) < 0 {
		t.Skipf("redis-server %v is older than 7.0.3, which the cluster test needs (%s)", v, strings.TrimSpace(string(out)))
	}
	dir := t.TempDir()
	ports := freePorts(t, 6)
	var addrs []string
	for i := range 3 {
		port, bus := ports[2*i], ports[2*i+1]
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
				log, _ := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(addr, "127.0.0.1:"), "redis.log"))
				t.Fatalf("redis-server on %s did not answer:\n%s", addr, log)
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

// versionOf reads the version in redis-server --version's "v=7.0.15".
func versionOf(out string) []int {
	_, after, _ := strings.Cut(out, "v=")
	field, _, _ := strings.Cut(after, " ")
	var v []int
	for _, part := range strings.Split(field, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

// freePorts returns n distinct free ports of 127.0.0.1, holding each until
// all are chosen.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// TestClusterConformance runs the conformance suites (sessions, outbox,
// recording) on a Redis Cluster of three masters, each store under a
// prefix with a hash tag, as the package doc asks: every key of a store,
// and so every script and transaction, is on one node.
func TestClusterConformance(t *testing.T) {
	addrs := startCluster(t)
	suites(t, func(t *testing.T) *Store {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		return onClient(t, rdb, "{"+rand.Text()[:12]+"}:")
	})
}
