package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/demoproc"
	"github.com/revokehq/revoke/internal/redistest"
)

func TestParseConfigRedis(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig([]string{"-redis", "redis://:secret@127.0.0.1:6379/2", "-redis-prefix", "demo:"}, env(), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.redis, "redis://:secret@127.0.0.1:6379/2")
	is.Equal(cfg.redisPrefix, "demo:")
	is.Equal(cfg.storeName(), "redis:redis://127.0.0.1:6379/2") // no password in the log

	for _, args := range [][]string{
		{"-redis", ""},
		{"-redis", "redis://127.0.0.1:6379", "-memory"},
		{"-redis", "redis://127.0.0.1:6379", "-postgres", "postgres://127.0.0.1/test"},
		{"-redis", "redis://127.0.0.1:6379", "-db", "x.db"},
		{"-redis-prefix", "demo:"},
	} {
		if _, err := parseConfig(args, env(), io.Discard); err == nil {
			t.Errorf("parseConfig(%q) succeeded", args)
		}
	}
}

// TestMultiInstanceRedis runs two demo processes on one Redis server and
// prefix, with the same cookie key and admin token, and checks that a
// revocation made on one instance holds on the other from the very next
// request.
func TestMultiInstanceRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two server binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the servers with SIGTERM")
	}
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	bin := demoproc.Build(t, t.TempDir())
	cookieKey := hex.EncodeToString([]byte(rand.Text() + rand.Text()))
	adminToken := "multi-instance-admin-" + rand.Text()
	start := func() *demoproc.Process {
		return demoproc.Start(t, bin, []string{"-redis", url, "-redis-prefix", prefix}, []string{
			envPassword + "=" + testPassword,
			envCookieKey + "=" + cookieKey,
			envAdminToken + "=" + adminToken,
		})
	}
	a, b := start(), start()
	for _, p := range []*demoproc.Process{a, b} {
		if log := p.Output(); !strings.Contains(log, "backend=redis") || !strings.Contains(log, "prefix="+prefix) {
			t.Fatalf("the log of %s does not name the Redis store and prefix:\n%s", p.URL(), log)
		}
	}
	bearer := []string{"Authorization", "Bearer " + adminToken}

	t.Run("admin revokes every session on A", func(t *testing.T) { adminRevokesAcross(t, a, b, adminToken) })

	t.Run("user ends her other sessions on B", func(t *testing.T) {
		is := is.New(t)
		onB, onA := signIn(t, b, "alice"), signIn(t, a, "alice")
		expectMe(t, a, onB, http.StatusOK)
		res, body := newClient(t, b.URL()).withToken(onB.lr.Token).do(http.MethodDelete, "/auth/sessions", "")
		is.Equal(res.StatusCode, http.StatusOK)
		is.Equal(decode[map[string]int](t, body), map[string]int{"count": 1})
		expectMe(t, a, onA, http.StatusUnauthorized)
		expectMe(t, a, onB, http.StatusOK) // the current session stays
	})

	t.Run("revocation on A is linearizable for requests on B", func(t *testing.T) {
		hammerDuringRevoke(t, a, b, bearer)
	})

	a.Stop(t)
	b.Stop(t)
}
