package main

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"
)

// What a benchmark binary prints with -test.v: a skipped benchmark's
// reason comes before its SKIP line, and nothing is printed for it
// without -test.v.
const verboseOutput = `goos: linux
pkg: github.com/revokehq/revoke/store/cachestore
BenchmarkLookup
BenchmarkLookup/memory
BenchmarkLookup/memory/store
BenchmarkLookup/memory/store-2   	 4831827	       327.4 ns/op	       0 B/op	       0 allocs/op
BenchmarkLookup/memory/cache-hit
BenchmarkLookup/memory/cache-hit-2         	 1274457	       853.1 ns/op	         0 misses/op	       0 B/op	       0 allocs/op
BenchmarkLookup/postgres
BenchmarkLookup/postgres/store
    bench_test.go:26: PostgreSQL not reachable at postgres@127.0.0.1:5432/test; set REVOKE_TEST_POSTGRES: dial tcp 127.0.0.1:5432: connect: connection refused
--- SKIP: BenchmarkLookup/postgres/store
BenchmarkRevoke
BenchmarkRevoke/redis
BenchmarkRevoke/redis/3-instances
BenchmarkRevoke/redis/3-instances-2          	     200	   1232338 ns/op	    967224 p50-ns	   6979212 p99-ns
PASS
`

func TestParseBenchVerbose(t *testing.T) {
	is := is.New(t)
	results, skipped := map[string]result{}, map[string]string{}
	parseBench("cachestore", []byte(verboseOutput), results, skipped)

	is.Equal(len(results), 3)
	hit := results["cachestore:BenchmarkLookup/memory/cache-hit"]
	is.Equal(hit.N, int64(1274457))
	is.Equal(hit.Metrics["ns/op"], 853.1)
	is.Equal(hit.Metrics["misses/op"], 0.0)
	rv := results["cachestore:BenchmarkRevoke/redis/3-instances"]
	is.Equal(rv.Metrics["p99-ns"], 6979212.0)

	is.Equal(len(skipped), 1)
	is.Equal(skipped["cachestore:BenchmarkLookup/postgres/store"],
		"PostgreSQL not reachable at postgres@127.0.0.1:5432/test; set REVOKE_TEST_POSTGRES: dial tcp 127.0.0.1:5432: connect: connection refused")
}

func TestSkippedRowsSayWhy(t *testing.T) {
	is := is.New(t)
	r := &report{Results: map[string]result{}, Skipped: map[string]string{}}
	parseBench("cachestore", []byte(verboseOutput), r.Results, r.Skipped)
	why, ok := r.skipReason("cachestore:BenchmarkLookup/postgres/store")
	is.True(ok)
	is.Equal(why, "PostgreSQL not reachable at postgres@127.0.0.1:5432/test (set REVOKE_TEST_POSTGRES)")
	is.Equal(shortReason("some other reason: with a colon"), "some other reason: with a colon")
}

func TestParseParts(t *testing.T) {
	is := is.New(t)
	parts, err := parseParts("cache, fleet,cache", false, false)
	is.NoErr(err)
	is.Equal(parts, []string{"cache", "fleet"})

	parts, err = parseParts("go,cache,http,fleet", true, false)
	is.NoErr(err)
	is.Equal(parts, []string{"http", "fleet"}) // -skip-go leaves the Go benchmarks out

	_, err = parseParts("go,caches", false, false)
	is.True(err != nil) // a misspelt part is an error, not a part left out

	_, err = parseParts("http", false, true)
	is.True(err != nil) // nothing left to run
}

func TestSuitesByPart(t *testing.T) {
	is := is.New(t)
	for _, s := range suites(false, false, true) {
		is.Equal(s.pkg, "./store/cachestore")
	}
	is.Equal(len(suites(false, false, true)), 1)
	for _, s := range suites(true, true, false) {
		is.True(s.pkg != "./store/cachestore")
	}
}

func TestWithDatabase(t *testing.T) {
	is := is.New(t)
	dsn, err := withDatabase("postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "revoke_bench_x")
	is.NoErr(err)
	is.Equal(dsn, "postgres://postgres@127.0.0.1:5432/revoke_bench_x?sslmode=disable")
	dsn, err = withDatabase("host=127.0.0.1 user=postgres dbname=test", "revoke_bench_x")
	is.NoErr(err)
	cfg, err := pgx.ParseConfig(dsn)
	is.NoErr(err)
	is.Equal(cfg.Database, "revoke_bench_x") // the last setting wins
}
