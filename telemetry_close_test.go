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

	is.NoErr(a.Close())
	is.NoErr(a.Close()) // again: nothing to do
	rm = metrics(t, reader)
	is.Equal(counter(rm, revoke.MetricSessionsResolved), int64(2)) // b's alone
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason), int64(0))

	is.NoErr(b.Close())
	is.True(!hasMetric(t, reader, revoke.MetricSessionsResolved))
}
