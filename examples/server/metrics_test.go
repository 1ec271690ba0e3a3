package main

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

var metricsListeningRE = regexp.MustCompile(`msg="metrics listening" addr=\S+ url=(\S+)`)

// outageStore fails the lookups of sessions with store.ErrUnavailable
// while down is set, as a store that stopped answering would.
type outageStore struct {
	store.SessionStore
	down atomic.Bool
}

func (s *outageStore) GetByTokenHash(ctx context.Context, h [sha256.Size]byte) (store.Session, error) {
	if s.down.Load() {
		return store.Session{}, store.ErrUnavailable
	}
	return s.SessionStore.GetByTokenHash(ctx, h)
}

func (s *outageStore) Get(ctx context.Context, id string) (store.Session, error) {
	if s.down.Load() {
		return store.Session{}, store.ErrUnavailable
	}
	return s.SessionStore.Get(ctx, id)
}

// demoWithMetrics serves the demo in-process on st with -metrics-addr on a
// free loopback port, and returns the base URLs of the app and of /metrics.
func demoWithMetrics(t *testing.T, st store.SessionStore) (base, metricsURL string) {
	t.Helper()
	cfg := config{addr: "127.0.0.1:0", memory: true, password: testPassword, adminToken: testAdminToken,
		loginAttempts: defaultLoginAttempts, loginFailures: defaultLoginFailures, routeRequests: defaultRouteRequests,
		metrics: metricsFlags{addr: "127.0.0.1:0"}}
	out := newOutput()
	logger := slog.New(slog.NewTextHandler(out, nil))
	ctx, cancel := context.WithCancel(context.Background())
	stopMetrics, err := cfg.metrics.start(ctx, logger) // as run does, before the store
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, st, logger, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		stopMetrics()
	})
	select {
	case base = <-out.url:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, out)
	case <-time.After(10 * time.Second):
		t.Fatalf("the demo did not listen\n%s", out)
	}
	m := metricsListeningRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no metrics address in the log\n%s", out)
	}
	return base, m[1]
}

