package revoke

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// resolutionCounts counts resolutions and refusals, which happen on every
// request, in atomics, and reports them through observable counters at
// collection time. An SDK counter's Add costs about a tenth of a header
// request (its attribute handling and locked sum); an atomic add costs
// nothing measurable. The exported series are the same: a monotonic,
// cumulative sum of the same name, unit and attributes.
type resolutionCounts struct {
	resolved atomic.Int64
	refused  [len(refusalNames)]atomic.Int64

	resolvedObs metric.Int64ObservableCounter
	refusedObs  metric.Int64ObservableCounter
	refusedSets [len(refusalNames)][]metric.ObserveOption // each a slice of one, so that Observe allocates nothing
	reg         metric.Registration
}

// newResolutionCounts creates the observable counters on meter and
// registers their callback, which lives until unregister.
func newResolutionCounts(meter metric.Meter) (*resolutionCounts, error) {
	c := &resolutionCounts{}
	var errs [2]error
	c.resolvedObs, errs[0] = meter.Int64ObservableCounter(MetricSessionsResolved, metric.WithUnit("{session}"),
		metric.WithDescription("Tokens resolved to an active session."))
	c.refusedObs, errs[1] = meter.Int64ObservableCounter(MetricSessionsRefused, metric.WithUnit("{session}"),
		metric.WithDescription("Presented tokens that resolved to no usable session, by reason."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	for i, n := range refusalNames {
		c.refusedSets[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(AttrRefusalReason.String(n)))}
	}
	reg, err := meter.RegisterCallback(c.observe, c.resolvedObs, c.refusedObs)
	if err != nil {
		return nil, err
	}
	c.reg = reg
	return c, nil
}

// observe reports the counts. A count still at zero is left out, as a
// synchronous counter has no series before its first Add.
func (c *resolutionCounts) observe(_ context.Context, o metric.Observer) error {
	if n := c.resolved.Load(); n > 0 {
		o.ObserveInt64(c.resolvedObs, n)
	}
	for i := range c.refused {
		if n := c.refused[i].Load(); n > 0 {
			o.ObserveInt64(c.refusedObs, n, c.refusedSets[i]...)
		}
	}
	return nil
}

// unregister stops the reporting.
func (c *resolutionCounts) unregister() error { return c.reg.Unregister() }
