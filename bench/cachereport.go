package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The cache's rows and section of the tables: store/cachestore's Go
// benchmarks and the fleet scenario.

// cacheBackends are the shared stores the cache is measured in front of.
var cacheBackends = []struct{ key, name, store string }{
	{"postgres", "PostgreSQL", "`pgstore`"},
	{"redis", "Redis", "`redisstore`"},
}

func lookupKey(backend, op string) string {
	return "cachestore:BenchmarkLookup/" + backend + "/" + op
}

func revokeKey(backend, op string) string {
	return "cachestore:BenchmarkRevoke/" + backend + "/" + op
}

// latencies formats a revocation benchmark's mean with its median and
// 99th percentile.
func (r *report) latencies(key string) string {
	s := r.cell(key)
	if p50, ok := r.get(key, "p50-ns"); ok {
		p99, _ := r.get(key, "p99-ns")
		s += fmt.Sprintf("; p50 %s, p99 %s", fmtDuration(p50), fmtDuration(p99))
	}
	return s
}

// hitCell formats a cache-hit benchmark, with the share of its lookups
// that went to the store after all when there were any.
func (r *report) hitCell(key string) string {
	s := r.cell(key)
	if m, ok := r.get(key, "misses/op"); ok && m > 0 {
		s += fmt.Sprintf(", %.2g%% missed", 100*m)
	}
	return s
}

// skippedCell says why key was not measured, or "–".
func (r *report) skippedCell(key string) string {
	if why, ok := r.skipReason(key); ok {
		return "skipped: " + why
	}
	return "–"
}

// cacheTargetRows adds the cache's rows to the targets table.
func (r *report) cacheTargetRows(row func(...string)) {
	for _, be := range cacheBackends {
		hit, direct := lookupKey(be.key, "cache-hit"), lookupKey(be.key, "store")
		what := "resolve a token on a cache hit, " + be.name + " (`cachestore` in front of " + be.store + ")"
		v, ok := r.ns(hit)
		if !ok {
			if _, skipped := r.skipReason(hit); skipped {
				row(what, r.skippedCell(hit), "", "", "≤ 2 µs")
			}
			continue
		}
		base, _ := r.ns(direct)
		row(what, r.hitCell(hit), be.store+" directly: "+r.cell(direct), ratio(base, v), "≤ 2 µs")
	}
	for _, be := range cacheBackends {
		key, alone := revokeKey(be.key, "3-instances"), revokeKey(be.key, "store")
		what := "revoke one session with 3 healthy instances listening, " + be.name + " (mean; p50, p99)"
		v, ok := r.ns(key)
		if !ok {
			if _, skipped := r.skipReason(key); skipped {
				row(what, r.skippedCell(key), "", "", "measured")
			}
			continue
		}
		base, _ := r.ns(alone)
		row(what, r.latencies(key), "the store alone: "+r.latencies(alone), ratio(v, base)+" the store alone's time", "measured")
	}
	f := r.Fleet
	if f == nil {
		return
	}
	what := fmt.Sprintf("requests/s of %d demo instances on one PostgreSQL (`GET /me`, `X-Session-Token`) with `-cache`", f.Instances)
	if f.Skipped != "" {
		row(what, "skipped: "+f.Skipped, "", "", "≥ 3x")
		return
	}
	plain, cached := f.fleet(false), f.fleet(true)
	switch {
	case plain == nil || cached == nil:
	case plain.Skipped != "" || cached.Skipped != "":
		why := cached.Skipped
		if plain.Skipped != "" {
			why = "without the cache: " + plain.Skipped
		}
		row(what, "skipped: "+firstLine(why), "", "", "≥ 3x")
	default:
		row(what, groupThousands(int64(cached.Load.RPS)), "without: "+groupThousands(int64(plain.Load.RPS)),
			ratio(cached.Load.RPS, plain.Load.RPS), "≥ 3x")
		if plain.Load.ServerCPU > 0 && cached.Load.ServerCPU > 0 && plain.StoreCPUMeasured && cached.StoreCPUMeasured {
			pc, cc := plain.Load.ServerCPU+plain.StoreCPU, cached.Load.ServerCPU+cached.StoreCPU
			row("CPU per request of the servers, the 3 demo processes and PostgreSQL's backends together, the same fleets",
				fmtDuration(float64(cc)), "without: "+fmtDuration(float64(pc)), ratio(float64(pc), float64(cc))+" less", "")
		}
		row("store transactions per request, the same fleets (of them token lookups)",
			fmt.Sprintf("%.4f (%.4f)", cached.TransactionsPerRq, cached.LookupsPerRq),
			fmt.Sprintf("without: %.4f (%.4f)", plain.TransactionsPerRq, plain.LookupsPerRq), "", "")
	}
}

