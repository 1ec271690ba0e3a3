package revoke

import (
	"context"
	"errors"
	"reflect"
	"sync"
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
//
// The Managers of one Meter share one resolutionCounts, as they shared the
// one series of a synchronous counter: closing one of them must not take
// its counts out of a sum the others still add to, which a reader would
// see as a counter reset.
type resolutionCounts struct {
	resolved atomic.Int64
	refused  [len(refusalNames)]atomic.Int64

	resolvedObs metric.Int64ObservableCounter
	refusedObs  metric.Int64ObservableCounter
	refusedSets [len(refusalNames)][]metric.ObserveOption // each a slice of one, so that Observe allocates nothing
	reg         metric.Registration

	meter metric.Meter // its key in sharedCounts; nil: not shared
	users int          // Managers using it, under sharedCounts' lock
}

// sharedCounts holds the resolutionCounts of each Meter in use.
var sharedCounts = struct {
	sync.Mutex
	byMeter map[metric.Meter]*resolutionCounts
}{byMeter: map[metric.Meter]*resolutionCounts{}}

// acquireResolutionCounts returns the counts of meter, registering their
// callback for the first Manager; each call needs one release.
func acquireResolutionCounts(meter metric.Meter) (*resolutionCounts, error) {
	if !reflect.TypeOf(meter).Comparable() { // cannot be a map key: counted apart
		return newResolutionCounts(meter)
	}
	sharedCounts.Lock()
	defer sharedCounts.Unlock()
	if c, ok := sharedCounts.byMeter[meter]; ok {
		c.users++
		return c, nil
	}
	c, err := newResolutionCounts(meter)
	if err != nil {
		return nil, err
	}
	c.meter, c.users = meter, 1
	sharedCounts.byMeter[meter] = c
	return c, nil
}

// release gives up a Manager's use of c, unregistering the callback after
// the last.
func (c *resolutionCounts) release() error {
	if c.meter == nil {
		return c.reg.Unregister()
	}
	sharedCounts.Lock()
	defer sharedCounts.Unlock()
	if c.users--; c.users > 0 {
		return nil
	}
	delete(sharedCounts.byMeter, c.meter)
	return c.reg.Unregister()
}

// newResolutionCounts creates the observable counters on meter and
// registers their callback.
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
