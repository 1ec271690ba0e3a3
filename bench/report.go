package main

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// report holds everything one run measured.
type report struct {
	Machine machine           `json:"machine"`
	Parts   []string          `json:"parts,omitempty"` // what ran; none said means every part
	Quick   bool              `json:"quick"`
	Results map[string]result `json:"benchmarks"`
	Skipped map[string]string `json:"skipped,omitempty"`
	Load    []loadResult      `json:"e2e,omitempty"`
	Fleet   *fleetReport      `json:"fleet,omitempty"`
	Elapsed time.Duration     `json:"elapsed"`          // the run's, without Waited
	Waited  time.Duration     `json:"waited,omitempty"` // for a quiet machine (-wait-load)
}

var sizes = []int{1_000, 10_000, 100_000, 1_000_000}

func (r *report) get(key, unit string) (float64, bool) {
	res, ok := r.Results[key]
	if !ok {
		return 0, false
	}
	v, ok := res.Metrics[unit]
	return v, ok
}

func (r *report) ns(key string) (float64, bool) { return r.get(key, "ns/op") }

func atSize(pkg string, n int, op string) string {
	return fmt.Sprintf("%s:BenchmarkAtSize/sessions=%d/%s", pkg, n, op)
}

func scsIterate(n int) string {
	return fmt.Sprintf("scsstore:BenchmarkRevokeUser/sessions=%d/scs-iterate", n)
}

// cell formats a time with its allocations, or "–" when not measured.
func (r *report) cell(key string) string {
	v, ok := r.ns(key)
	if !ok {
		if _, skipped := r.skipReason(key); skipped {
			return "skipped"
		}
		return "–"
	}
	s := fmtDuration(v)
	if a, ok := r.get(key, "allocs/op"); ok {
		s += fmt.Sprintf(" (%.0f allocs)", a)
	}
	return s
}

// skipReason reports whether key, or a benchmark above it, was skipped,
// and why, shortened for a table.
func (r *report) skipReason(key string) (string, bool) {
	for k, why := range r.Skipped {
		if key == k || strings.HasPrefix(key, k+"/") {
			return shortReason(why), true
		}
	}
	return "", false
}

// unreachable is how internal/pgtest and internal/redistest say that no
// server answers: "X not reachable at Y; set VAR: driver error".
var unreachable = regexp.MustCompile(`^(.* not reachable at \S+); set (\w+): .*`)

// shortReason leaves the driver's error out of a skip reason.
func shortReason(why string) string {
	return unreachable.ReplaceAllString(why, "$1 (set $2)")
}

