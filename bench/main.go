// Command bench runs revoke's performance comparison in one go: the Go
// benchmarks of the root package and of every store (against scs v2 in the
// same run), the cache's in front of PostgreSQL and Redis, then end-to-end
// load tests over HTTP on loopback, one of them on three demo instances
// sharing PostgreSQL with and without the cache. It prints the tables of
// BENCHMARKS.md with the ratios, and writes them with the raw numbers and a
// chart of revocation cost against store size.
//
//	go run ./bench                  # everything, about 5 minutes on 2 cores
//	go run ./bench -quick           # stores up to 100,000 sessions
//	go run ./bench -wait-load 1     # first wait for a quiet machine
//	go run ./bench -parts cache,fleet   # only the cache's figures
//
// PostgreSQL is benchmarked when REVOKE_TEST_POSTGRES names a server, or one
// listens at postgres://postgres@127.0.0.1:5432/test; Redis when
// REVOKE_TEST_REDIS names one or one listens at redis://127.0.0.1:6379/0;
// otherwise their rows say skipped. The chart is written as SVG, and as PNG
// when rsvg-convert (Debian: librsvg2-bin) is installed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine describes where a run took place.
type machine struct {
	Date         string        `json:"date"`
	CPU          string        `json:"cpu"`
	NumCPU       int           `json:"numCPU"`
	GOMAXPROCS   int           `json:"gomaxprocs"`
	MemoryGB     float64       `json:"memoryGB"`
	Kernel       string        `json:"kernel"`
	Go           string        `json:"go"`
	SCS          string        `json:"scs"`
	LoadBefore   string        `json:"loadBefore"`
	LoadAfter    string        `json:"loadAfter"`
	Workers      int           `json:"workers"`
	LoadDuration time.Duration `json:"loadDuration"`
	LoadWarmup   time.Duration `json:"loadWarmup"`
	LoadRounds   int           `json:"loadRounds"`
}

