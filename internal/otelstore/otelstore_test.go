package otelstore_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/revokehq/revoke/internal/otelstore"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// slowStore takes d to look a token up.
type slowStore struct {
	store.SessionStore
	d time.Duration
}

func (s slowStore) GetByTokenHash(ctx context.Context, h [sha256.Size]byte) (store.Session, error) {
	time.Sleep(s.d)
	return s.SessionStore.GetByTokenHash(ctx, h)
}

// TestDurationIsTheCallsTime checks the histogram's value against the fake
// clock of a synctest bubble, in which the sleeping lookup takes exactly
// 3 ms.
func TestDurationIsTheCallsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memstore.New()
		defer func() { _ = mem.Close() }()
		reader := sdkmetric.NewManualReader()
		meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
		s, err := otelstore.New(slowStore{mem, 3 * time.Millisecond}, meter, tracenoop.NewTracerProvider().Tracer("test"))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.GetByTokenHash(context.Background(), [sha256.Size]byte{1}); err != store.ErrNotFound {
				t.Fatalf("lookup: %v, want ErrNotFound", err)
			}
		}

		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		want := attribute.NewSet(otelstore.KeySystem.String("otelstore_test"), otelstore.KeyOperation.String("GetByTokenHash"))
		var found bool
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != otelstore.MetricDuration {
					continue
				}
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					if !dp.Attributes.Equals(&want) {
						t.Errorf("attributes %v, want %v", dp.Attributes.ToSlice(), want.ToSlice())
						continue
					}
					found = true
					if dp.Count != 2 || dp.Sum != 0.006 {
						t.Errorf("count %d, sum %v s; want 2 calls of 0.003 s", dp.Count, dp.Sum)
					}
					if mn, _ := dp.Min.Value(); mn != 0.003 {
						t.Errorf("min %v s, want 0.003", mn)
					}
				}
			}
		}
		if !found {
			t.Fatal("no duration recorded")
		}
	})
}

// countingHistogram counts its Record calls and reports itself enabled or
// not.
type countingHistogram struct {
	noop.Float64Histogram
	enabled bool
	records int
}

func (h *countingHistogram) Enabled(context.Context) bool { return h.enabled }
func (h *countingHistogram) Record(context.Context, float64, ...metric.RecordOption) {
	h.records++
}

type histogramMeter struct {
	noop.Meter
	h *countingHistogram
}

func (m histogramMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return m.h, nil
}

// TestDisabledHistogramIsNotRecorded checks that a call is timed and
// recorded only when the histogram takes measurements, and that the store
// answers the same either way.
func TestDisabledHistogramIsNotRecorded(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		mem := memstore.New()
		h := &countingHistogram{enabled: enabled}
		s, err := otelstore.New(mem, histogramMeter{h: h}, tracenoop.NewTracerProvider().Tracer("test"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(context.Background(), "missing"); err != store.ErrNotFound {
			t.Errorf("enabled %v: Get: %v, want ErrNotFound", enabled, err)
		}
		want := 0
		if enabled {
			want = 1
		}
		if h.records != want {
			t.Errorf("enabled %v: %d records, want %d", enabled, h.records, want)
		}
		_ = mem.Close()
	}
}