func ratio(base, x float64) string {
	if x <= 0 || base <= 0 {
		return "–"
	}
	v := base / x
	switch {
	case v >= 100:
		return groupThousands(int64(math.Round(v))) + "x"
	case v >= 10:
		return fmt.Sprintf("%.0fx", v)
	}
	return fmt.Sprintf("%.1fx", v)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// markdown renders the tables of BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	row := func(cells ...string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }

	b.WriteString("### Targets\n\n")
	row("what", "revoke", "baseline", "ratio", "target")
	row("---", "---", "---", "---", "---")

	if _, ok := r.ns("revoke:BenchmarkResolveToken"); ok {
		row("resolve a token, memstore (`Manager.Resolve`)", r.cell("revoke:BenchmarkResolveToken"), "", "", "< 1 µs")
	}
	if _, ok := r.ns("revoke:BenchmarkMiddlewareHeader"); ok {
		row("resolve from `X-Session-Token` through `Middleware`, memstore", r.cell("revoke:BenchmarkMiddlewareHeader"), "", "", "< 1 µs, a handful of allocations")
	}
	if _, ok := r.ns("revoke:BenchmarkMiddlewareAnonymous"); ok {
		row("request without a session through `Middleware`", r.cell("revoke:BenchmarkMiddlewareAnonymous"), "", "", "")
	}
	if rv, ok := r.ns("revoke:BenchmarkCookie/revoke"); ok {
		sv, _ := r.ns("revoke:BenchmarkCookie/scs")
		row("resolve from the cookie through `Middleware` (securecookie decode included)", r.cell("revoke:BenchmarkCookie/revoke"),
			"scs `LoadAndSave`, existing session: "+r.cell("revoke:BenchmarkCookie/scs"), ratio(sv, rv), "≥ 4x faster")
	}
	if _, ok := r.ns(atSize("sqlitestore", 100_000, "resolve")); ok {
		row("SQLite: resolve, one goroutine, 100,000 sessions", r.cell(atSize("sqlitestore", 100_000, "resolve")), "", "", "< 30 µs")
	}
	if s, ok := r.ns("sqlitestore:BenchmarkResolveConcurrent/serial"); ok {
		p, _ := r.ns("sqlitestore:BenchmarkResolveConcurrent/parallel")
		w, _ := r.get("sqlitestore:BenchmarkResolveConcurrent/parallel", "writes/s")
		row(fmt.Sprintf("SQLite: resolves from %d goroutines while a writer creates and revokes (%.0f writes/s), 100,000 sessions", r.Machine.GOMAXPROCS, w),
			fmtDuration(p)+" per resolve", "one goroutine, same writer: "+fmtDuration(s), ratio(s, p)+" the throughput",
			fmt.Sprintf("scale across the %d cores (≥ %.1fx)", r.Machine.GOMAXPROCS, 0.75*float64(r.Machine.GOMAXPROCS)))
		if si, ok := r.ns("sqlitestore:BenchmarkResolveConcurrent/serial-idle"); ok {
			pi, _ := r.ns("sqlitestore:BenchmarkResolveConcurrent/parallel-idle")
			row(fmt.Sprintf("SQLite: the same from %d goroutines with no writer", r.Machine.GOMAXPROCS),
				fmtDuration(pi)+" per resolve", "one goroutine: "+fmtDuration(si), ratio(si, pi)+" the throughput", "")
		}
	}
	scs100k, haveSCS := r.ns(scsIterate(100_000))
	for _, c := range []struct {
		pkg, name, target string
	}{
		{"memstore", "memstore", "< 50 µs"},
		{"sqlitestore", "SQLite", "< 1 ms"},
		{"pgstore", "PostgreSQL", "a few ms (< 5 ms)"},
	} {
		key := atSize(c.pkg, 100_000, "revoke-user")
		v, ok := r.ns(key)
		if !ok {
			if why, skipped := r.skipReason(key); skipped {
				row("revoke one user's sessions among 100,000, "+c.name, "skipped: "+why, "", "", c.target)
			}
			continue
		}
		base, rt := "", ""
		if haveSCS {
			base, rt = "scs Iterate + Destroy: "+fmtDuration(scs100k), ratio(scs100k, v)
		}
		row("revoke one user's sessions among 100,000, "+c.name, r.cell(key), base, rt, c.target+", thousands of times faster")
	}
	r.listRows(row)
	r.cacheTargetRows(row)
	for _, c := range []struct{ pkg, name string }{{"memstore", "memstore"}, {"sqlitestore", "SQLite"}} {
		small, ok1 := r.ns(atSize(c.pkg, 1_000, "revoke-user"))
		big, ok2 := r.ns(atSize(c.pkg, 1_000_000, "revoke-user"))
		if ok1 && ok2 {
			row("revoke cost at 1,000,000 sessions against 1,000, "+c.name, fmtDuration(big), "at 1,000: "+fmtDuration(small), fmt.Sprintf("%.2f", big/small), "flat (≤ 2)")
		}
	}
	if rv, ok := r.get("memstore:BenchmarkMemoryPerSession/revoke", "B/session"); ok {
		sv, _ := r.get("memstore:BenchmarkMemoryPerSession/scs", "B/session")
		row("heap per stored session, memstore (typical user agent and address)", fmt.Sprintf("%.0f B", rv), fmt.Sprintf("scs memstore: %.0f B", sv), fmt.Sprintf("%.2f", rv/sv), "measured, kept small")
	}
	if v, ok := r.get(atSize("sqlitestore", 1_000_000, "resolve"), "file-B/session"); ok {
		row("SQLite file per stored session (1,000,000 sessions)", fmt.Sprintf("%.0f B", v), "", "", "")
	}

	if r.hasSizes() {
		r.sizeTable(&b, row)
	}
	r.loadTable(&b, row)
	r.cacheSection(&b, row)
	return b.String()
}

