package reliability

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/revokehq/revoke/internal/redistest"
)

// ownServer is a store server of the test's own, on a free loopback port
// and a temporary directory, which the test may stop and start again: the
// machine's servers are shared with other tests and are never restarted.
type ownServer struct {
	target string // the Redis URL or the PostgreSQL DSN
	stop   func() error
	start  func() error
}

// restart stops the server, keeps it down for down and starts it again on
// the same data.
func (s *ownServer) restart(down time.Duration) error {
	if err := s.stop(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	time.Sleep(down)
	if err := s.start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startOwnRedis starts a redis-server persisting every write to its
// append-only file before answering, so that the sessions survive a
// restart. It skips t when redis-server is not installed.
func startOwnRedis(t *testing.T) *ownServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; the restart case starts one of its own")
	}
	dir, port := t.TempDir(), freeLoopbackPort(t)
	s := &ownServer{target: "redis://127.0.0.1:" + port + "/0"}
	var cmd *exec.Cmd
	s.start = func() error {
		cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); redistest.Ping(s.target) != nil; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
				return fmt.Errorf("redis-server on port %s did not answer:\n%s", port, log)
			}
		}
		return nil
	}
	// SIGTERM: Redis closes every connection, flushes its append-only
	// file and exits, as on a planned restart.
	s.stop = func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		return cmd.Wait()
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return s
}

// startOwnPostgres creates a PostgreSQL cluster in a temporary directory
// (initdb, trust authentication) and starts it on a free loopback port,
// with its socket in that directory. As root it runs the server as the
// postgres user, which PostgreSQL requires. It skips t when the binaries
// (PATH, then /usr/lib/postgresql/*/bin) or that user are missing.
func startOwnPostgres(t *testing.T) *ownServer {
	t.Helper()
	bin := postgresBinaries()
	if bin == "" {
		t.Skip("initdb and pg_ctl are not installed; the restart case starts a PostgreSQL of its own")
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run a PostgreSQL of the test's own")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir(): its parent directories are closed to other users.
	dir, err := os.MkdirTemp("", "revoke-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data, port := filepath.Join(dir, "data"), freeLoopbackPort(t)
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatal(err)
	}
	// fsync off: a restart of the server, not of the machine, is what the
	// test makes, and the shutdown writes everything out.
	opts := "-c listen_addresses=127.0.0.1 -p " + port + " -k " + dir + " -c fsync=off -c max_connections=60"
	s := &ownServer{target: "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"}
	s.start = func() error {
		return run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "30", "start")
	}
	// A fast shutdown: PostgreSQL ends every session, as on a planned
	// restart, and checkpoints.
	s.stop = func() error { return run("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop") }
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return s
}

// postgresBinaries returns the directory holding initdb and pg_ctl, or "".
func postgresBinaries() string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest version first.
	slices.SortFunc(versions, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range append(dirs, versions...) {
		_, err1 := os.Stat(filepath.Join(d, "initdb"))
		_, err2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if err1 == nil && err2 == nil {
			return d
		}
	}
	return ""
}
