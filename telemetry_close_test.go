package revoke_test

import (
	"context"
	"testing"

	"github.com/matryer/is"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// hasMetric reports whether the reader's collection holds the metric name.
func hasMetric(t *testing.T, reader sdkmetric.Reader, name string) bool {
	t.Helper()
	for _, sm := range metrics(t, reader).ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return true
			}
		}
	}
	return false
}

func TestTelemetryResolutionCountsUntilClose(t *testing.T) {
	is := is.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	newManager := func() *revoke.Manager {
		m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey), revoke.WithMeterProvider(mp))
		is.NoErr(err)
		return m
	}
	a, b := newManager(), newManager()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ctx := context.Background()

	// Nothing resolved yet: no series, as with a counter never added to.
	is.True(!hasMetric(t, reader, revoke.MetricSessionsResolved))
	is.True(!hasMetric(t, reader, revoke.MetricSessionsRefused))

	for _, m := range []*revoke.Manager{a, b, b} {
		_, tok, err := m.Create(ctx, "alice", revoke.Device{})
		is.NoErr(err)
		_, err = m.Resolve(ctx, tok)
		is.NoErr(err)
	}
	_, err := a.Resolve(ctx, "not-a-token")
	is.True(err != nil)
	reason := revoke.AttrRefusalReason.String("malformed")
	rm := metrics(t, reader)
	is.Equal(counter(rm, revoke.MetricSessionsResolved), int64(3)) // the two Managers' counts add up
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason), int64(1))
	rm = metrics(t, reader)
	is.Equal(counter(rm, revoke.MetricSessionsResolved), int64(3)) // cumulative: collecting again counts nothing twice

	// Closing one Manager keeps its counts in the sum the other adds to: a
	// cumulative counter never goes down.
	is.NoErr(a.Close())
	is.NoErr(a.Close()) // again: nothing to do
	_, err = b.Resolve(ctx, "not-a-token")
	is.True(err != nil)
	rm = metrics(t, reader)
	is.Equal(counter(rm, revoke.MetricSessionsResolved), int64(3))
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason), int64(2))

	// The last one unregisters the callback.
	is.NoErr(b.Close())
	is.True(!hasMetric(t, reader, revoke.MetricSessionsResolved))
	is.True(!hasMetric(t, reader, revoke.MetricSessionsRefused))

	// A Manager on another MeterProvider counts apart.
	other := sdkmetric.NewManualReader()
	c, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey),
		revoke.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(other))))
	is.NoErr(err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = c.Resolve(ctx, "not-a-token")
	is.True(err != nil)
	is.Equal(counter(metrics(t, other), revoke.MetricSessionsRefused, reason), int64(1))
	is.True(!hasMetric(t, reader, revoke.MetricSessionsRefused))
}
