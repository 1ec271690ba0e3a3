package revoke

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/revokehq/revoke/internal/apifamily"
	"github.com/revokehq/revoke/internal/otelstore"
	"github.com/revokehq/revoke/store"
)

// InstrumentationName is the name of the OpenTelemetry meter and tracer of
// the Manager and of the handlers.
const InstrumentationName = "github.com/revokehq/revoke"

// The Manager's metric names; see the README for each one's unit and
// attributes.
const (
	MetricSessionsCreated  = "revoke.sessions.created"
	MetricSessionsResolved = "revoke.sessions.resolved"
	MetricSessionsRefused  = "revoke.sessions.refused"
	MetricRevocations      = "revoke.revocations"
	MetricStoreDuration    = otelstore.MetricDuration
)

// Attribute keys of the Manager's metrics and spans.
const (
	AttrRefusalReason    = attribute.Key("revoke.refusal.reason")
	AttrRevocationReason = attribute.Key("revoke.revocation.reason")
	AttrRevocationActor  = attribute.Key("revoke.revocation.actor")
	AttrAPIFamily        = attribute.Key("revoke.api.family")
	AttrSessionID        = otelstore.KeySession
)

// WithMeterProvider sets where the Manager's metrics go (default: the
// global MeterProvider, otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(m *Manager) error {
		if mp == nil {
			return errors.New("revoke: nil meter provider")
		}
		m.meterProvider = mp
		return nil
	}
}

// WithTracerProvider sets where the Manager's spans go (default: the global
// TracerProvider, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(m *Manager) error {
		if tp == nil {
			return errors.New("revoke: nil tracer provider")
		}
		m.tracerProvider = tp
		return nil
	}
}

// refusal reasons, in the order of refusalErrs.
var (
	refusalErrs  = [...]error{ErrMalformedToken, ErrUnknownToken, ErrRevoked, ErrExpired, ErrAmbiguousSession}
	refusalNames = [len(refusalErrs)]string{"malformed", "unknown", "revoked", "expired", "ambiguous"}
)

// reasonNames gives the library's own revocation reasons short, stable
// attribute values. An app's own reason text is counted as "other", so that
// free text cannot grow the number of series without bound.
var reasonNames = map[string]string{
	ReasonLogout:          "logout",
	ReasonUserRevoked:     "user_revoked",
	ReasonSignOutOthers:   "sign_out_others",
	ReasonSignOutAll:      "sign_out_all",
	ReasonAdminRevoked:    "admin_revoked",
	ReasonReplaced:        "replaced",
	ReasonPasswordChanged: "password_changed",
	ReasonProviderLogout:  "provider_logout",
	ReasonSessionLimit:    "session_limit",
}

// actorKinds are the actor prefixes the library writes (see UserActor).
var actorKinds = map[string]bool{"user": true, "admin": true, "admin-token": true, "provider": true, ActorSystem: true}

// reasonName returns the attribute value of a revocation reason.
func reasonName(reason string) string {
	if n, ok := reasonNames[reason]; ok {
		return n
	}
	if strings.HasPrefix(reason, "scs: ") {
		return "scs"
	}
	return "other"
}

// actorKind returns the kind of an actor, without whom it names.
func actorKind(actor string) string {
	kind, _, _ := strings.Cut(actor, ":")
	if actorKinds[kind] {
		return kind
	}
	return "other"
}

// telemetry holds the Manager's instruments, created once in New, and the
// attribute sets they record with, built once so that recording on the
// request path allocates nothing. Resolutions and refusals, counted on
// every request, are atomics reported at collection time (see
// resolutionCounts); the rest are the SDK's counters.
type telemetry struct {
	tracer      trace.Tracer
	created     metric.Int64Counter
	counts      *resolutionCounts
	revocations metric.Int64Counter
	revSets     sync.Map // revocationKey -> metric.AddOption
}

type revocationKey struct{ reason, actor, family string }

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*telemetry, metric.Meter, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	meter := mp.Meter(InstrumentationName)
	t := &telemetry{tracer: tp.Tracer(InstrumentationName)}
	var errs [2]error
	t.created, errs[0] = meter.Int64Counter(MetricSessionsCreated, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions created (sign-ins)."))
	t.revocations, errs[1] = meter.Int64Counter(MetricRevocations, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions revoked, by reason, actor and API family."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	return t, meter, nil
}

// setupTelemetry creates the instruments and the measured store, and last
// registers the resolution counts' callback, so that a failure leaves no
// callback behind.
func (m *Manager) setupTelemetry() error {
	t, meter, err := newTelemetry(m.meterProvider, m.tracerProvider)
	if err != nil {
		return err
	}
	calls, err := otelstore.New(m.store, meter, t.tracer)
	if err != nil {
		return err
	}
	if t.counts, err = acquireResolutionCounts(meter); err != nil {
		return err
	}
	m.tel, m.calls = t, calls
	return nil
}

// resolution counts the outcome of resolving a presented token: resolved,
// refused (by reason), or neither, for no token or a store failure.
func (t *telemetry) resolution(_ context.Context, err error) {
	if err == nil {
		t.counts.resolved.Add(1)
		return
	}
	for i, e := range refusalErrs {
		if errors.Is(err, e) {
			t.counts.refused[i].Add(1)
			return
		}
	}
}

// revoked counts the sessions ev revoked.
func (t *telemetry) revoked(ctx context.Context, ev Event) {
	if len(ev.SessionIDs) == 0 {
		return
	}
	k := revocationKey{reasonName(ev.Reason), actorKind(ev.Actor), apifamily.From(ctx)}
	set, ok := t.revSets.Load(k)
	if !ok {
		set, _ = t.revSets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(
			AttrRevocationReason.String(k.reason), AttrRevocationActor.String(k.actor), AttrAPIFamily.String(k.family))))
	}
	t.revocations.Add(ctx, int64(len(ev.SessionIDs)), set.(metric.AddOption))
}

// revokeInStore is the store's Revoke of sel inside a span that says what
// was revoked and why (never by which token).
func (m *Manager) revokeInStore(ctx context.Context, sel store.Selection, c Cause, at time.Time) ([]string, error) {
	ctx, span := m.tel.tracer.Start(ctx, "revoke.revocation")
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(AttrRevocationReason.String(reasonName(c.Reason)), AttrRevocationActor.String(actorKind(c.Actor)),
			attribute.String("revoke.revocation.scope", scopeName(sel.Scope())), AttrAPIFamily.String(apifamily.From(ctx)))
		if sel.SessionID != "" {
			span.SetAttributes(AttrSessionID.String(sel.SessionID))
		}
	}
	ids, err := m.storeRevoke(ctx, sel, c, at)
	if err != nil {
		span.SetStatus(codes.Error, "store failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("revoke.revocation.count", len(ids)))
	return ids, nil
}

func scopeName(s store.Scope) string {
	switch s {
	case store.ScopeOne:
		return "one"
	case store.ScopeAllBut:
		return "all_but"
	}
	return "all"
}
