// Package pgtest finds the PostgreSQL server that tests and benchmarks run
// against, and gives each test a schema of its own so that runs sharing a
// server never see each other's sessions.
//
// The server is postgres://postgres@127.0.0.1:5432/test unless the
// REVOKE_TEST_POSTGRES environment variable names another. When the default
// server is unreachable, tests skip with a message saying so; a server named
// in REVOKE_TEST_POSTGRES must be reachable, and the test fails otherwise, so
// that a typo there cannot silently turn the tests off.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server used unless REVOKE_TEST_POSTGRES names another.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvVar names the environment variable that overrides DefaultDSN.
const EnvVar = "REVOKE_TEST_POSTGRES"

var (
	reachOnce sync.Once
	reachErr  error
)

// DSN returns the connection string of the test server, skipping tb when the
// default server is unreachable and failing it when a named one is.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn, explicit := os.LookupEnv(EnvVar)
	if !explicit || dsn == "" {
		dsn, explicit = DefaultDSN, false
	}
	// Asked once per process: a test binary talks to one server.
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reachErr = exec(ctx, dsn, "SELECT 1")
	})
	if reachErr != nil {
		if explicit {
			tb.Fatalf("PostgreSQL not reachable at %s (%s): %v", Describe(dsn), EnvVar, reachErr)
		}
		tb.Skipf("PostgreSQL not reachable at %s; set %s: %v", Describe(dsn), EnvVar, reachErr)
	}
	return dsn
}

// Describe names the server of dsn without its password.
func Describe(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(unparsable " + EnvVar + ")"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Schema returns the test server's DSN and the name of a new schema, made
// of prefix and random characters, that no other test uses. With create
// set, the schema is created now; otherwise the code under test creates it.
// Either way it is dropped, with everything in it, when tb ends.
func Schema(tb testing.TB, prefix string, create bool) (dsn, schema string) {
	tb.Helper()
	dsn = DSN(tb)
	schema = prefix + strings.ToLower(rand.Text()[:12])
	quoted := pgx.Identifier{schema}.Sanitize()
	if create {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := exec(ctx, dsn, "CREATE SCHEMA "+quoted); err != nil {
			tb.Fatalf("create schema %s: %v", schema, err)
		}
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := exec(ctx, dsn, "DROP SCHEMA IF EXISTS "+quoted+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
