package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// suite is one package's benchmarks: its test binary is built once and run
// with -test.bench pattern.
type suite struct {
	cache     bool   // part "cache" rather than "go"
	pkg       string // relative to the module root, "." for the root package
	pattern   string
	benchtime string // instead of the run's, when set
}

// suites lists the Go benchmarks the comparison is made of, those of the
// part "go", of the part "cache" or both. Patterns with sizes leave the
// million-session runs out when quick is set.
func suites(quick, core, cache bool) []suite {
	sizes := ""
	if quick {
		sizes = "/^sessions=(1000|10000|100000)$"
	}
	all := []suite{
		{false, ".", `^(BenchmarkResolveToken|BenchmarkMiddlewareHeader|BenchmarkMiddlewareAnonymous|BenchmarkCookie)$`, ""},
		{false, "./store/memstore", `^BenchmarkMemoryPerSession$`, ""},
		{false, "./store/memstore", `^BenchmarkAtSize$` + sizes, ""},
		// Longer: serial and parallel are compared with each other, and
		// the writer's timing adds noise to each.
		{false, "./store/sqlitestore", `^BenchmarkResolveConcurrent$`, "3s"},
		{false, "./store/sqlitestore", `^BenchmarkAtSize$` + sizes, ""},
		{false, "./store/pgstore", `^BenchmarkAtSize$`, ""},
		{false, "./scsstore", `^BenchmarkRevokeUser$` + sizes, ""},
		{false, "./store/memstore", `^BenchmarkListSessions$`, ""},
		{false, "./store/sqlitestore", `^BenchmarkListSessions$`, ""},
		{false, "./store/pgstore", `^BenchmarkListSessions$`, ""},
		// A lookup from each store against a cache hit; a revocation on
		// each store alone and with three instances listening.
		{true, "./store/cachestore", `^(BenchmarkLookup|BenchmarkRevoke)$`, ""},
	}
	var out []suite
	for _, s := range all {
		if (s.cache && cache) || (!s.cache && core) {
			out = append(out, s)
		}
	}
	return out
}

// result is one benchmark's line of output.
type result struct {
	N       int64              `json:"n"`
	Metrics map[string]float64 `json:"metrics"` // by unit: ns/op, B/op, allocs/op, custom
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)
	skipLine  = regexp.MustCompile(`^\s*--- SKIP: (Benchmark\S+)`)
	logPrefix = regexp.MustCompile(`^\S+\.go:\d+: `)
)

// pkgName names a suite's package in result keys: "revoke" for the root.
func pkgName(pkg string) string {
	if pkg == "." {
		return "revoke"
	}
	return filepath.Base(pkg)
}

// parseBench reads go test -bench -v output: results by
// "package:benchmark" (the GOMAXPROCS suffix removed) and the benchmarks
// that were skipped, with the line that says why (which -v prints before
// the SKIP line).
func parseBench(pkg string, out []byte, results map[string]result, skipped map[string]string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	said := "" // the last line a benchmark logged
	for sc.Scan() {
		line := sc.Text()
		if m := skipLine.FindStringSubmatch(line); m != nil {
			skipped[pkg+":"+m[1]] = said
			said = ""
			continue
		}
		if t := strings.TrimSpace(line); t != "" && t != line {
			said = logPrefix.ReplaceAllString(t, "")
			continue
		}
		if strings.HasPrefix(line, "Benchmark") {
			said = ""
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		fields := strings.Fields(m[3])
		r := result{N: n, Metrics: map[string]float64{}}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			r.Metrics[fields[i+1]] = v
		}
		results[pkg+":"+m[1]] = r
	}
}

// runSuites builds each package's test binary and runs its benchmarks,
// echoing their output to w as they go.
func runSuites(root, tmp string, list []suite, benchtime string, w io.Writer) (map[string]result, map[string]string, error) {
	results := map[string]result{}
	skipped := map[string]string{}
	built := map[string]string{}
	for _, s := range list {
		bin, ok := built[s.pkg]
		if !ok {
			bin = filepath.Join(tmp, strings.NewReplacer("/", "_", ".", "root").Replace(s.pkg)+".test")
			start := time.Now()
			cmd := exec.Command("go", "test", "-c", "-o", bin, s.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, nil, fmt.Errorf("build %s: %v\n%s", s.pkg, err, out)
			}
			fmt.Fprintf(w, "built %s in %s\n", s.pkg, time.Since(start).Round(100*time.Millisecond))
			built[s.pkg] = bin
		}
		start := time.Now()
		bt := benchtime
		if s.benchtime != "" {
			bt = s.benchtime
		}
		fmt.Fprintf(w, "== %s %s (benchtime %s)\n", s.pkg, s.pattern, bt)
		var buf bytes.Buffer
		// -test.v: without it, a skipped benchmark says nothing.
		cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", s.pattern, "-test.v",
			"-test.benchtime", bt, "-test.count", "1", "-test.timeout", "60m")
		cmd.Dir = filepath.Join(root, s.pkg)
		cmd.Stdout = io.MultiWriter(&buf, w)
		cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
		err := cmd.Run()
		parseBench(pkgName(s.pkg), buf.Bytes(), results, skipped)
		if err != nil {
			return nil, nil, fmt.Errorf("benchmarks of %s: %v", s.pkg, err)
		}
		fmt.Fprintf(w, "   (%s)\n", time.Since(start).Round(100*time.Millisecond))
	}
	return results, skipped, nil
}
