package cachestore

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The cache's OpenTelemetry instruments, all observed from the Store's
// counters at collection time: the lookup path pays nothing for them.
const (
	// MetricLookups counts token lookups, by AttrResult.
	MetricLookups = "revoke.cache.lookups"
	// MetricInvalidations counts the invalidations received.
	MetricInvalidations = "revoke.cache.invalidations"
	// MetricBreaks counts the breaks and replacements of the subscription.
	MetricBreaks = "revoke.cache.subscription.breaks"
	// MetricLapses counts the instances a revocation waited out to the end
	// of their lease instead of an acknowledgement.
	MetricLapses = "revoke.cache.lease.lapses"
	// MetricServing is 1 while the cache answers (the lease is held), 0
	// while every lookup goes to the store.
	MetricServing = "revoke.cache.serving"
	// MetricCached is the number of sessions in the cache.
	MetricCached = "revoke.cache.sessions"
	// AttrResult is "hit" or "miss".
	AttrResult = attribute.Key("revoke.cache.result")
)

// InstrumentationName names the cache's meter.
const InstrumentationName = "github.com/revokehq/revoke/store/cachestore"

// WithMeterProvider sets where the cache's metrics go (default: the global
// MeterProvider, so an app that has set OpenTelemetry up gets them). A nil
// provider is an error.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return errors.New("a nil MeterProvider")
		}
		c.meters = mp
		return nil
	}
}

// instruments registers the cache's observable instruments on mp.
func (s *Store) instruments(mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(InstrumentationName)
	lookups, e1 := m.Int64ObservableCounter(MetricLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Token lookups, answered from the cache (hit) or the store (miss)."))
	invalidations, e2 := m.Int64ObservableCounter(MetricInvalidations, metric.WithUnit("{invalidation}"),
		metric.WithDescription("Invalidations received from the store."))
	breaks, e3 := m.Int64ObservableCounter(MetricBreaks, metric.WithUnit("{break}"),
		metric.WithDescription("Times the subscription to the store's invalidations broke or was replaced."))
	lapses, e4 := m.Int64ObservableCounter(MetricLapses, metric.WithUnit("{lease}"),
		metric.WithDescription("Instances a revocation waited out to the end of their lease."))
	serving, e5 := m.Int64ObservableGauge(MetricServing, metric.WithUnit("1"),
		metric.WithDescription("1 while the cache answers lookups, 0 while they go to the store."))
	cached, e6 := m.Int64ObservableGauge(MetricCached, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions in the cache."))
	if err := errors.Join(e1, e2, e3, e4, e5, e6); err != nil {
		return nil, err
	}
	hit := metric.WithAttributeSet(attribute.NewSet(AttrResult.String("hit")))
	miss := metric.WithAttributeSet(attribute.NewSet(AttrResult.String("miss")))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(lookups, int64(st.Hits), hit)
		o.ObserveInt64(lookups, int64(st.Misses), miss)
		o.ObserveInt64(invalidations, int64(st.Invalidations))
		o.ObserveInt64(breaks, int64(st.Breaks))
		o.ObserveInt64(lapses, int64(st.SettledByLapse))
		if st.Serving {
			o.ObserveInt64(serving, 1)
		} else {
			o.ObserveInt64(serving, 0)
		}
		o.ObserveInt64(cached, int64(st.Cached))
		return nil
	}, lookups, invalidations, breaks, lapses, serving, cached)
}
