package revoke_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// BenchmarkMiddlewareHeaderMetrics is BenchmarkMiddlewareHeader with the
// Manager's metrics going nowhere (a noop MeterProvider: what an app that
// has not set OpenTelemetry up pays) and into the OpenTelemetry SDK (a
// ManualReader that is never read: the cost of recording, not of
// exporting). Their ratio is the instrumentation's cost per request; see
// BENCHMARKS.md.
func BenchmarkMiddlewareHeaderMetrics(b *testing.B) {
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"noop", noop.NewMeterProvider()},
		{"sdk", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey), revoke.WithMeterProvider(c.mp))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(revoke.HeaderName, token)
			serveLoop(b, m.Middleware(requireSession(b)), r)
		})
	}
}

// BenchmarkHTTPHeaderMetrics is BenchmarkMiddlewareHeaderMetrics over real
// HTTP: the same Middleware on the in-memory store behind an
// httptest.Server on loopback, one keep-alive client sending X-Session-Token
// and reading the answer. It is what a request costs as an operator sees
// it, server and client together; see BENCHMARKS.md.
func BenchmarkHTTPHeaderMetrics(b *testing.B) {
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"noop", noop.NewMeterProvider()},
		{"sdk", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey), revoke.WithMeterProvider(c.mp))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			_, token, err := m.Create(context.Background(), "alice", revoke.Device{})
			if err != nil {
				b.Fatal(err)
			}
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
			b.ReportAllocs()
			for b.Loop() {
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
		})
	}
}
