package handlers

import (
	"errors"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/revokehq/revoke"
)

// MetricRateLimited is the name of the counter of requests the handlers
// refused for their rate limit, by revoke.api.family.
const MetricRateLimited = "revoke.ratelimit.refused"

// WithMeterProvider sets where the handlers' metrics go (default: the
// global MeterProvider). The revocations the handlers ask for are counted
// by the Manager, by its own MeterProvider, with the family as their
// revoke.api.family.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(h *Handlers) error {
		if mp == nil {
			return errors.New("handlers: nil meter provider")
		}
		h.meterProvider = mp
		return nil
	}
}

// WithTracerProvider sets where the handlers' spans go (default: the
// global TracerProvider): one for each request a route serves, named by
// the route, which the Manager's store calls and revocations are children
// of.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(h *Handlers) error {
		if tp == nil {
			return errors.New("handlers: nil tracer provider")
		}
		h.tracerProvider = tp
		return nil
	}
}

// telemetry holds the handlers' instruments, created once in New.
type telemetry struct {
	tracer      trace.Tracer
	rateLimited metric.Int64Counter
	// familySets holds each family's attribute set as a slice of one, so
	// that counting allocates nothing.
	familySets map[Family][]metric.AddOption
}

func (h *Handlers) setupTelemetry() error {
	mp, tp := h.meterProvider, h.tracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &telemetry{tracer: tp.Tracer(revoke.InstrumentationName), familySets: make(map[Family][]metric.AddOption)}
	var err error
	t.rateLimited, err = mp.Meter(revoke.InstrumentationName).Int64Counter(MetricRateLimited, metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused for a rate limit of the handlers, by API family."))
	if err != nil {
		return err
	}
	for _, fam := range familiesOf(h.routes) {
		t.familySets[fam] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(revoke.AttrAPIFamily.String(string(fam))))}
	}
	h.tel = t
	return nil
}

// countRateLimited counts one request of fam refused for its rate limit.
func (h *Handlers) countRateLimited(r *http.Request, fam Family) {
	h.tel.rateLimited.Add(r.Context(), 1, h.tel.familySets[fam]...)
}

// traced serves rt's requests inside a span named by the route.
func (h *Handlers) traced(rt route, next http.Handler) http.Handler {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(revoke.AttrAPIFamily.String(string(rt.Family)),
			attribute.String("http.route", rt.Pattern), attribute.String("http.request.method", rt.Method)),
	}
	name := "revoke.handlers." + string(rt.Name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := h.tel.tracer.Start(r.Context(), name, opts...)
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