// hasSizes reports whether the run measured the stores at their sizes.
func (r *report) hasSizes() bool {
	for k := range r.Results {
		if strings.Contains(k, ":BenchmarkAtSize/") || strings.HasPrefix(k, "scsstore:") {
			return true
		}
	}
	return false
}

// sizeTable writes the table of cost against store size.
func (r *report) sizeTable(b *strings.Builder, row func(...string)) {
	b.WriteString("\n### Cost against store size\n\n")
	b.WriteString("Revoking one user's 5 sessions, and resolving a token picked at random among the store's, as the store grows. ")
	b.WriteString("scs's column is its documented recipe for the same revocation: `Iterate` over every session and `Destroy` the user's.\n\n")
	row("sessions", "memstore resolve", "memstore revoke", "SQLite resolve", "SQLite revoke", "PostgreSQL resolve", "PostgreSQL revoke", "scs Iterate + Destroy", "scs ÷ memstore", "scs ÷ SQLite")
	row("---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:")
	for _, n := range sizes {
		if r.Quick && n > 100_000 {
			continue
		}
		scs, _ := r.ns(scsIterate(n))
		mem, _ := r.ns(atSize("memstore", n, "revoke-user"))
		sq, _ := r.ns(atSize("sqlitestore", n, "revoke-user"))
		row(groupThousands(int64(n)),
			r.cell(atSize("memstore", n, "resolve")), r.cell(atSize("memstore", n, "revoke-user")),
			r.cell(atSize("sqlitestore", n, "resolve")), r.cell(atSize("sqlitestore", n, "revoke-user")),
			r.cell(atSize("pgstore", n, "resolve")), r.cell(atSize("pgstore", n, "revoke-user")),
			r.cell(scsIterate(n)), ratio(scs, mem), ratio(scs, sq))
	}
}

// loadTable writes the table of the HTTP scenarios of one server.
func (r *report) loadTable(b *strings.Builder, row func(...string)) {
	if len(r.Load) > 0 {
		b.WriteString("\n### End to end over HTTP\n\n")
		fmt.Fprintf(b, "GET requests on loopback from %d keep-alive connections, %s per scenario in %d turns taken in rotation (after %s of warm-up); each server runs in a process of its own on the same %d cores as the load generator. ",
			r.Machine.Workers, r.Machine.LoadDuration, r.Machine.LoadRounds, r.Machine.LoadWarmup, r.Machine.NumCPU)
		b.WriteString("Every handler answers the same small JSON body (user and session id). ")
		b.WriteString("Server CPU is the server process's CPU time per request (from /proc): with the load generator on the same cores, throughput and latency move with everything else the machine does, the server's own work per request much less.\n\n")
		row("scenario", "requests/s", "p50", "p90", "p99", "errors", "server CPU per request", "over bare")
		row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:")
		var bare loadResult
		for _, l := range r.Load {
			if l.Name == "bare handler" {
				bare = l
			}
		}
		for _, l := range r.Load {
			if l.Skipped != "" {
				row(l.Name, "skipped: "+strings.SplitN(l.Skipped, "\n", 2)[0], "", "", "", "", "")
				continue
			}
			cpu, over := "–", ""
			if l.ServerCPU > 0 {
				cpu = fmtDuration(float64(l.ServerCPU))
				if bare.ServerCPU > 0 && l.Name != bare.Name {
					over = fmt.Sprintf("%+.1f µs", float64(l.ServerCPU-bare.ServerCPU)/1e3)
				}
			}
			row(l.Name, groupThousands(int64(l.RPS)), fmtDuration(float64(l.P50)), fmtDuration(float64(l.P90)), fmtDuration(float64(l.P99)), fmt.Sprint(l.Errors), cpu, over)
		}
	}
}