func main() {
	var (
		quick     = flag.Bool("quick", false, "leave out stores of 1,000,000 sessions")
		benchtime = flag.String("benchtime", "1s", "go test -benchtime for each benchmark")
		workers   = flag.Int("workers", 8, "concurrent connections of the HTTP load generator")
		duration  = flag.Duration("duration", 6*time.Second, "how long each HTTP scenario is measured in all (at most 10s)")
		rounds    = flag.Int("rounds", 3, "how many turns the HTTP scenarios take, each measured for duration/rounds per turn")
		warmup    = flag.Duration("warmup", time.Second, "how long each HTTP scenario runs before it is measured")
		outDir    = flag.String("out", "", "where to write the results (default: bench/results in the module)")
		skipGo    = flag.Bool("skip-go", false, "skip the Go benchmarks (the parts go and cache)")
		skipHTTP  = flag.Bool("skip-http", false, "skip the HTTP load tests (the parts http and fleet)")
		partsFlag = flag.String("parts", strings.Join(allParts, ","), "which parts to run, comma-separated: "+partsHelp)
		revokes   = flag.Int("revokes", 300, "revocations over HTTP timed in each fleet")
		waitLoad  = flag.Float64("wait-load", 0, "first wait (up to 20 minutes) until the 1-minute load average is below this")
		render    = flag.String("render", "", "write the tables and the chart of a saved results.json again, without running anything")
		serveMode = flag.String("serve", "", "internal: run a server for the load test")
		serveDir  = flag.String("serve-dir", "", "internal: the server's directory")
	)
	flag.Parse()
	if *serveMode != "" {
		if err := serve(*serveMode, "127.0.0.1:0", *serveDir); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	if *render != "" {
		if err := rerender(*render, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *duration > 10*time.Second {
		*duration = 10 * time.Second
	}
	*rounds = max(*rounds, 1)
	parts, err := parseParts(*partsFlag, *skipGo, *skipHTTP)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(parts, *quick, *benchtime, *workers, *rounds, *revokes, *duration, *warmup, *outDir, *waitLoad); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The parts of a run, in the order they run.
var allParts = []string{"go", "cache", "http", "fleet"}

const partsHelp = "go (the root package's and the stores' Go benchmarks), cache (store/cachestore's), " +
	"http (the HTTP scenarios of one server), fleet (3 demo instances on PostgreSQL, with and without -cache)"

// parseParts reads -parts, less what -skip-go and -skip-http leave out.
func parseParts(list string, skipGo, skipHTTP bool) ([]string, error) {
	var parts []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case !slices.Contains(allParts, p):
			return nil, fmt.Errorf("-parts: unknown part %q (%s)", p, partsHelp)
		case skipGo && (p == "go" || p == "cache"), skipHTTP && (p == "http" || p == "fleet"):
		case !slices.Contains(parts, p):
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("nothing to run")
	}
	return parts, nil
}

func run(parts []string, quick bool, benchtime string, workers, rounds, revokes int, duration, warmup time.Duration, outDir string, waitLoad float64) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if outDir == "" {
		// A run of some parts only keeps the whole run's results.
		outDir = filepath.Join(root, "bench", "results")
		if len(parts) < len(allParts) {
			outDir = filepath.Join(outDir, strings.Join(parts, "-"))
		}
	}
	// The run's time leaves out the wait for a quiet machine.
	var waited time.Duration
	if waitLoad > 0 {
		began := time.Now()
		waitForQuiet(waitLoad, 20*time.Minute)
		waited = time.Since(began).Round(time.Second)
	}
	start := time.Now()
	tmp, err := os.MkdirTemp("", "revoke-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	r := &report{
		Waited:  waited,
		Parts:   parts,
		Quick:   quick,
		Results: map[string]result{},
		Skipped: map[string]string{},
		Machine: describeMachine(root),
	}
	r.Machine.Workers, r.Machine.LoadDuration, r.Machine.LoadWarmup, r.Machine.LoadRounds = workers, duration, warmup, rounds
	fmt.Printf("%s, %d cores, Go %s, %s; load average %s\n\n", r.Machine.CPU, r.Machine.NumCPU, r.Machine.Go, r.Machine.Kernel, r.Machine.LoadBefore)

	has := func(p string) bool { return slices.Contains(parts, p) }
	if has("go") || has("cache") {
		results, skipped, err := runSuites(root, tmp, suites(quick, has("go"), has("cache")), benchtime, os.Stdout)
		if err != nil {
			return err
		}
		r.Results, r.Skipped = results, skipped
	}
	if has("http") {
		fmt.Println()
		r.Load = runLoad(root, tmp, workers, rounds, warmup, duration, os.Stdout)
	}
	if has("fleet") {
		fmt.Println()
		r.Fleet = runFleet(root, tmp, workers, rounds, revokes, warmup, duration, os.Stdout)
	}
	r.Machine.LoadAfter = loadAverage()
	r.Elapsed = time.Since(start).Round(time.Second)

	md := r.markdown()
	fmt.Printf("\n%s\n", md)
	fmt.Printf("machine: %s, %d cores, %.0f GB; load average before %s, after %s; whole run %s\n",
		r.Machine.CPU, r.Machine.NumCPU, r.Machine.MemoryGB, r.Machine.LoadBefore, r.Machine.LoadAfter, r.Elapsed)
	return r.write(outDir, md)
}

// rerender writes the tables and the chart of the run saved in file again,
// into dir (default: the file's directory).
func rerender(file, dir string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if dir == "" {
		dir = filepath.Dir(file)
	}
	return r.write(dir, r.markdown())
}

// write saves the run in dir: the tables, the raw numbers and the chart.
func (r *report) write(dir, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	waited := ""
	if r.Waited > 0 {
		waited = fmt.Sprintf(", after waiting %s for a quiet machine", r.Waited)
	}
	header := fmt.Sprintf("Run of %s on %s (%d cores, GOMAXPROCS %d, %.0f GB), Linux %s, Go %s, scs %s. Load average (1, 5, 15 min) before: %s, after: %s. The whole run took %s%s.\n\n",
		r.Machine.Date, r.Machine.CPU, r.Machine.NumCPU, r.Machine.GOMAXPROCS, r.Machine.MemoryGB, r.Machine.Kernel, r.Machine.Go, r.Machine.SCS,
		r.Machine.LoadBefore, r.Machine.LoadAfter, r.Elapsed, waited)
	files := map[string]string{"results.md": header + md}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files["results.json"] = string(js) + "\n"
	var written []string
	if pts := r.chartSeries(); len(pts) > 0 {
		files["revoke-vs-scs.csv"] = chartCSV(pts)
		files["revoke-vs-scs.svg"] = chartSVG("Revoking one user's sessions: revoke against scs",
			fmt.Sprintf("%s, %d cores, %s", r.Machine.CPU, r.Machine.NumCPU, r.Machine.Date), pts)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
		written = append(written, name)
	}
	if _, ok := files["revoke-vs-scs.svg"]; ok {
		svg, png := filepath.Join(dir, "revoke-vs-scs.svg"), filepath.Join(dir, "revoke-vs-scs.png")
		if out, err := exec.Command("rsvg-convert", "-b", "white", "-z", "1.5", "-o", png, svg).CombinedOutput(); err != nil {
			fmt.Printf("no PNG (rsvg-convert: %v %s); install librsvg2-bin for it\n", err, strings.TrimSpace(string(out)))
		} else {
			written = append(written, "revoke-vs-scs.png")
		}
	}
	fmt.Printf("wrote %s in %s\n", strings.Join(written, ", "), dir)
	return nil
}

// moduleRoot finds the directory of revoke's go.mod from the working
// directory up, so that the harness runs from the module root or from
// bench/.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/revokehq/revoke\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the github.com/revokehq/revoke module")
		}
		dir = parent
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// waitForQuiet polls the 1-minute load average every 30 seconds until it is
// below limit or max has passed, so that other work on the machine does not
// skew the numbers.
func waitForQuiet(limit float64, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		l := loadAverage()
		one, err := strconv.ParseFloat(strings.Fields(l + " x")[0], 64)
		if err != nil || one < limit {
			fmt.Printf("load average %s\n", l)
			return
		}
		if time.Now().After(deadline) {
			fmt.Printf("load average still %s after %s; going ahead\n", l, max)
			return
		}
		fmt.Printf("load average %s; waiting for < %.1f\n", l, limit)
		time.Sleep(30 * time.Second)
	}
}

func describeMachine(root string) machine {
	m := machine{
		Date:       time.Now().UTC().Format("2006-01-02 15:04 MST"),
		CPU:        "unknown CPU",
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         strings.TrimPrefix(runtime.Version(), "go"),
		LoadBefore: loadAverage(),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemoryGB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/alexedwards/scs/v2" {
				m.SCS = f[1]
			}
		}
	}
	return m
}
