// Package demoproc builds the demo server (examples/server) and runs it as a
// child process for tests that talk to it over real HTTP: the demo's own
// binary tests, the soak test and the browser tests of the e2e module.
//
// It knows the demo's command line and log: Start passes -addr to listen on
// a free loopback port, and reads the address from the demo's "listening"
// line and a clean shutdown from its "stopped" line.
package demoproc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// modulePath is the module that holds the demo.
const modulePath = "github.com/revokehq/revoke"

const (
	// buildTimeout bounds go build: a cold build compiles SQLite, slowly on
	// two busy cores.
	buildTimeout = 8 * time.Minute
	readyTimeout = 30 * time.Second
)

// Build compiles the demo into dir and returns the binary's path. It builds
// ./examples/server from the root of the module, so that the module's go.mod
// and go.sum decide the demo's dependencies whichever module the calling test
// belongs to.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	bin := filepath.Join(dir, "revoke-demo")
	ctx, cancel := context.WithTimeout(tb.Context(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./examples/server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./examples/server: %v\n%s", err, out)
	}
	return bin
}

// moduleRoot finds the directory of the module's go.mod, walking up from the
// working directory: a test runs in its package's directory, which lies
// inside the module, or inside a nested module (such as e2e) below it.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s in %s or above", modulePath, wd)
		}
		dir = parent
	}
}

// declares reports whether the go.mod text gomod is that of module path.
func declares(gomod []byte, path string) bool {
	for line := range strings.Lines(string(gomod)) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// Process is the demo server running as a child process.
type Process struct {
	cmd  *exec.Cmd
	url  string
	out  *output
	done chan struct{} // closed once the process has exited
	err  error         // how it exited, set before done is closed
}

// Start runs the demo binary bin with args on a free 127.0.0.1 port, and
// returns once it listens. Its environment is the test's without any
// REVOKE_* variable, which would change what the test expects, and with env
// (KEY=value entries) added. Its output is kept for Output and Logged. The
// process is killed, if still running, when the test ends, and its output
// logged if the test failed.
func Start(tb testing.TB, bin string, args []string, env []string) *Process {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REVOKE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Process{cmd: cmd, out: newOutput(), done: make(chan struct{})}
	go func() {
		p.out.read(stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("output of the demo server %s:\n%s", p.url, p.Output())
		}
	})
	select {
	case addr := <-p.out.addr:
		p.url = "http://" + addr
	case <-p.done:
		tb.Fatalf("server exited before listening: %v\n%s", p.err, p.Output())
	case <-time.After(readyTimeout):
		tb.Fatalf("server did not listen within %v:\n%s", readyTimeout, p.Output())
	}
	return p
}

// URL returns the server's base URL, http://127.0.0.1:port.
func (p *Process) URL() string { return p.url }

// PID returns the server's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Output returns what the server has written to stdout and stderr: all of
// it, or for a long run the beginning and the last lines.
func (p *Process) Output() string { return p.out.String() }

// Logged returns how many lines the server has logged at level (such as
// "ERROR" or "WARN"), and the first of them.
func (p *Process) Logged(level string) (n int, first string) {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.levels[level], p.out.first[level]
}

// Stop sends SIGTERM and checks that the server shuts down cleanly: that it
// exits within 20 seconds, with status 0, after logging that it stopped.
func (p *Process) Stop(tb testing.TB) {
	tb.Helper()
	p.StopWithin(tb, 20*time.Second)
}

// StopWithin is Stop with another bound on the time the server may take to
// exit.
func (p *Process) StopWithin(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			tb.Errorf("server exited with %v:\n%s", p.err, p.Output())
		}
		if !strings.Contains(p.Output(), "msg=stopped") {
			tb.Errorf("no clean shutdown in the log:\n%s", p.Output())
		}
	case <-time.After(timeout):
		tb.Fatalf("server did not stop within %v of SIGTERM:\n%s", timeout, p.Output())
	}
}

// What output keeps of a long run, which logs every sign-in: the beginning,
// with the settings and the listening address, and the last lines.
const (
	headBytes = 64 << 10
	tailLines = 100
)

var (
	listeningRE = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	levelRE     = regexp.MustCompile(`(?:^| )level=(\S+)`)
)

// output reads the server's output line by line. It sends the address of
// the listening line on addr, keeps what String returns, and counts the
// lines logged at each level.
type output struct {
	addr chan string

	mu      sync.Mutex
	head    bytes.Buffer // the first lines, up to headBytes
	tail    []string     // the last lines once head is full
	dropped int          // lines between head and tail that were not kept
	levels  map[string]int
	first   map[string]string // the first line logged at each level
}

func newOutput() *output {
	return &output{addr: make(chan string, 1), levels: map[string]int{}, first: map[string]string{}}
}

func (o *output) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Text()
		// Kept before the address is announced, so that Output, once
		// Start returns, holds the listening line too.
		o.add(line)
		if m := listeningRE.FindStringSubmatch(line); m != nil && !found {
			found = true
			o.addr <- m[1]
		}
	}
	if err := sc.Err(); err != nil {
		o.add(fmt.Sprintf("[demoproc: reading the output: %v]", err))
	}
	// Keep draining whatever is left, so the server never blocks on a
	// full pipe.
	_, _ = io.Copy(io.Discard, r)
}

func (o *output) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := levelRE.FindStringSubmatch(line); m != nil {
		if o.levels[m[1]]++; o.levels[m[1]] == 1 {
			o.first[m[1]] = line
		}
	}
	if o.tail == nil && o.head.Len()+len(line)+1 <= headBytes {
		o.head.WriteString(line)
		o.head.WriteByte('\n')
		return
	}
	if len(o.tail) == tailLines {
		o.tail = slices.Delete(o.tail, 0, 1)
		o.dropped++
	}
	o.tail = append(o.tail, line)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	b.Write(o.head.Bytes())
	if o.dropped > 0 {
		fmt.Fprintf(&b, "[... %d lines not kept ...]\n", o.dropped)
	}
	for _, line := range o.tail {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
