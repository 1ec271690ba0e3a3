package reliability

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the integrity check

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// Environment of the crash child.
const (
	envCrashChild = "REVOKE_CRASH_CHILD" // "1" in the child
	envCrashDB    = "REVOKE_CRASH_DB"    // the database file
	envCrashGen   = "REVOKE_CRASH_GEN"   // which child this is, to keep user ids apart
	envCrashKills = "REVOKE_CRASH_KILLS" // how many children the parent kills
)

// Bounds of the crash test.
const (
	defaultKills   = 20
	crashBudget    = 90 * time.Second // the parent stops killing after this, whatever the count
	childLifetime  = 60 * time.Second // a child that is never killed stops by itself
	childWorkers   = 3                // goroutines writing in the child
	usersPerWorker = 4
)

// TestCrashChild is the child process of TestCrashSafety; run directly it is
// skipped.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("the child process of TestCrashSafety")
	}
	if err := runCrashChild(os.Getenv(envCrashDB), os.Getenv(envCrashGen), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
}

// runCrashChild writes to the SQLite store at path until it is killed. Each
// worker owns a few users and, one call at a time, creates sessions for
// them, revokes one of their sessions or revokes all of a user's sessions.
// Before a revocation it writes "TRY ..." and after any call returned
// successfully "ACK ...", each line in one write, so that a line the parent
// reads is a call that was made (TRY) or that returned (ACK).
func runCrashChild(path, gen string, out io.Writer) error {
	if path == "" || gen == "" {
		return errors.New("missing " + envCrashDB + " or " + envCrashGen)
	}
	st, err := sqlitestore.Open(path, sqlitestore.WithCleanupInterval(0))
	if err != nil {
		return err
	}
	m, err := revoke.New(st)
	if err != nil {
		return err
	}
	var mu sync.Mutex // one line per write, whole lines only
	say := func(format string, args ...any) error {
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		_, err := io.WriteString(out, line)
		return err
	}
	if err := say("READY"); err != nil {
		return err
	}
	ctx := context.Background()
	deadline := time.Now().Add(childLifetime)
	c := revoke.Cause{Actor: "crash-test", Reason: "crash test"}
	var wg sync.WaitGroup
	errs := make([]error, childWorkers)
	for w := range childWorkers {
		wg.Go(func() {
			type sess struct{ user, id string }
			var live []sess // acknowledged, not revoked by this worker
			for op := 0; time.Now().Before(deadline); op++ {
				user := fmt.Sprintf("g%s-w%d-u%d", gen, w, rand.IntN(usersPerWorker))
				var err error
				switch k := rand.IntN(10); {
				case k < 6 || len(live) == 0:
					var s revoke.Session
					if s, _, err = m.Create(ctx, user, revoke.Device{IP: "127.0.0.1"}); err == nil {
						live = append(live, sess{user, s.ID})
						err = say("ACK create %s %s", user, s.ID)
					}
				case k < 9:
					i := rand.IntN(len(live))
					s := live[i]
					live = append(live[:i], live[i+1:]...)
					if err = say("TRY revoke %s %s", s.user, s.id); err == nil {
						if _, err = m.RevokeSession(ctx, s.user, s.id, c); err == nil {
							err = say("ACK revoke %s %s", s.user, s.id)
						}
					}
				default:
					if err = say("TRY revokeall %s", user); err == nil {
						if _, err = m.RevokeAll(ctx, user, c); err == nil {
							err = say("ACK revokeall %s", user)
						}
					}
					kept := live[:0]
					for _, s := range live {
						if s.user != user {
							kept = append(kept, s)
						}
					}
					live = kept
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return st.Close()
}

// ledger is what the parent learnt from every child's output, on the one
// database they all wrote to. Lines of one user come from one worker of one
// child, in the order of its calls, so seq orders a user's calls.
type ledger struct {
	seq         int
	created     map[string]created // acknowledged creates, by session id
	revokeAcked map[string]bool    // session ids whose RevokeSession returned
	revokeTried map[string]bool    // session ids a RevokeSession was called for
	allAcked    map[string]int     // user -> seq of the last RevokeAll that returned
	allTried    map[string]int     // user -> seq of the last RevokeAll called
	users       map[string]bool
	acks        int
	// inflight holds the writes found committed whose call never returned.
	inflight map[string]bool
}

type created struct {
	user string
	seq  int
}

func newLedger() *ledger {
	return &ledger{
		created:     map[string]created{},
		revokeAcked: map[string]bool{},
		revokeTried: map[string]bool{},
		allAcked:    map[string]int{},
		allTried:    map[string]int{},
		users:       map[string]bool{},
		inflight:    map[string]bool{},
	}
}

// record takes one line of a child's output; it reports whether the line
// was an acknowledgement.
func (l *ledger) record(line string) (ack bool, err error) {
	f := strings.Fields(line)
	if len(f) < 3 || (f[0] != "ACK" && f[0] != "TRY") {
		return false, nil // the test framework's own output
	}
	l.seq++
	user := f[2]
	l.users[user] = true
	switch {
	case f[0] == "ACK" && f[1] == "create" && len(f) == 4:
		l.created[f[3]] = created{user, l.seq}
	case f[0] == "TRY" && f[1] == "revoke" && len(f) == 4:
		l.revokeTried[f[3]] = true
		return false, nil
	case f[0] == "ACK" && f[1] == "revoke" && len(f) == 4:
		l.revokeAcked[f[3]] = true
	case f[0] == "TRY" && f[1] == "revokeall" && len(f) == 3:
		l.allTried[user] = l.seq
		return false, nil
	case f[0] == "ACK" && f[1] == "revokeall" && len(f) == 3:
		l.allAcked[user] = l.seq
	default:
		return false, fmt.Errorf("unexpected line %q", line)
	}
	l.acks++
	return true, nil
}

// TestCrashSafety kills a process writing to a SQLite store with SIGKILL,
// again and again on the same file, and after every kill checks the file:
// it passes PRAGMA integrity_check, every acknowledged create is there,
// every acknowledged revocation is still in force, and nothing is revoked
// that no call asked for. It models a process crash, not a power cut: see
// the README's Reliability section.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	kills := defaultKills
	if v := os.Getenv(envCrashKills); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", envCrashKills, v)
		}
		kills = n
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	l := newLedger()
	start := time.Now()
	var done, byAck, byTime, inflight int
	for gen := range kills {
		if time.Since(start) > crashBudget {
			t.Logf("stopping after %d kills: the %v budget is spent", done, crashBudget)
			break
		}
		mode := killChild(t, db, gen, l)
		if mode == "acks" {
			byAck++
		} else {
			byTime++
		}
		done++
		inflight = checkAfterCrash(t, db, l)
		if t.Failed() {
			t.Fatalf("after kill %d", done)
		}
	}
	revoked := len(l.revokeAcked)
	t.Logf("%d SIGKILLs (%d after a random number of acknowledgements, %d after a random delay) in %v on one file: "+
		"%d acknowledged writes (%d creates, %d single revocations, %d revoke-alls), all present after every kill; "+
		"integrity_check ok every time; %d writes in flight at a kill were found committed",
		done, byAck, byTime, time.Since(start).Round(time.Millisecond),
		l.acks, len(l.created), revoked, len(l.allAcked), inflight)
	if done < min(kills, 5) {
		t.Errorf("only %d kills within the budget", done)
	}
	if len(l.created) == 0 || revoked == 0 {
		t.Error("the children acknowledged no creates or no revocations: the test proved nothing")
	}
}

// killChild starts a child on db, kills it with SIGKILL after a random
// number of acknowledgements or a random delay, and records everything it
// wrote. It returns which trigger fired.
func killChild(t *testing.T, db string, gen int, l *ledger) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), childLifetime+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashDB+"="+db, envCrashGen+"="+strconv.Itoa(gen))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A line cut short by the kill is no acknowledgement.
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	// Half the kills come after a number of acknowledgements, half after a
	// delay from the moment the child is ready, so they land anywhere in
	// its work.
	mode, ackLimit, delay := "acks", 1+rand.IntN(300), time.Duration(0)
	if rand.IntN(2) == 0 {
		mode, ackLimit, delay = "time", math.MaxInt, 50*time.Millisecond+rand.N(450*time.Millisecond)
	}
	var timer <-chan time.Time
	noReady := time.After(30 * time.Second)
	acks, killed := 0, false
	kill := func() {
		if !killed {
			killed = true
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			if line == "READY" {
				noReady = nil
				if mode == "time" {
					timer = time.After(delay)
				}
				continue
			}
			ack, err := l.record(line)
			if err != nil {
				t.Error(err)
			}
			if ack {
				if acks++; acks >= ackLimit {
					kill()
				}
			}
		case <-timer:
			kill()
		case <-noReady:
			kill()
			t.Errorf("child %d not ready within 30s", gen)
		}
	}
	if !killed {
		t.Errorf("child %d ended before it was killed", gen)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %d: want death by SIGKILL, got %v\n%s", gen, err, stderr.String())
	}
	return mode
}

