package cachestore_test

import (
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	// A long lease keeps the cache serving through the three lookups.
	c := serving(t, memstore.New(), cachestore.WithMeterProvider(mp), cachestore.WithLease(time.Minute))
	t.Cleanup(func() { _ = c.Close() })
	sess := storetest.NewSession("alice", time.Now())
	if err := c.Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	for range 3 { // one miss, then two hits
		if _, err := c.GetByTokenHash(t.Context(), sess.TokenHash); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Revoke(t.Context(), store.Selection{UserID: "alice"}, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	got := collect(t, reader)
	// The instance's own invalidation comes back through the store, after
	// the revocation returned.
	for deadline := time.Now().Add(10 * time.Second); got[cachestore.MetricInvalidations] == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		got = collect(t, reader)
	}
	want := map[string]int64{
		cachestore.MetricLookups + "/hit":  2,
		cachestore.MetricLookups + "/miss": 1,
		cachestore.MetricServing:           1,
		cachestore.MetricCached:            0, // the revocation evicted it
		cachestore.MetricLapses:            0,
		cachestore.MetricInvalidations:     1,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %d, want %d (all: %v)", name, got[name], v, got)
		}
	}
}

// collect reads every int64 sum and gauge of reader, by name (and
// AttrResult).
func collect(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					name := m.Name
					if v, ok := p.Attributes.Value(cachestore.AttrResult); ok {
						name += "/" + v.AsString()
					}
					got[name] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] = p.Value
				}
			}
		}
	}
	return got
}
