package reliability

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/redistest"
)

// sharedStore is the store the processes of one case share: on the
// machine's server, or on one of the test's own (own), which a fault may
// restart.
type sharedStore struct {
	kind   string // "redis" or "postgres"
	target string // the Redis URL or the PostgreSQL DSN
	schema string // the Redis key prefix or the PostgreSQL schema
	own    *ownServer
}

func openSharedStore(t *testing.T, kind string, own bool) sharedStore {
	t.Helper()
	switch {
	case kind == "redis" && own:
		srv := startOwnRedis(t)
		return sharedStore{kind: kind, target: srv.target, schema: "revoketest:cache:", own: srv}
	case kind == "redis":
		u := redistest.URL(t)
		return sharedStore{kind: kind, target: u, schema: redistest.Prefix(t, u)}
	case own:
		srv := startOwnPostgres(t)
		return sharedStore{kind: kind, target: srv.target, schema: "cache", own: srv}
	default:
		dsn, schema := pgtest.Schema(t, "cache_", false)
		return sharedStore{kind: kind, target: dsn, schema: schema}
	}
}

// withClient returns the store's target naming the connections of one
// process client (Redis's CLIENT SETNAME, PostgreSQL's application_name),
// by which the test finds that process's listener.
func (s sharedStore) withClient(client string) string {
	param := "client_name"
	if s.kind == "postgres" {
		param = "application_name"
	}
	u, err := url.Parse(s.target)
	if err != nil || u.Scheme == "" {
		return s.target + " " + param + "=" + client // PostgreSQL's keyword/value form
	}
	q := u.Query()
	q.Set(param, client)
	u.RawQuery = q.Encode()
	return u.String()
}

// childEnv is the environment of a child whose connections are named
// client.
func (s sharedStore) childEnv(client string) []string {
	return []string{envCacheBackend + "=" + s.kind, envCacheTarget + "=" + s.withClient(client), envCacheSchema + "=" + s.schema}
}

