package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/pgtest"
)

// The fleet scenario: three demo servers, separate processes, on one
// PostgreSQL database, once as they are and once with -cache, loaded
// together with GET /me and X-Session-Token; and revocations over HTTP
// while the three listen.

// fleetSize is how many demo instances a fleet runs.
const fleetSize = 3

// fleetReport is what the fleet scenario measured.
type fleetReport struct {
	Server    string `json:"server"` // user@host:port of PostgreSQL
	Instances int    `json:"instances"`
	Sessions  int    `json:"sessions"` // one per load worker
	// OwnDatabases is set when each fleet had a database of its own, so
	// that its counts are its own; otherwise the fleets shared the
	// server's database (in schemas of their own) with whatever else uses
	// it.
	OwnDatabases bool          `json:"ownDatabases"`
	Fleets       []fleetResult `json:"fleets"`
	Skipped      string        `json:"skipped,omitempty"`
}

// fleetResult is one fleet's figures.
type fleetResult struct {
	Name  string     `json:"name"`
	Cache bool       `json:"cache"`
	Load  loadResult `json:"load"`
	// Served counts the GET /me requests the fleet answered in its life,
	// warm-up included; StoreTransactions the transactions PostgreSQL
	// committed or rolled back in the fleet's database over that life,
	// from before the first instance started to after the last stopped
	// (pg_stat_database): start-up, sign-ins and the cache's lease upkeep
	// included.
	Served            int           `json:"served"`
	Life              time.Duration `json:"life"`
	StoreTransactions int64         `json:"storeTransactions"`
	TransactionsPerRq float64       `json:"storeTransactionsPerRequest"`
	// StoreLookups counts the reads of the sessions table's token index
	// over the same life (pg_stat_user_indexes): the token lookups that
	// reached PostgreSQL, which the cache answers when it holds the
	// session and serves.
	StoreLookups int64   `json:"storeLookups"`
	LookupsPerRq float64 `json:"storeLookupsPerRequest"`
	// StoreCPU is the CPU time of the PostgreSQL backends serving the
	// fleet's database per request while measured, when PostgreSQL runs
	// on this machine.
	StoreCPU         time.Duration `json:"storeCPUPerRequest,omitempty"`
	StoreCPUMeasured bool          `json:"storeCPUMeasured"`
	Revoke           *revokeResult `json:"revoke,omitempty"`
	Skipped          string        `json:"skipped,omitempty"`
}