// checkAfterCrash checks the file a killed child left behind against the
// ledger, and returns how many writes that were in flight at a kill are
// so far known to have committed (allowed: the call had not returned).
func checkAfterCrash(t *testing.T, path string, l *ledger) int {
	t.Helper()
	ctx := t.Context()

	// A plain connection first, before any store opens the file: it
	// recovers the write-ahead log the kill left, as the next process
	// would, and the check reads the database as that process will.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		results = append(results, s)
	}
	if err := errors.Join(rows.Err(), rows.Close(), db.Close()); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if len(results) != 1 || results[0] != "ok" {
		t.Fatalf("integrity_check: %q", results)
	}

	st, err := sqlitestore.Open(path, sqlitestore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	found := map[string]store.Session{}
	for user := range l.users {
		ss, err := st.List(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			found[s.ID] = s
		}
	}
	for id, c := range l.created {
		s, ok := found[id]
		switch {
		case !ok:
			t.Errorf("acknowledged create of %s (user %s) lost", id, c.user)
		case s.UserID != c.user:
			t.Errorf("session %s belongs to %q, want %q", id, s.UserID, c.user)
		}
	}
	for id := range l.revokeAcked {
		if s := found[id]; !s.Revoked() {
			t.Errorf("acknowledged revocation of %s lost", id)
		}
	}
	for id, c := range l.created {
		s := found[id]
		if seq, ok := l.allAcked[c.user]; ok && c.seq < seq && !s.Revoked() {
			t.Errorf("session %s outlived an acknowledged RevokeAll of %s", id, c.user)
		}
	}
	// Nothing is revoked that no call asked for, and what was in flight
	// either committed whole or not at all.
	for id, s := range found {
		c, acked := l.created[id]
		if !acked {
			l.inflight[id] = true // a create that committed but was never acknowledged
			if s.Revoked() {
				t.Errorf("session %s revoked, but its create never returned", id)
			}
			continue
		}
		if !s.Revoked() {
			continue
		}
		byAll := l.allTried[c.user] > c.seq
		if !l.revokeTried[id] && !byAll {
			t.Errorf("session %s revoked, but no call asked for it", id)
		}
		if !l.revokeAcked[id] && !(l.allAcked[c.user] > c.seq) {
			l.inflight["revoke "+id] = true
		}
	}
	return len(l.inflight)
}