// fleet returns the fleet with or without the cache, or nil.
func (f *fleetReport) fleet(cache bool) *fleetResult {
	for i := range f.Fleets {
		if f.Fleets[i].Cache == cache {
			return &f.Fleets[i]
		}
	}
	return nil
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// cacheSection writes the cache's tables: the Go benchmarks per store, and
// the fleet scenario.
func (r *report) cacheSection(b *strings.Builder, row func(...string)) {
	measured := false
	for k := range r.Results {
		measured = measured || strings.HasPrefix(k, "cachestore:")
	}
	for k := range r.Skipped {
		measured = measured || strings.HasPrefix(k, "cachestore:")
	}
	if !measured && r.Fleet == nil {
		return
	}
	b.WriteString("\n### Cache in front of a shared store\n\n")
	if measured {
		b.WriteString("`store/cachestore`'s benchmarks: a token lookup (`GetByTokenHash`) from each store directly and through a cache that holds the session; ")
		b.WriteString("a revocation of one session on the store alone and through the first of three caches on that store, each with its own subscription, in one process: the write, the barrier and the other instances' acknowledgements. ")
		b.WriteString("The memory store is the reference: its round trip is a function call.\n\n")
		row("store", "lookup, store directly", "lookup, cache hit", "hit ÷ store", "revoke, store alone (mean; p50, p99)", "revoke, 3 instances (mean; p50, p99)")
		row("---", "---:", "---:", "---:", "---:", "---:")
		for _, be := range append([]struct{ key, name, store string }{{"memory", "memory (`memstore`)", "`memstore`"}}, cacheBackends...) {
			cell := func(key string, f func(string) string) string {
				if _, ok := r.ns(key); ok {
					return f(key)
				}
				return r.skippedCell(key)
			}
			hit, _ := r.ns(lookupKey(be.key, "cache-hit"))
			st, _ := r.ns(lookupKey(be.key, "store"))
			name := be.name
			if be.key != "memory" {
				name += " (" + be.store + ")"
			}
			keys := []string{lookupKey(be.key, "store"), lookupKey(be.key, "cache-hit"), revokeKey(be.key, "store"), revokeKey(be.key, "3-instances")}
			if none := !slices.ContainsFunc(keys, func(k string) bool { _, ok := r.ns(k); return ok }); none {
				if why, skipped := r.skipReason(keys[0]); skipped {
					row(name, "skipped: "+why, "", "", "", "")
					continue
				}
			}
			row(name, cell(lookupKey(be.key, "store"), r.cell), cell(lookupKey(be.key, "cache-hit"), r.hitCell), ratio(st, hit),
				cell(revokeKey(be.key, "store"), r.latencies), cell(revokeKey(be.key, "3-instances"), r.latencies))
		}
	}
	f := r.Fleet
	if f == nil {
		return
	}
	if f.Skipped != "" {
		fmt.Fprintf(b, "\n%d demo instances on one PostgreSQL, with and without `-cache`: skipped: %s.\n", f.Instances, f.Skipped)
		return
	}
	on := "a database of its own created for the run"
	if !f.OwnDatabases {
		on = "the same database in a schema of its own"
	}
	fmt.Fprintf(b, "\nA fleet is %d demo servers (`examples/server`), separate processes with the same cookie key, on one PostgreSQL database and a fresh schema; ", f.Instances)
	fmt.Fprintf(b, "two fleets, one as the demo is and one with `-cache`, each on %s on the server of %s, run at once; ", on, f.Server)
	fmt.Fprintf(b, "the load generator sends `GET /me` with `X-Session-Token` from %d keep-alive workers, one session each, every worker's requests going to the three instances in turn, ", f.Sessions)
	fmt.Fprintf(b, "%s per fleet in %d turns taken in rotation (after %s of warm-up), on the same %d cores as the servers and PostgreSQL. ",
		r.Machine.LoadDuration, r.Machine.LoadRounds, r.Machine.LoadWarmup, r.Machine.NumCPU)
	b.WriteString("The demo's rate limits of `/me` and of sign-in and its cap of sessions per user are off (`-route-requests 0 -login-attempts 0 -login-failures 0 -max-sessions 0`). ")
	where := "the fleet's own database (`pg_stat_database`)"
	if !f.OwnDatabases {
		where = "the database (`pg_stat_database`; no database of their own could be created, so anything else using it is counted too)"
	}
	fmt.Fprintf(b, "Store transactions per request: the transactions PostgreSQL committed or rolled back in %s from before the first instance started to after the last stopped, divided by the `GET /me` requests the fleet answered, warm-up included; ", where)
	b.WriteString("each of the store's statements is a transaction of its own, and everything else the fleet did is counted in: start-up, sign-ins, and with `-cache` the lease upkeep, a few transactions a second per instance however busy it is. ")
	b.WriteString("(PostgreSQL reports a backend's counts late, sometimes only when it exits: counts over the fleet's whole life are exact.) ")
	b.WriteString("Token lookups are the reads of the sessions table's token index (`pg_stat_user_indexes`) over the same life, per request: the lookups that reached PostgreSQL. ")
	b.WriteString("PostgreSQL CPU is that of the backends serving the fleet's database while measured, from /proc. ")
	b.WriteString("Revoke: afterwards, one fleet at a time on the same database, `POST /logout` (which revokes the session it presents) on one instance after the two others have read the session, timed, then `GET /me` with the revoked token on all three, which must each refuse it.\n\n")
	row("fleet", "requests/s", "p50", "p90", "p99", "errors", "demo CPU per request (3 processes)", "PostgreSQL CPU per request", "store transactions per request", "of them token lookups", "revoke over HTTP: p50", "p99", "max", "accepted after revoke")
	row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:")
	for _, x := range f.Fleets {
		if x.Skipped != "" {
			row(x.Name, "skipped: "+firstLine(x.Skipped), "", "", "", "", "", "", "", "", "", "", "", "")
			continue
		}
		dur := func(d time.Duration) string {
			if d <= 0 {
				return "–"
			}
			return fmtDuration(float64(d))
		}
		pgCPU := dur(x.StoreCPU)
		if x.StoreCPUMeasured && x.StoreCPU == 0 {
			pgCPU = "0 (under /proc's 10 ms in all)"
		}
		rv := x.Revoke
		if rv == nil {
			rv = &revokeResult{}
		}
		accepted := fmt.Sprintf("%d of %d", rv.Accepted, rv.N*f.Instances)
		if rv.Errors > 0 {
			accepted += fmt.Sprintf(" (%d failed)", rv.Errors)
		}
		row(x.Name, groupThousands(int64(x.Load.RPS)), dur(x.Load.P50), dur(x.Load.P90), dur(x.Load.P99), fmt.Sprint(x.Load.Errors),
			dur(x.Load.ServerCPU), pgCPU, fmt.Sprintf("%.4f", x.TransactionsPerRq), fmt.Sprintf("%.4f", x.LookupsPerRq),
			dur(rv.P50), dur(rv.P99), dur(rv.Max), accepted)
	}
}