// revokeResult is the latency of POST /logout (which revokes the session
// it presents) on one instance while the fleet's three listen.
type revokeResult struct {
	N        int           `json:"n"`
	Mean     time.Duration `json:"mean"`
	P50      time.Duration `json:"p50"`
	P90      time.Duration `json:"p90"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
	Errors   int           `json:"errors"`
	Accepted int           `json:"acceptedAfterRevoke"` // GET /me answered 200 with a revoked token: must be 0
}

// fleet is one fleet's set-up and, while it runs, its instances.
type fleet struct {
	res    *fleetResult
	args   []string // the demo's flags
	db     string   // its database, for the counts
	dsn    string   // of its database
	schema string
	own    bool // the database is the fleet's alone
	procs  []*demoProc
	loader *loader
	pgCPU  time.Duration
	pgOK   bool
	xacts0 int64
	scans0 int64
	born   time.Time
}

// pgDSN is the server the benchmarks use: REVOKE_TEST_POSTGRES, or the
// tests' default.
func pgDSN() string {
	if dsn := os.Getenv(pgtest.EnvVar); dsn != "" {
		return dsn
	}
	return pgtest.DefaultDSN
}

// runFleet measures the fleet scenario: first the two fleets' throughput,
// both running and loaded in turn, each on a database of its own whose
// counts cover its whole life; then, one fleet at a time and on the same
// databases, revocations. Without PostgreSQL it says skipped, and so does
// a fleet whose demo does not start (as -cache does on a store without
// invalidations).
func runFleet(root, tmp string, workers, rounds, revokes int, warmup, d time.Duration, w io.Writer) *fleetReport {
	dsn := pgDSN()
	rep := &fleetReport{Server: pgtest.Describe(dsn), Instances: fleetSize, Sessions: workers}
	ctx := context.Background()
	admin, err := connectPG(ctx, dsn)
	if err != nil {
		rep.Skipped = fmt.Sprintf("PostgreSQL not reachable at %s (set %s)", rep.Server, pgtest.EnvVar)
		fmt.Fprintf(w, "fleet: skipped: %s: %v\n", rep.Skipped, err)
		return rep
	}
	defer admin.Close(ctx)
	bin, err := buildDemo(root, tmp)
	if err != nil {
		rep.Skipped = err.Error()
		fmt.Fprintf(w, "fleet: skipped: %s\n", rep.Skipped)
		return rep
	}

	// One cookie key and admin token for all: the instances of a fleet
	// serve each other's sessions.
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"REVOKE_COOKIE_KEY=" + hex.EncodeToString(key), "REVOKE_ADMIN_TOKEN=" + rand.Text()}
	suffix := strings.ToLower(rand.Text()[:10])
	rep.OwnDatabases = true
	var fleets []*fleet
	for _, cache := range []bool{false, true} {
		f := &fleet{res: &fleetResult{Name: "3 demo instances, PostgreSQL", Cache: cache}}
		name := "revoke_bench_" + suffix
		if cache {
			f.res.Name += ", -cache"
			name += "_cache"
		}
		fleets = append(fleets, f)
		f.dsn, f.schema = dsn, "revoke_bench"
		if rep.OwnDatabases {
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				fmt.Fprintf(w, "fleet: cannot create a database (%v); the fleets share %s, each in a schema of its own\n", err, rep.Server)
				rep.OwnDatabases = false
			}
		}
		if rep.OwnDatabases {
			f.db, f.own = name, true
			defer func() {
				if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
					fmt.Fprintf(w, "fleet: dropping %s: %v\n", name, err)
				}
			}()
			if f.dsn, err = withDatabase(dsn, name); err != nil {
				f.res.Skipped = err.Error()
				continue
			}
		} else {
			f.db, f.schema = admin.Config().Database, name
			defer func() {
				if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
					fmt.Fprintf(w, "fleet: dropping %s: %v\n", name, err)
				}
			}()
		}
		f.args = []string{"-postgres", f.dsn, "-postgres-schema", f.schema,
			// Off, so that the load measures lookups, not refusals:
			// the per-session limit of /me (600 a minute), the
			// sign-in limits, and the cap of 5 sessions per user,
			// which would evict the load's sessions.
			"-route-requests", "0", "-login-attempts", "0", "-login-failures", "0", "-max-sessions", "0"}
		if cache {
			f.args = append(f.args, "-cache")
		}
		// Before any instance connects, the counts are exact: no backend
		// of the fleet's holds figures it has not reported yet.
		f.xacts0, err = dbTransactions(ctx, admin, f.db)
		if err == nil && !f.own {
			f.scans0, err = f.tokenScans(ctx)
		}
		if err != nil {
			f.res.Skipped = err.Error()
			continue
		}
		f.born = time.Now()
		if err := f.start(bin, env); err != nil {
			f.res.Skipped = err.Error()
			fmt.Fprintf(w, "fleet %s: skipped: %v\n", f.res.Name, err)
			continue
		}
		defer f.stop(w)
	}

	live := slices.DeleteFunc(slices.Clone(fleets), func(f *fleet) bool { return f.res.Skipped != "" })
	for _, f := range live {
		if err := f.prepareLoad(workers); err != nil {
			f.res.Skipped = err.Error()
			fmt.Fprintf(w, "fleet %s: skipped: %v\n", f.res.Name, err)
			f.stop(w)
			continue
		}
		f.loader.run(warmup, false)
		f.pgOK = true
	}
	live = slices.DeleteFunc(live, func(f *fleet) bool { return f.res.Skipped != "" })
	for range rounds {
		for _, f := range live {
			before, ok1 := backendCPU(ctx, admin, f.db)
			f.loader.run(d/time.Duration(rounds), true)
			after, ok2 := backendCPU(ctx, admin, f.db)
			for pid, t := range after {
				f.pgCPU += t - before[pid]
			}
			f.pgOK = f.pgOK && ok1 && ok2
		}
	}
	// Stop the fleets together. A backend reports what it holds when it
	// exits: wait until each count stops moving.
	var wg sync.WaitGroup
	for _, f := range live {
		wg.Go(func() { f.stop(w) })
	}
	wg.Wait()
	for _, f := range live {
		f.count(ctx, admin)
		r := f.res.Load
		fmt.Fprintf(w, "fleet %-36s %8.0f req/s  p50 %-9s p99 %-9s demo CPU %-8s PostgreSQL CPU %-8s store transactions/request %.4f lookups/request %.4f (%d requests in %s) errors %d\n",
			f.res.Name, r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond),
			r.ServerCPU.Round(100*time.Nanosecond), f.res.StoreCPU.Round(100*time.Nanosecond),
			f.res.TransactionsPerRq, f.res.LookupsPerRq, f.res.Served, f.res.Life, r.Errors)
	}

	// Revocations, one fleet at a time, on the databases of before.
	for _, f := range live {
		if err := f.start(bin, env); err != nil {
			fmt.Fprintf(w, "fleet %s: revocations skipped: %v\n", f.res.Name, err)
			continue
		}
		f.res.Revoke = f.revokeLoop(revokes)
		f.stop(w)
		r := f.res.Revoke
		fmt.Fprintf(w, "fleet %-36s revoke over HTTP: %d, p50 %s p99 %s max %s, errors %d, accepted after revoke %d\n",
			f.res.Name, r.N, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Errors, r.Accepted)
	}
	for _, f := range fleets {
		rep.Fleets = append(rep.Fleets, *f.res)
	}
	return rep
}

// count reads the fleet's figures once its instances have stopped.
func (f *fleet) count(ctx context.Context, admin *pgx.Conn) {
	r := f.loader.result()
	f.res.Load, f.res.Served = r, f.loader.sentAll
	n, err := settledTransactions(ctx, admin, f.db)
	f.res.Life = time.Since(f.born).Round(100 * time.Millisecond)
	if err == nil && f.res.Served > 0 {
		f.res.StoreTransactions = n - f.xacts0
		if !f.own {
			f.res.StoreTransactions-- // tokenScans' own, at the start
		}
		f.res.TransactionsPerRq = float64(f.res.StoreTransactions) / float64(f.res.Served)
	}
	if scans, err := f.tokenScans(ctx); err == nil && f.res.Served > 0 {
		f.res.StoreLookups = scans - f.scans0
		f.res.LookupsPerRq = float64(f.res.StoreLookups) / float64(f.res.Served)
	}
	if f.pgOK && f.loader.sent > 0 {
		f.res.StoreCPU, f.res.StoreCPUMeasured = f.pgCPU/time.Duration(f.loader.sent), true
	}
}

// start runs the fleet's instances one after the other, so that the first
// creates the schema alone.
func (f *fleet) start(bin string, env []string) error {
	for range fleetSize {
		p, err := startDemoProc(bin, f.args, env)
		if err != nil {
			f.stop(io.Discard)
			return err
		}
		f.procs = append(f.procs, p)
	}
	return nil
}

// stop stops the fleet's instances that still run.
func (f *fleet) stop(w io.Writer) {
	for _, p := range f.procs {
		if err := p.stop(); err != nil {
			fmt.Fprintf(w, "fleet %s: stopping an instance: %v\n", f.res.Name, err)
		}
	}
	f.procs = nil
}

func (f *fleet) bases() []string {
	var out []string
	for _, p := range f.procs {
		out = append(out, p.base)
	}
	return out
}

// prepareLoad signs in one session per worker, spread over the users and
// the instances, and sets up the loader that sends each worker's requests
// to the three instances in turn.
func (f *fleet) prepareLoad(workers int) error {
	users := []string{"alice", "bob", "carol"}
	t := &target{bases: f.bases(), path: "/me", stop: func() error { return nil }}
	for _, p := range f.procs {
		t.pids = append(t.pids, p.pid)
	}
	for w := range workers {
		token, _, err := demoLogin(http.DefaultClient, t.bases[w%len(t.bases)], users[w%len(users)])
		if err != nil {
			return err
		}
		h := http.Header{}
		h.Set(revoke.HeaderName, token)
		t.headers = append(t.headers, h)
	}
	f.loader = newLoader(f.res.Name, t, workers)
	return nil
}

// revokeLoop signs a session in on one instance, reads it on the two
// others (so that, with -cache, each holds it), revokes it with POST
// /logout on the first and times that, then asks all three for it again:
// each must refuse it. The instances take the revoking turn in rotation.
func (f *fleet) revokeLoop(n int) *revokeResult {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	bases := f.bases()
	users := []string{"alice", "bob", "carol"}
	res := &revokeResult{}
	var took []time.Duration
	get := func(base, token string) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/me", nil)
		req.Header.Set(revoke.HeaderName, token)
		r, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode, nil
	}
	for i := range n {
		home := bases[i%len(bases)]
		token, _, err := demoLogin(c, home, users[i%len(users)])
		if err != nil {
			res.Errors++
			continue
		}
		ok := true
		for _, b := range bases {
			if b == home {
				continue
			}
			if code, err := get(b, token); err != nil || code != http.StatusOK {
				ok = false
			}
		}
		req, _ := http.NewRequest(http.MethodPost, home+"/logout", nil)
		req.Header.Set(revoke.HeaderName, token)
		start := time.Now()
		r, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		elapsed := time.Since(start)
		if err != nil || r.StatusCode != http.StatusNoContent || !ok {
			res.Errors++
			continue
		}
		took = append(took, elapsed)
		for _, b := range bases {
			code, err := get(b, token)
			switch {
			case err != nil:
				res.Errors++
			case code == http.StatusOK:
				res.Accepted++
			case code != http.StatusUnauthorized:
				res.Errors++
			}
		}
	}
	res.N = len(took)
	if len(took) > 0 {
		slices.Sort(took)
		var sum time.Duration
		for _, t := range took {
			sum += t
		}
		pct := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
		res.Mean, res.P50, res.P90, res.P99, res.Max = sum/time.Duration(len(took)), pct(0.50), pct(0.90), pct(0.99), took[len(took)-1]
	}
	return res
}

// connectPG connects to dsn within a few seconds.
func connectPG(ctx context.Context, dsn string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return pgx.Connect(ctx, dsn)
}

// withDatabase returns dsn with its database replaced by db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%s: %w", pgtest.EnvVar, err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil // key=value: the last setting wins
}

// dbTransactions returns the transactions committed and rolled back in db
// so far, as PostgreSQL's statistics have them.
func dbTransactions(ctx context.Context, admin *pgx.Conn, db string) (int64, error) {
	var n int64
	err := admin.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", db).Scan(&n)
	return n, err
}

// tokenScans returns how often the fleet's sessions table has been read
// through its token index. It reads the statistics from a connection to
// the fleet's database (they are kept per database), in one transaction
// of that database's, and closes the connection at once, which reports
// that transaction. With no sessions table yet, it returns 0.
func (f *fleet) tokenScans(ctx context.Context) (int64, error) {
	conn, err := connectPG(ctx, f.dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes
		WHERE schemaname = $1 AND pg_get_indexdef(indexrelid) LIKE '%(token_hash)'`, f.schema).Scan(&n)
	return n, err
}

