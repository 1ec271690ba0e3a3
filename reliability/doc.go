// Package reliability holds no code of its own, only tests that hold the
// library to its promises under stress: revocation is linearizable on every
// backend, with and without a cache in front (a resolve that starts after a
// revocation returned never succeeds); it stays so across three processes
// with store/cachestore in front of one Redis or PostgreSQL store, while
// their listeners are killed, one of them is stopped with SIGSTOP and the
// store's server restarts; session caps hold across processes;
// acknowledged writes to the SQLite store survive the process being
// killed; and the demo server stays correct and stable under sustained
// load.
//
//	go test -race ./reliability/           # everything; the soak runs 10s
//	go test -race -short ./reliability/    # the linearizability tests only, the cache's briefly
//
// The cache test (TestCacheAcrossProcesses) runs the test binary itself as
// its instances (TestCacheChild); its restart case starts a redis-server
// and an initdb'd PostgreSQL of its own on free loopback ports, and skips
// where the binaries are missing. It prints each case's figures as a row
// of the table in RELIABILITY.md.
//
// See the Reliability section of the README and RELIABILITY.md for what
// each test proves, the figures of the last run and the knobs
// (REVOKE_SOAK_DURATION, REVOKE_CRASH_KILLS, REVOKE_TEST_POSTGRES,
// REVOKE_TEST_REDIS).
package reliability
