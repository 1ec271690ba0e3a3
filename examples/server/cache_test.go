package main

import (
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"strings"
	"testing"

	"github.com/revokehq/revoke/internal/demoproc"
	"github.com/revokehq/revoke/internal/pgtest"
	"github.com/revokehq/revoke/internal/redistest"
)

// TestMultiInstanceCached runs two demo processes with -cache on one
// PostgreSQL schema, then on one Redis prefix: every lookup after the first
// is answered from each instance's memory, and still a revocation on one
// instance holds on the other from the very next request, under a hammer
// of requests too.
func TestMultiInstanceCached(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two server binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the servers with SIGTERM")
	}
	bin := demoproc.Build(t, t.TempDir())
	for _, backend := range []struct {
		name  string
		flags func(t *testing.T) []string
	}{
		{"postgres", func(t *testing.T) []string {
			dsn, schema := pgtest.Schema(t, "demo_cache_", true)
			return []string{"-postgres", dsn, "-postgres-schema", schema}
		}},
		{"redis", func(t *testing.T) []string {
			url := redistest.URL(t)
			return []string{"-redis", url, "-redis-prefix", redistest.Prefix(t, url)}
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			flags := append(backend.flags(t), "-cache")
			cookieKey := hex.EncodeToString([]byte(rand.Text() + rand.Text()))
			adminToken := "multi-instance-admin-" + rand.Text()
			start := func() *demoproc.Process {
				return demoproc.Start(t, bin, flags, []string{
					envPassword + "=" + testPassword,
					envCookieKey + "=" + cookieKey,
					envAdminToken + "=" + adminToken,
				})
			}
			a, b := start(), start()
			for _, p := range []*demoproc.Process{a, b} {
				if log := p.Output(); !strings.Contains(log, "session cache") {
					t.Fatalf("the log of %s does not say the cache is on:\n%s", p.URL(), log)
				}
			}
			t.Run("admin revokes every session on A", func(t *testing.T) { adminRevokesAcross(t, a, b, adminToken) })
			t.Run("revocation on A is linearizable for requests on B", func(t *testing.T) {
				hammerDuringRevoke(t, a, b, []string{"Authorization", "Bearer " + adminToken})
			})
			a.Stop(t)
			b.Stop(t)
		})
	}
}