// listSessions names a result of BenchmarkListSessions.
func listSessions(pkg, user, op string) string {
	return fmt.Sprintf("%s:BenchmarkListSessions/%s/%s", pkg, user, op)
}

// listRows adds the rows of the list target: a page of GET /auth/sessions
// for a user with 20,000 revoked and expired sessions, against listing
// every row as the handler did before it was paged; and, for reference,
// a full page for a user with 20,000 live ones.
func (r *report) listRows(row func(...string)) {
	for _, c := range []struct{ pkg, name string }{{"memstore", "memstore"}, {"sqlitestore", "SQLite"}, {"pgstore", "PostgreSQL"}} {
		page := listSessions(c.pkg, "old-rows=20000", "page")
		v, ok := r.ns(page)
		if !ok {
			if why, skipped := r.skipReason(page); skipped {
				row("`GET /auth/sessions` for a user with 20,000 old rows, "+c.name, "skipped: "+why, "", "", "< 5 ms and a few KB")
			}
			continue
		}
		size, _ := r.get(page, "resp-B/op")
		all := listSessions(c.pkg, "old-rows=20000", "list-every-row")
		base, _ := r.ns(all)
		row("`GET /auth/sessions` for a user with 20,000 old rows, "+c.name,
			fmt.Sprintf("%s, %.1f KB", r.cell(page), size/1e3),
			"every row listed, as before: "+r.cell(all), ratio(base, v), "< 5 ms and a few KB")
		live := listSessions(c.pkg, "live=20000", "page")
		if lv, ok := r.ns(live); ok {
			ls, _ := r.get(live, "resp-B/op")
			lb, _ := r.ns(listSessions(c.pkg, "live=20000", "list-every-row"))
			lbs, _ := r.get(listSessions(c.pkg, "live=20000", "list-every-row"), "resp-B/op")
			row("the same, a page of 250 for a user with 20,000 live sessions, "+c.name,
				fmt.Sprintf("%s, %.0f KB", r.cell(live), ls/1e3),
				fmt.Sprintf("every row listed: %s, %.1f MB", r.cell(listSessions(c.pkg, "live=20000", "list-every-row")), lbs/1e6),
				ratio(lb, lv), "")
		}
	}
}

// chartSeries is the data of the chart: revoking one user's sessions
// against store size, revoke's backends and scs's recipe.
func (r *report) chartSeries() []series {
	out := []series{
		{Name: "scs: Iterate + Destroy", Color: "#d62728", Dashed: true},
		{Name: "revoke: PostgreSQL", Color: "#9467bd"},
		{Name: "revoke: SQLite", Color: "#2ca02c"},
		{Name: "revoke: memstore", Color: "#1f77b4"},
	}
	keys := []func(int) string{
		scsIterate,
		func(n int) string { return atSize("pgstore", n, "revoke-user") },
		func(n int) string { return atSize("sqlitestore", n, "revoke-user") },
		func(n int) string { return atSize("memstore", n, "revoke-user") },
	}
	var kept []series
	for i := range out {
		for _, n := range sizes {
			if v, ok := r.ns(keys[i](n)); ok {
				out[i].Points = append(out[i].Points, point{n, v})
			}
		}
		if len(out[i].Points) > 0 {
			kept = append(kept, out[i])
		}
	}
	return kept
}

// chartCSV is the chart's data as CSV: size, series, nanoseconds.
func chartCSV(all []series) string {
	var b strings.Builder
	b.WriteString("sessions,series,ns_per_revoke\n")
	for _, s := range all {
		for _, p := range s.Points {
			fmt.Fprintf(&b, "%d,%s,%.0f\n", p.Size, s.Name, p.NS)
		}
	}
	return b.String()
}