// settledTransactions waits until db's count of transactions stops moving
// (its backends have exited and reported) and returns it.
func settledTransactions(ctx context.Context, admin *pgx.Conn, db string) (int64, error) {
	last, err := dbTransactions(ctx, admin, db)
	for range 20 {
		time.Sleep(250 * time.Millisecond)
		n, err := dbTransactions(ctx, admin, db)
		if err != nil {
			return 0, err
		}
		if n == last {
			return n, nil
		}
		last = n
	}
	return last, err
}

// backendCPU returns the CPU time used so far by each PostgreSQL backend
// connected to db, read from /proc; ok is false when PostgreSQL does not
// run on this machine (or /proc is not there).
func backendCPU(ctx context.Context, admin *pgx.Conn, db string) (map[int]time.Duration, bool) {
	cfg := admin.Config()
	if ip := net.ParseIP(cfg.Host); cfg.Host != "localhost" && !strings.HasPrefix(cfg.Host, "/") && (ip == nil || !ip.IsLoopback()) {
		return nil, false
	}
	rows, err := admin.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", db)
	if err != nil {
		return nil, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, false
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || !strings.HasPrefix(string(comm), "postgres") {
			return nil, false // another machine's process numbers
		}
		if t, ok := processCPU(int(pid)); ok {
			out[int(pid)] = t
		}
	}
	return out, len(out) > 0
}
