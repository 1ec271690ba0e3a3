package reliability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// Environment of the session-limit child.
const (
	envLimitChild   = "REVOKE_LIMIT_CHILD"   // "1" in the child
	envLimitBackend = "REVOKE_LIMIT_BACKEND" // "sqlite", "postgres" or "redis"
	envLimitTarget  = "REVOKE_LIMIT_TARGET"  // the SQLite file, the PostgreSQL DSN or the Redis URL
	envLimitSchema  = "REVOKE_LIMIT_SCHEMA"  // the PostgreSQL schema, or the Redis key prefix
	envLimitNaive   = "REVOKE_LIMIT_NAIVE"   // "1": count, then create, in two steps
)

// Bounds of the session-limit test.
const (
	limitProcesses = 2
	limitWorkers   = 32 // goroutines signing in per process and round
	limitRounds    = 20
	limitMax       = 3
)

// limitPolicy is the policy of a round: odd rounds refuse, even ones evict.
func limitPolicy(round int) revoke.SessionLimitPolicy {
	if round%2 == 1 {
		return revoke.RefuseNewLogin
	}
	return revoke.EvictLeastRecentlySeen
}

func limitUser(round int) string { return "limit-user-" + strconv.Itoa(round) }

// TestSessionLimitChild is the child process of TestSessionLimitAcrossProcesses;
// run directly it is skipped.
func TestSessionLimitChild(t *testing.T) {
	if os.Getenv(envLimitChild) != "1" {
		t.Skip("the child process of TestSessionLimitAcrossProcesses")
	}
	if err := runLimitChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "limit child:", err)
		os.Exit(2)
	}
}

func openLimitStore(ctx context.Context, backend, target, schema string) (store.SessionStore, error) {
	switch backend {
	case "postgres":
		return pgstore.Open(ctx, target, pgstore.WithSchema(schema), pgstore.WithCleanupInterval(0))
	case "redis":
		return redisstore.Open(ctx, target, redisstore.WithPrefix(schema), redisstore.WithCleanupInterval(0))
	}
	return sqlitestore.Open(target, sqlitestore.WithCleanupInterval(0))
}

// runLimitChild signs in limitWorkers times at once for the round's user
// each time the parent writes a round number, and answers
// "done <round> <signed in> <refused>".
func runLimitChild(in io.Reader, out io.Writer) error {
	ctx := context.Background()
	st, err := openLimitStore(ctx, os.Getenv(envLimitBackend), os.Getenv(envLimitTarget), os.Getenv(envLimitSchema))
	if err != nil {
		return err
	}
	defer st.Close()
	naive := os.Getenv(envLimitNaive) == "1"
	managers := map[revoke.SessionLimitPolicy]*revoke.Manager{}
	for _, p := range []revoke.SessionLimitPolicy{revoke.EvictLeastRecentlySeen, revoke.RefuseNewLogin} {
		opts := []revoke.Option{}
		if !naive {
			opts = append(opts, revoke.WithMaxSessions(limitMax, p))
		}
		if managers[p], err = revoke.New(st, opts...); err != nil {
			return err
		}
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		round, err := strconv.Atoi(lines.Text())
		if err != nil {
			return err
		}
		policy := limitPolicy(round)
		m := managers[policy]
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			signedIn, limit int
			failed          error
		)
		for range limitWorkers {
			wg.Go(func() {
				var err error
				if naive {
					err = naiveLogin(ctx, st, m, limitUser(round), policy)
				} else {
					_, _, err = m.Create(ctx, limitUser(round), revoke.Device{})
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					signedIn++
				case errors.Is(err, revoke.ErrSessionLimit):
					limit++
				default:
					failed = err
				}
			})
		}
		wg.Wait()
		if failed != nil {
			return failed
		}
		fmt.Fprintf(out, "done %d %d %d\n", round, signedIn, limit)
	}
	return lines.Err()
}

// naiveLogin is the cap as an app would write it without the store's help:
// count, then revoke or refuse, then create, each a step of its own. It is
// what the test must catch.
func naiveLogin(ctx context.Context, st store.SessionStore, m *revoke.Manager, user string, policy revoke.SessionLimitPolicy) error {
	p, err := st.ListPage(ctx, user, store.PageQuery{Limit: store.MaxPageLimit, Now: time.Now()})
	if err != nil {
		return err
	}
	if over := len(p.Sessions) - limitMax + 1; over > 0 {
		if policy == revoke.RefuseNewLogin {
			return revoke.ErrSessionLimit
		}
		oldest := slices.Clone(p.Sessions)
		slices.SortFunc(oldest, func(a, b store.Session) int { return a.LastSeenAt.Compare(b.LastSeenAt) })
		for _, s := range oldest[:over] {
			if _, err := m.RevokeSession(ctx, user, s.ID, revoke.Cause{Actor: revoke.ActorSystem, Reason: revoke.ReasonSessionLimit}); err != nil {
				return err
			}
		}
	}
	_, _, err = m.Create(ctx, user, revoke.Device{})
	return err
}

// limitChild is one child process and its answers.
type limitChild struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers *bufio.Scanner
	stderr  *strings.Builder
}