// scrape reads the metrics endpoint with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sample returns the value of the counter (or the sample count of the
// histogram) name at the metric whose labels include labels ("k=v"), or 0
// when there is none.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsEndpointCountsWhatTheScriptDid drives the demo over HTTP
// (sign-ins, resolutions, refusals, revocations of each kind, a store
// outage) and checks each counter on its Prometheus endpoint against what
// it did.
func TestMetricsEndpointCountsWhatTheScriptDid(t *testing.T) {
	is := is.New(t)
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &outageStore{SessionStore: mem}
	base, metricsURL := demoWithMetrics(t, st)
	c := newClient(t, base)

	// Three sign-ins: alice twice, bob once.
	alice1, _ := c.login("alice", testPassword)
	alice2, _ := c.login("alice", testPassword)
	bob, _ := c.login("bob", testPassword)
	// Four resolutions that succeed.
	for _, tok := range []string{alice1.Token, alice1.Token, alice2.Token, bob.Token} {
		is.Equal(c.withToken(tok).meStatus(), http.StatusOK)
	}
	// Refusals: a malformed token, an unknown one, a revoked one.
	is.Equal(c.withToken("not a token").meStatus(), http.StatusUnauthorized)
	is.Equal(c.withToken(strings.Repeat("A", 32)).meStatus(), http.StatusUnauthorized)
	res, _ := c.withToken(alice2.Token).do(http.MethodPost, "/logout", "") // a resolution and a logout
	is.Equal(res.StatusCode, http.StatusNoContent)
	is.Equal(c.withToken(alice2.Token).meStatus(), http.StatusUnauthorized) // revoked

	// The store stops answering: neither a resolution nor a refusal, but
	// a store call that failed, and /readyz says so.
	is.Equal(statusOf(t, base+"/readyz"), http.StatusOK)
	is.Equal(statusOf(t, base+"/healthz"), http.StatusOK)
	st.down.Store(true)
	is.Equal(c.withToken(bob.Token).meStatus(), http.StatusServiceUnavailable)
	is.Equal(statusOf(t, base+"/readyz"), http.StatusServiceUnavailable)
	is.Equal(statusOf(t, base+"/healthz"), http.StatusOK)
	st.down.Store(false)

	// Revocations through each API family. Kratos: carol disables her
	// other session (a resolution, a revocation).
	carol1, _ := c.login("carol", testPassword)
	carol2, _ := c.login("carol", testPassword)
	res, _ = c.withToken(carol1.Token).do(http.MethodDelete, "/auth/sessions/"+carol2.SessionID, "")
	is.Equal(res.StatusCode, http.StatusNoContent)
	// Admin: bob signed out everywhere by the admin token.
	admin := newClient(t, base)
	admin.header.Set("Authorization", "Bearer "+testAdminToken)
	res, _ = admin.do(http.MethodDelete, "/auth/admin/api/users/bob/sessions", "")
	is.True(res.StatusCode/100 == 2)
	// Okta: alice signed out everywhere, then asked again until the
	// family's limit (120 a minute per caller) refuses one.
	for i := range oktaLimit + 1 {
		res, _ = admin.do(http.MethodDelete, "/api/v1/users/alice/sessions", "")
		if i < oktaLimit {
			is.Equal(res.StatusCode, http.StatusNoContent)
		}
	}
	is.Equal(res.StatusCode, http.StatusTooManyRequests)

	mfs := scrape(t, metricsURL)
	is.Equal(sample(mfs, "revoke_sessions_created_total"), 5.0)
	is.Equal(sample(mfs, "revoke_sessions_resolved_total"), 6.0) // 4 + the logout's + carol's
	is.Equal(sample(mfs, "revoke_sessions_refused_total", "revoke_refusal_reason=malformed"), 1.0)
	is.Equal(sample(mfs, "revoke_sessions_refused_total", "revoke_refusal_reason=unknown"), 1.0)
	is.Equal(sample(mfs, "revoke_sessions_refused_total", "revoke_refusal_reason=revoked"), 1.0)
	is.Equal(sample(mfs, "revoke_sessions_refused_total"), 3.0)
	revocations := func(reason, actor, family string) float64 {
		return sample(mfs, "revoke_revocations_total", "revoke_revocation_reason="+reason,
			"revoke_revocation_actor="+actor, "revoke_api_family="+family)
	}
	is.Equal(revocations("logout", "user", "app"), 1.0)
	is.Equal(revocations("user_revoked", "user", "kratos"), 1.0)
	is.Equal(revocations("admin_revoked", "admin-token", "admin"), 1.0)
	is.Equal(revocations("admin_revoked", "admin-token", "okta"), 1.0) // alice1; the repeats revoke nothing
	is.Equal(sample(mfs, "revoke_revocations_total"), 4.0)
	is.Equal(sample(mfs, "revoke_ratelimit_refused_total", "revoke_api_family=okta"), 1.0)
	is.Equal(sample(mfs, "revoke_ratelimit_refused_total"), 1.0)

	// Every lookup is a store call: 4 + the logout's + unknown + revoked +
	// the one that failed + carol's (the malformed token is refused before
	// the store).
	is.Equal(sample(mfs, "revoke_store_duration_seconds", "db_operation_name=GetByTokenHash"), 9.0)
	is.Equal(sample(mfs, "revoke_store_duration_seconds", "db_operation_name=GetByTokenHash", "error_type=unavailable"), 1.0)
	is.Equal(sample(mfs, "revoke_store_duration_seconds", "db_operation_name=Create", "db_system_name=server"), 5.0) // named by its package
	// logout, carol's, bob's, and each of the Okta family's 120.
	is.Equal(sample(mfs, "revoke_store_duration_seconds", "db_operation_name=Revoke"), float64(3+oktaLimit))
}

// oktaLimit is the demo's rate limit of the Okta family (see rateLimits).
var oktaLimit = rateLimits["okta"].Requests

func statusOf(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

func TestMetricsAddrLoopbackUnlessPublic(t *testing.T) {
	is := is.New(t)
	env := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{nil, true}, // off by default
		{[]string{"-metrics-addr", "127.0.0.1:9090"}, true},
		{[]string{"-metrics-addr", "[::1]:9090"}, true},
		{[]string{"-metrics-addr", "localhost:9090"}, true},
		{[]string{"-metrics-addr", "0.0.0.0:9090"}, false},
		{[]string{"-metrics-addr", ":9090"}, false},
		{[]string{"-metrics-addr", "0.0.0.0:9090", "-metrics-public"}, true},
		{[]string{"-metrics-addr", "9090"}, false},
	} {
		cfg, err := parseConfig(append([]string{"-memory"}, c.args...), env, io.Discard)
		is.Equal(err == nil, c.ok) // c.args
		if len(c.args) == 0 {
			is.Equal(cfg.metrics.addr, "")
		}
	}
}
