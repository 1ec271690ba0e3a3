package revoke_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// The benchmarks here measure what the OpenTelemetry instrumentation costs
// a request: the Manager's metrics going nowhere (a noop MeterProvider:
// what an app that has not set OpenTelemetry up pays) against the SDK's (a
// ManualReader that is never read: the cost of recording, not of
// exporting). See BENCHMARKS.md.

// meterProviders are the two sides of each comparison.
func meterProviders() []struct {
	name string
	mp   metric.MeterProvider
} {
	return []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"noop", noop.NewMeterProvider()},
		{"sdk", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	}
}

// meteredManager returns a Manager on the in-memory store reporting to mp,
// and the token of a session it holds.
func meteredManager(b *testing.B, mp metric.MeterProvider) (*revoke.Manager, string) {
	b.Helper()
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey), revoke.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
	if err != nil {
		b.Fatal(err)
	}
	return m, token
}

// BenchmarkMiddlewareHeaderMetrics is BenchmarkMiddlewareHeader with each
// MeterProvider, then with both interleaved (see measure).
func BenchmarkMiddlewareHeaderMetrics(b *testing.B) {
	measure(b, 200, middlewareRequest, func(b *testing.B, mpA, mpB metric.MeterProvider) (func(), func()) {
		return middlewareRequest(b, mpA), middlewareRequest(b, mpB)
	})
}

// middlewareRequest returns a function that serves one header request
// through the Middleware of a Manager reporting to mp.
func middlewareRequest(b *testing.B, mp metric.MeterProvider) func() {
	m, token := meteredManager(b, mp)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(revoke.HeaderName, token)
	h, w := m.Middleware(requireSession(b)), &discardWriter{h: http.Header{}}
	return func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHTTPHeaderMetrics is BenchmarkMiddlewareHeaderMetrics over real
// HTTP: the same Middleware on the in-memory store behind an
// httptest.Server on loopback, one keep-alive client sending X-Session-Token
// and reading the answer. It is what a request costs as an operator sees
// it, server and client together.
//
// Interleaved, both Managers are behind one server, on paths of their own,
// and one client alternates between them request by request over one
// connection, so that the two sides differ in nothing but the Manager.
func BenchmarkHTTPHeaderMetrics(b *testing.B) { measure(b, 1, httpRequest, httpPair) }

// httpRequest returns a function that sends one header request to a
// loopback server running the Middleware of a Manager reporting to mp.
func httpRequest(b *testing.B, mp metric.MeterProvider) func() {
	m, token := meteredManager(b, mp)
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := revoke.FromContext(r.Context()); !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})))
	b.Cleanup(srv.Close)
	client := srv.Client()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set(revoke.HeaderName, token)
	return func() { getOK(b, client, req) }
}

// httpPair is httpRequest for two Managers behind one server, requested by
// one client.
func httpPair(b *testing.B, mpA, mpB metric.MeterProvider) (func(), func()) {
	mux := http.NewServeMux()
	var paths, tokens [2]string
	for i, mp := range []metric.MeterProvider{mpA, mpB} {
		m, token := meteredManager(b, mp)
		paths[i], tokens[i] = fmt.Sprintf("/%d", i), token
		mux.Handle(paths[i], m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := revoke.FromContext(r.Context()); !ok {
				w.WriteHeader(http.StatusUnauthorized)
			}
		})))
	}
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	client := srv.Client()
	get := func(i int) func() {
		req, err := http.NewRequest("GET", srv.URL+paths[i], nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(revoke.HeaderName, tokens[i])
		return func() { getOK(b, client, req) }
	}
	return get(0), get(1)
}

// getOK sends req and reads the answer, which must be a 200.
func getOK(b *testing.B, client *http.Client, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// measure runs the requests newRequest makes with each MeterProvider, then
// both sides of newPair interleaved in runs of n (see interleave).
func measure(b *testing.B, n int, newRequest func(*testing.B, metric.MeterProvider) func(),
	newPair func(b *testing.B, mpA, mpB metric.MeterProvider) (func(), func())) {
	mps := meterProviders()
	for _, c := range mps {
		b.Run(c.name, func(b *testing.B) {
			f := newRequest(b, c.mp)
			defer reportCPU(b)()
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		a, c := newPair(b, mps[0].mp, mps[1].mp)
		interleave(b, n, "noop", a, "sdk", c)
	})
	// Two noop Managers the same way: how far from 1 the method's ratio
	// strays when both sides do the same work.
	b.Run("interleaved-aa", func(b *testing.B) {
		a, c := newPair(b, mps[0].mp, noop.NewMeterProvider())
		interleave(b, n, "noop", a, "noop2", c)
	})
}

// interleave runs n requests of a, then n of b, and so on (the other way
// round every other time), timing each run of n. Compared within a few
// milliseconds of each other, the two sides see the same machine, however
// its load changes over a benchmark. It reports the median of the pairs'
// ratios as nameB/nameA, which a run slowed by another process does not
// move; the ratio of the two sides' total times as nameB/nameA-total,
// which counts a cost paid once in many requests; and each side's median
// and fastest time per request. One op is one pair of runs.
func interleave(bm *testing.B, n int, nameA string, a func(), nameB string, b func()) {
	timed := func(f func()) time.Duration {
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start)
	}
	var as, bs, ratios []float64
	var sumA, sumB time.Duration
	for i := 0; bm.Loop(); i++ {
		var da, db time.Duration
		if i%2 == 0 {
			da, db = timed(a), timed(b)
		} else {
			db, da = timed(b), timed(a)
		}
		as, bs = append(as, float64(da)/float64(n)), append(bs, float64(db)/float64(n))
		ratios = append(ratios, float64(db)/float64(da))
		sumA, sumB = sumA+da, sumB+db
	}
	bm.ReportMetric(median(as), nameA+"-ns/req")
	bm.ReportMetric(median(bs), nameB+"-ns/req")
	bm.ReportMetric(slices.Min(as), nameA+"-min-ns/req")
	bm.ReportMetric(slices.Min(bs), nameB+"-min-ns/req")
	bm.ReportMetric(median(ratios), nameB+"/"+nameA)
	bm.ReportMetric(float64(sumB)/float64(sumA), nameB+"/"+nameA+"-total")
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// reportCPU, deferred around a benchmark's loop, reports the process's CPU
// time per iteration as cpu-ns/op. On a shared machine it moves less than
// the wall time, which also counts the time other processes held the CPU;
// and it counts work done off the benchmark's goroutine, which ns/op can
// miss.
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		if end, ok2 := processCPU(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