// killListeners ends the connections on which the process named client
// listens to the store, from the server's side, and returns how many it
// ended.
func (s sharedStore) killListeners(ctx context.Context, client string) (int, error) {
	if s.kind == "postgres" {
		conn, err := pgx.Connect(ctx, s.target)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		// pgstore listens on a connection of its own, whose last
		// statement is a LISTEN.
		var n int
		err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'listen%'`, client).Scan(&n)
		return n, err
	}
	opts, err := redis.ParseURL(s.target)
	if err != nil {
		return 0, err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	list, err := c.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		var id, name string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			} else if v, ok := strings.CutPrefix(f, "name="); ok {
				name = v
			}
		}
		if name != client || id == "" {
			continue
		}
		if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// faultEnv is what a case's fault acts on.
type faultEnv struct {
	t        *testing.T
	shared   sharedStore
	children []*cacheChild
	clients  map[*cacheChild]string // each child's connection name
	d        time.Duration          // how long the revocations go on
	faults   atomic.Int64           // faults made
}

// cacheCase is one fault, or none, that the fleet runs through.
type cacheCase struct {
	name     string
	d        time.Duration // of the revocations, before -short scales it
	own      bool          // on a server of the test's own
	fault    func(ctx context.Context, e *faultEnv)
	minHits  float64 // the fraction of lookups the caches must answer, at least
	happened func(f *fleetFigures, e *faultEnv) bool
}

// sleepCtx sleeps for d, or less when ctx ends first, which it reports.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var cacheCases = []cacheCase{
	{
		name: "healthy", d: 4 * time.Second, minHits: 0.5,
		happened: func(*fleetFigures, *faultEnv) bool { return true },
	},
	{
		// The listener's connection killed by the server, one child's at a
		// time and every third time all three: each child stops serving
		// from its cache at once, and until it listens again a revocation
		// waits out its lease.
		name: "listener killed", d: 5 * time.Second, minHits: 0.3,
		fault: func(ctx context.Context, e *faultEnv) {
			for k := 0; sleepCtx(ctx, 300*time.Millisecond+mrand.N(400*time.Millisecond)); k++ {
				victims := e.children
				if k%3 != 2 {
					victims = victims[mrand.IntN(len(victims)):][:1]
				}
				for _, c := range victims {
					n, err := e.shared.killListeners(ctx, e.clients[c])
					if err != nil && ctx.Err() == nil {
						e.t.Errorf("killing the listener of %s: %v", c.name, err)
					}
					e.faults.Add(int64(n))
				}
			}
		},
		happened: func(f *fleetFigures, e *faultEnv) bool { return e.faults.Load() > 0 && f.stats.Breaks > 0 },
	},
	{
		// A child stopped with SIGSTOP, then woken: every other time for
		// longer than its lease, when revocations meanwhile wait its lease
		// out and, awake, it must not answer from the cache it holds; and
		// in between for less, when they wait for its acknowledgement,
		// which it sends once awake and caught up.
		name: "frozen", d: 6 * time.Second, minHits: 0.3,
		fault: func(ctx context.Context, e *faultEnv) {
			for k := 0; sleepCtx(ctx, 300*time.Millisecond+mrand.N(400*time.Millisecond)); k++ {
				d := fleetLease + 200*time.Millisecond + mrand.N(300*time.Millisecond)
				if k%2 == 1 {
					d = 100*time.Millisecond + mrand.N(fleetLease/2)
				}
				e.children[mrand.IntN(len(e.children))].freeze(e.t, d)
				if d > fleetLease {
					e.faults.Add(1) // only the freezes past the lease count
				}
			}
		},
		happened: func(f *fleetFigures, e *faultEnv) bool { return e.faults.Load() > 0 && f.stats.SettledByLapse > 0 },
	},
	{
		// The store's server restarted (stopped cleanly, down for 500 ms,
		// started on the same data), twice: every subscription breaks,
		// calls fail while it is down and are made again.
		name: "store restarted", d: 6 * time.Second, own: true, minHits: 0.2,
		fault: func(ctx context.Context, e *faultEnv) {
			for range 2 {
				if !sleepCtx(ctx, e.d/4+mrand.N(e.d/4)) {
					return
				}
				if err := e.shared.own.restart(500 * time.Millisecond); err != nil {
					e.t.Errorf("restarting the server: %v", err)
					return
				}
				e.faults.Add(1)
			}
		},
		happened: func(f *fleetFigures, e *faultEnv) bool { return e.faults.Load() > 0 && f.stats.Breaks > 0 },
	},
}

// TestCacheAcrossProcesses runs three instances of an app as processes of
// their own (TestCacheChild), each with store/cachestore in front of one
// Redis key prefix, then of one PostgreSQL schema, and checks revoke's
// promise across them: while goroutines resolve sessions through every
// instance, a revoker revokes the sessions one by one through a random
// instance, and no lookup that started after a session's revocation
// returned may find it active. It does so healthy, with the instances'
// listener connections killed by the server again and again, with an
// instance stopped (SIGSTOP), now for longer than its lease and now for
// less, and with the
// server restarted; it requires that the caches answered a good part of
// the lookups, and that each fault happened, and reports the revocations'
// latency. With -short each case runs for under 2 s, and the restart,
// which starts a server of its own, not at all.
func TestCacheAcrossProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGSTOP")
	}
	scale := 1.0
	if testing.Short() {
		scale = 0.3
	}
	var (
		mu   sync.Mutex
		rows []string
	)
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			for _, cc := range cacheCases {
				t.Run(strings.ReplaceAll(cc.name, " ", "_"), func(t *testing.T) {
					if testing.Short() && cc.own {
						t.Skip("starts a server of its own, which takes seconds: not in -short")
					}
					row := runCacheCase(t, kind, cc, time.Duration(float64(cc.d)*scale))
					mu.Lock()
					rows = append(rows, row)
					mu.Unlock()
				})
			}
		})
	}
	if len(rows) > 0 {
		t.Logf("figures, as RELIABILITY.md tabulates them:\n%s\n%s\n%s", fleetHeader, fleetRule, strings.Join(rows, "\n"))
	}
}

const (
	fleetHeader = "| backend | case | revocations | p50 | p99 | max | resolves | started after the revocation returned | accepted | answered from a cache | failed calls (resolve, revoke) |"
	fleetRule   = "|---|---|---|---|---|---|---|---|---|---|---|"
)

// runCacheCase runs one case on one backend and returns its row of figures.
func runCacheCase(t *testing.T, kind string, cc cacheCase, d time.Duration) string {
	ss := openSharedStore(t, kind, cc.own)
	run := strings.ToLower(rand.Text()[:8])
	clientName := func(process string) string { return "revoketest-" + run + "-" + process }
	// The parent's store creates the schema and the sessions, and reads
	// the store at the end; it has no cache.
	st, err := openShared(t.Context(), kind, ss.withClient(clientName("parent")), ss.schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &faultEnv{t: t, shared: ss, clients: map[*cacheChild]string{}, d: d}
	names := make([]string, fleetChildren)
	for i := range names {
		names[i] = fmt.Sprintf("child%d", i)
	}
	e.children = startCacheChildren(t, names, func(name string) []string { return ss.childEnv(clientName(name)) })
	for _, c := range e.children {
		e.clients[c] = clientName(c.name)
	}
	waitServing(t, e.children)
	var fault func(ctx context.Context)
	if cc.fault != nil {
		fault = func(ctx context.Context) { cc.fault(ctx, e) }
	}
	f := runFleet(t, st, e.children, d, fault)

	row := fmt.Sprintf("| %s | %s | %s | %v | %v | %v | %s | %s | **%d** | %.0f%% | %s, %s |",
		backendName(kind), cc.name, thousands(int64(f.revocations)),
		roundLatency(f.percentile(0.5)), roundLatency(f.percentile(0.99)), roundLatency(f.percentile(1)),
		thousands(f.resolves), thousands(f.afterReturn), f.late, 100*f.hitFraction(),
		thousands(f.failed), thousands(int64(f.failedRevokes)))
	t.Logf("%d revocations in %v (p50 %v, p99 %v, max %v; %d failed calls made again, %d found the session revoked already); %d faults; "+
		"%d resolves (%d failed), %d started after their revocation returned, %d accepted; "+
		"caches: %d hits, %d misses (%.0f%%), %d invalidations, %d breaks, %d late heartbeats, %d of %d revocations waited out a lease",
		f.revocations, d, f.percentile(0.5), f.percentile(0.99), f.percentile(1), f.failedRevokes, f.foundRevoked, e.faults.Load(),
		f.resolves, f.failed, f.afterReturn, f.late,
		f.stats.Hits, f.stats.Misses, 100*f.hitFraction(), f.stats.Invalidations, f.stats.Breaks, f.stats.LateHeartbeats,
		f.stats.SettledByLapse, f.stats.Settled)
	if f.late != 0 {
		t.Errorf("%d lookups that started after their session's revocation returned found it active", f.late)
	}
	if f.afterReturn == 0 || f.revocations == 0 {
		t.Error("no lookup started after a revocation returned: the test proved nothing")
	}
	if got := f.hitFraction(); got < cc.minHits {
		t.Errorf("the caches answered %.0f%% of the lookups, want at least %.0f%%: the test proves little", 100*got, 100*cc.minHits)
	}
	if !cc.happened(&f, e) {
		t.Errorf("the fault left no trace (%d made, %d breaks, %d leases waited out): the test proved nothing",
			e.faults.Load(), f.stats.Breaks, f.stats.SettledByLapse)
	}
	if cc.fault == nil && (f.failed != 0 || f.failedRevokes != 0) {
		t.Errorf("%d resolves and %d revocations failed with nothing wrong", f.failed, f.failedRevokes)
	}
	if !cc.own && f.foundRevoked != 0 {
		t.Errorf("%d revocations found their session revoked already, with the store up all along", f.foundRevoked)
	}
	return row
}

func backendName(kind string) string {
	if kind == "postgres" {
		return "PostgreSQL"
	}
	return "Redis"
}

// roundLatency keeps a latency readable in a table.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// thousands writes n with commas between groups of three digits, as the
// tables of RELIABILITY.md do.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