func startLimitChild(t *testing.T, env []string) *limitChild {
	t.Helper()
	// Not bound to t.Context(), which ends before the cleanup below: the
	// child stops when its input closes.
	cmd := exec.Command(os.Args[0], "-test.run=^TestSessionLimitChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envLimitChild+"=1"), env...)
	c := &limitChild{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	var err error
	if c.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.answers = bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.in.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("limit child: %v\n%s", err, c.stderr)
		}
	})
	return c
}

// answer reads the child's "done" line for the round: how many sign-ins
// succeeded and how many the cap refused.
func (c *limitChild) answer(t *testing.T, round int) (signedIn, refused int) {
	t.Helper()
	for c.answers.Scan() {
		var r int
		if n, _ := fmt.Sscanf(c.answers.Text(), "done %d %d %d", &r, &signedIn, &refused); n == 3 && r == round {
			return signedIn, refused
		}
	}
	t.Fatalf("limit child stopped before round %d: %v\n%s", round, c.answers.Err(), c.stderr)
	return 0, 0
}

// limitFigures are what one run counted.
type limitFigures struct {
	signIns, signedIn, refused int
	maxActive, overRounds      int
}

// runLimitRounds starts the children on one store and runs the rounds,
// counting the round's user's active sessions in the store after each.
func runLimitRounds(t *testing.T, st store.SessionStore, env []string) limitFigures {
	children := make([]*limitChild, limitProcesses)
	for i := range children {
		children[i] = startLimitChild(t, env)
	}
	var f limitFigures
	for round := range limitRounds {
		for _, c := range children {
			if _, err := fmt.Fprintln(c.in, round); err != nil {
				t.Fatal(err)
			}
		}
		signedIn := 0
		for _, c := range children {
			ok, refused := c.answer(t, round)
			signedIn += ok
			f.refused += refused
		}
		f.signIns += limitProcesses * limitWorkers
		f.signedIn += signedIn
		p, err := st.ListPage(t.Context(), limitUser(round), store.PageQuery{Limit: store.MaxPageLimit, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		active := len(p.Sessions)
		f.maxActive = max(f.maxActive, active)
		if active > limitMax {
			f.overRounds++
		}
		if limitPolicy(round) == revoke.RefuseNewLogin && signedIn > limitMax {
			f.overRounds++ // more sign-ins let through than the cap allows
		}
	}
	return f
}

// TestSessionLimitAcrossProcesses: 2 processes × 32 goroutines sign one
// user in at once, 20 rounds, on one SQLite file, on one PostgreSQL
// schema and on one Redis key prefix, with a cap of 3 (evicting in even rounds, refusing in odd ones).
// After every round the store holds exactly 3 active sessions of the
// round's user, and a refusing round let exactly 3 sign-ins through. The
// same harness with the cap written as count-then-create (naiveLogin)
// must see more than 3, or it proves nothing.
func TestSessionLimitAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	setups := []struct {
		name string
		open func(t *testing.T) (store.SessionStore, []string)
	}{
		{"sqlite", func(t *testing.T) (store.SessionStore, []string) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			st, err := openLimitStore(t.Context(), "sqlite", path, "")
			if err != nil {
				t.Fatal(err)
			}
			return st, []string{envLimitBackend + "=sqlite", envLimitTarget + "=" + path}
		}},
		{"postgres", func(t *testing.T) (store.SessionStore, []string) {
			dsn, schema := pgtest.Schema(t, "limit_", false)
			st, err := openLimitStore(t.Context(), "postgres", dsn, schema)
			if err != nil {
				t.Fatal(err)
			}
			return st, []string{envLimitBackend + "=postgres", envLimitTarget + "=" + dsn, envLimitSchema + "=" + schema}
		}},
		{"redis", func(t *testing.T) (store.SessionStore, []string) {
			url := redistest.URL(t)
			prefix := redistest.Prefix(t, url)
			st, err := openLimitStore(t.Context(), "redis", url, prefix)
			if err != nil {
				t.Fatal(err)
			}
			return st, []string{envLimitBackend + "=redis", envLimitTarget + "=" + url, envLimitSchema + "=" + prefix}
		}},
	}
	for _, setup := range setups {
		for _, naive := range []bool{false, true} {
			name := setup.name + "/atomic"
			if naive {
				name = setup.name + "/count-then-create"
			}
			t.Run(name, func(t *testing.T) {
				st, env := setup.open(t)
				t.Cleanup(func() { _ = st.Close() })
				if naive {
					env = append(env, envLimitNaive+"=1")
				}
				start := time.Now()
				f := runLimitRounds(t, st, env)
				t.Logf("%d rounds, %d sign-ins (%d signed in, %d refused), most active after a round: %d, rounds over the cap: %d, in %v",
					limitRounds, f.signIns, f.signedIn, f.refused, f.maxActive, f.overRounds, time.Since(start).Round(time.Millisecond))
				if naive {
					if f.overRounds == 0 {
						t.Error("the cap written as count-then-create never went over: the harness would not catch a cap that is not atomic")
					}
					return
				}
				if f.overRounds > 0 || f.maxActive != limitMax {
					t.Errorf("%d rounds over the cap of %d (most active: %d)", f.overRounds, limitMax, f.maxActive)
				}
				if want := limitRounds / 2 * limitMax; f.signedIn-f.signIns/2 != want {
					t.Errorf("refusing rounds let %d sign-ins through, want %d", f.signedIn-f.signIns/2, want)
				}
			})
		}
	}
}
