// Package reliability holds no code of its own, only tests that hold the
// library to its promises under stress: revocation is linearizable on every
// backend (a resolve that starts after a revocation returned never succeeds),
// acknowledged writes to the SQLite store survive the process being killed,
// and the demo server stays correct and stable under sustained load.
//
//	go test -race ./reliability/           # everything; the soak runs 10s
//	go test -race -short ./reliability/    # linearizability only
//
// See the Reliability section of the README for what each test proves and
// the knobs (REVOKE_SOAK_DURATION, REVOKE_CRASH_KILLS, REVOKE_TEST_POSTGRES).
package reliability
