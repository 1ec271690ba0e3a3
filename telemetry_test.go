package revoke_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// metrics collects what reader holds.
func metrics(t *testing.T, reader sdkmetric.Reader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// counter returns the value of the counter name at exactly the attributes kv.
func counter(rm metricdata.ResourceMetrics, name string, kv ...attribute.KeyValue) int64 {
	want := attribute.NewSet(kv...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Value
				}
			}
		}
	}
	return 0
}

// histogramCount returns how many values the histogram name holds at
// exactly the attributes kv.
func histogramCount(rm metricdata.ResourceMetrics, name string, kv ...attribute.KeyValue) uint64 {
	want := attribute.NewSet(kv...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Count
				}
			}
		}
	}
	return 0
}

// switchableStore fails GetByTokenHash with store.ErrUnavailable while failing
// is set.
type switchableStore struct {
	store.SessionStore
	failing atomic.Bool
}

func (f *switchableStore) GetByTokenHash(ctx context.Context, h [sha256.Size]byte) (store.Session, error) {
	if f.failing.Load() {
		return store.Session{}, store.ErrUnavailable
	}
	return f.SessionStore.GetByTokenHash(ctx, h)
}

func TestTelemetryCountsWhatHappened(t *testing.T) {
	is := is.New(t)
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	clk := newClock()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &switchableStore{SessionStore: mem}
	m, err := revoke.New(st, revoke.WithCookieKeys(testKey), revoke.WithClock(clk.Now),
		revoke.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		revoke.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	is.NoErr(err)
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()

	var tokens []string
	var ids []string
	for range 4 {
		s, tok, err := m.Create(ctx, "alice", revoke.Device{})
		is.NoErr(err)
		tokens, ids = append(tokens, tok), append(ids, s.ID)
	}
	header := func(tok string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(revoke.HeaderName, tok)
		return r
	}
	serve := func(r *http.Request) int {
		w := httptest.NewRecorder()
		m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
		return w.Code
	}
	for range 3 {
		is.Equal(serve(header(tokens[0])), http.StatusOK) // resolved, 3 times
	}
	is.Equal(serve(header("not-a-token")), http.StatusOK) // malformed
	_, err = m.Resolve(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	is.True(errors.Is(err, revoke.ErrUnknownToken)) // unknown
	_, err = m.RevokeSession(ctx, "alice", ids[1], revoke.Cause{Actor: revoke.UserActor("alice"), Reason: revoke.ReasonUserRevoked})
	is.NoErr(err)
	is.Equal(serve(header(tokens[1])), http.StatusOK) // revoked
	n, err := m.RevokeOthers(ctx, "alice", ids[0], revoke.Cause{Actor: revoke.AdminActor("root"), Reason: "app's own reason"})
	is.NoErr(err)
	is.Equal(n, 2) // ids[2], ids[3]
	st.failing.Store(true)
	is.Equal(serve(header(tokens[0])), http.StatusServiceUnavailable) // a store failure: neither resolved nor refused
	st.failing.Store(false)
	clk.Advance(revoke.DefaultLifetime)
	is.Equal(serve(header(tokens[0])), http.StatusOK) // expired

	rm := metrics(t, reader)
	reason := func(r string) attribute.KeyValue { return revoke.AttrRefusalReason.String(r) }
	is.Equal(counter(rm, revoke.MetricSessionsCreated), int64(4))
	is.Equal(counter(rm, revoke.MetricSessionsResolved), int64(3))
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason("malformed")), int64(1))
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason("unknown")), int64(1))
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason("revoked")), int64(1))
	is.Equal(counter(rm, revoke.MetricSessionsRefused, reason("expired")), int64(1))
	is.Equal(counter(rm, revoke.MetricRevocations,
		revoke.AttrRevocationReason.String("user_revoked"), revoke.AttrRevocationActor.String("user"),
		revoke.AttrAPIFamily.String("app")), int64(1))
	is.Equal(counter(rm, revoke.MetricRevocations,
		revoke.AttrRevocationReason.String("other"), revoke.AttrRevocationActor.String("admin"),
		revoke.AttrAPIFamily.String("app")), int64(2))

	system := attribute.String("db.system.name", "revoke_test") // named by its package: no SystemName
	op := func(o string) attribute.KeyValue { return attribute.String("db.operation.name", o) }
	is.Equal(histogramCount(rm, revoke.MetricStoreDuration, system, op("Create")), uint64(4))
	// Resolved 3 times, refused as revoked once, expired once; the unknown
	// token of Resolve is a lookup too.
	is.Equal(histogramCount(rm, revoke.MetricStoreDuration, system, op("GetByTokenHash")), uint64(6))
	is.Equal(histogramCount(rm, revoke.MetricStoreDuration, system, op("GetByTokenHash"),
		attribute.String("error.type", "unavailable")), uint64(1))
	is.Equal(histogramCount(rm, revoke.MetricStoreDuration, system, op("Revoke")), uint64(2))

	// Spans name sessions by id, never by token or hash.
	var revokeSpan bool
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			for _, tok := range tokens {
				v := kv.Value.String()
				is.True(v != tok)
				h := revoke.HashToken(tok)
				is.True(v != string(h[:]))
			}
		}
		if s.Name() == "revoke.revocation" {
			for _, kv := range s.Attributes() {
				if kv.Key == revoke.AttrSessionID && kv.Value.AsString() == ids[1] {
					revokeSpan = true
				}
			}
		}
	}
	is.True(revokeSpan) // the revocation of one session has a span naming it
}

func TestTelemetryOptionsRefuseNil(t *testing.T) {
	is := is.New(t)
	_, err := revoke.New(memstore.New(), revoke.WithMeterProvider(nil))
	is.True(err != nil)
	_, err = revoke.New(memstore.New(), revoke.WithTracerProvider(nil))
	is.True(err != nil)
}
