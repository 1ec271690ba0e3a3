package otelstore_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/revokehq/revoke/internal/otelstore"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// BenchmarkGetByTokenHash is one token lookup in the in-memory store: bare,
// then measured with a noop MeterProvider (the wrapper and the histogram's
// Enabled check) and with the SDK's (two clock reads and the histogram's
// Record on top), which is what the instrumentation adds to a request on
// the header path.
func BenchmarkGetByTokenHash(b *testing.B) {
	mem := memstore.New()
	b.Cleanup(func() { _ = mem.Close() })
	hash := sha256.Sum256([]byte("token"))
	now := time.Now()
	if err := mem.Create(context.Background(), store.Session{ID: "s1", UserID: "alice", TokenHash: hash,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"bare", nil},
		{"noop", noop.NewMeterProvider()},
		{"sdk", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			var st store.SessionStore = mem
			if c.mp != nil {
				s, err := otelstore.New(mem, c.mp.Meter("bench"), tracenoop.NewTracerProvider().Tracer("bench"))
				if err != nil {
					b.Fatal(err)
				}
				st = s
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.GetByTokenHash(ctx, hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
