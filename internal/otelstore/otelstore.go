// Package otelstore measures the store calls of a revoke Manager with
// OpenTelemetry: a histogram of their duration (revoke.store.duration, by
// db.operation.name and db.system.name) and a span around each.
//
// It is a wrapper the Manager puts around its store, rather than an option
// of every backend, so that every backend, including one written outside
// this module, is measured the same way and at the one place that calls it;
// the backend is named by store.SystemNamer, or else by its Go package. The
// Manager keeps the store it was given for everything else (Store, the
// optional interfaces such as store.DeviceRecorder), so that wrapping hides
// no capability of the backend.
//
// A store call gets a span only inside a span that records, such as the
// server span of a traced request or a revocation's: a call outside any
// traced work would be a trace of one span, and checking first keeps an
// untraced request from paying for spans nobody sees.
//
// No attribute carries a token or a token hash: a span knows the session id
// when the call names one, nothing else about the session.
package otelstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/revokehq/revoke/store"
)

// Attribute keys, from OpenTelemetry's semantic conventions where one fits.
const (
	KeyOperation = attribute.Key("db.operation.name")
	KeySystem    = attribute.Key("db.system.name")
	KeyError     = attribute.Key("error.type")
	KeySession   = attribute.Key("revoke.session.id")
)

// MetricDuration is the name of the store call histogram.
const MetricDuration = "revoke.store.duration"

// Op is a store operation, named as its SessionStore method.
type Op int

// The operations measured.
const (
	OpCreate Op = iota
	OpGet
	OpGetByTokenHash
	OpList
	OpListPage
	OpTouch
	OpReplaceToken
	OpRevoke
	OpRecordDevice
	numOps
)

var opNames = [numOps]string{"Create", "Get", "GetByTokenHash", "List", "ListPage", "Touch", "ReplaceToken", "Revoke", "RecordDevice"}

// String returns the operation's db.operation.name.
func (o Op) String() string { return opNames[o] }

// outcome is what error.type a call ended with: none for a success or an
// answer of the store's contract (not found, inactive, duplicate, not
// before), which is the store working as it should.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeUnavailable
	outcomeClosed
	outcomeOther
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"", "unavailable", "closed", "_OTHER"}

func outcomeOf(err error) outcome {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInactive),
		errors.Is(err, store.ErrDuplicate), errors.Is(err, store.ErrNotBefore):
		return outcomeOK
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return outcomeUnavailable
	case errors.Is(err, store.ErrClosed):
		return outcomeClosed
	}
	return outcomeOther
}

// Store is a store.SessionStore that measures each call to the one it wraps.
type Store struct {
	store.SessionStore
	system   string
	duration metric.Float64Histogram
	tracer   trace.Tracer
	// sets holds the attribute set of every (operation, outcome), built
	// once, so that recording allocates nothing.
	// Each is a slice of one, passed on as it is, since building the
	// variadic slice at each call would allocate.
	sets      [numOps][numOutcomes][]metric.RecordOption
	spanAttrs [numOps][]attribute.KeyValue
	spanOpts  []trace.SpanStartOption
}

// Buckets are the duration histogram's boundaries, in seconds: from the
// tens of microseconds of an in-memory store to the seconds of a store
// about to time out.
var Buckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns st measured with the meter and tracer given.
func New(st store.SessionStore, meter metric.Meter, tracer trace.Tracer) (*Store, error) {
	d, err := meter.Float64Histogram(MetricDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of the session store calls."),
		metric.WithExplicitBucketBoundaries(Buckets...))
	if err != nil {
		return nil, err
	}
	s := &Store{SessionStore: st, system: SystemName(st), duration: d, tracer: tracer,
		spanOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}}
	for op := range numOps {
		base := []attribute.KeyValue{KeySystem.String(s.system), KeyOperation.String(op.String())}
		s.spanAttrs[op] = base
		for oc := range numOutcomes {
			kv := base
			if oc != outcomeOK {
				kv = append(kv[:len(kv):len(kv)], KeyError.String(outcomeNames[oc]))
			}
			s.sets[op][oc] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		}
	}
	return s, nil
}

// SystemName returns st's db.system.name: what its SystemName method says,
// or else the last element of its Go package's path.
func SystemName(st store.SessionStore) string {
	if n, ok := st.(store.SystemNamer); ok {
		return n.SystemName()
	}
	t := reflect.TypeOf(st)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := t.PkgPath()
	if p == "" {
		return "_OTHER"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// epoch is what call times are measured from. time.Since(epoch) reads only
// the monotonic clock, where time.Now reads the wall clock too: two clock
// reads a call instead of three.
var epoch = time.Now()

// call is one measured store call in progress.
type call struct {
	s     *Store
	op    Op
	span  trace.Span // nil: none started
	timed bool
	start time.Duration // since epoch
}

// begin starts measuring a call. The clock is read only when the histogram
// takes measurements: a noop or not yet set MeterProvider costs no clock
// read.
func (s *Store) begin(ctx context.Context, op Op, sessionID string) (context.Context, call) {
	c := call{s: s, op: op}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		ctx, c.span = s.tracer.Start(ctx, op.String(), s.spanOpts...)
		if c.span.IsRecording() {
			c.span.SetAttributes(s.spanAttrs[op]...)
			if sessionID != "" {
				c.span.SetAttributes(KeySession.String(sessionID))
			}
		}
	}
	if s.duration.Enabled(ctx) {
		c.timed, c.start = true, time.Since(epoch)
	}
	return ctx, c
}

func (c call) end(ctx context.Context, err error) {
	oc := outcomeOf(err)
	if c.timed {
		c.s.duration.Record(ctx, (time.Since(epoch) - c.start).Seconds(), c.s.sets[c.op][oc]...)
	}
	if c.span == nil {
		return
	}
	if oc != outcomeOK && c.span.IsRecording() {
		c.span.SetAttributes(KeyError.String(outcomeNames[oc]))
		c.span.SetStatus(codes.Error, outcomeNames[oc])
	}
	c.span.End()
}

// Do measures f as the operation op on the session sessionID (empty: none),
// for calls outside SessionStore such as store.DeviceRecorder's.
func (s *Store) Do(ctx context.Context, op Op, sessionID string, f func(context.Context) error) error {
	ctx, c := s.begin(ctx, op, sessionID)
	err := f(ctx)
	c.end(ctx, err)
	return err
}

// Create measures SessionStore.Create.
func (s *Store) Create(ctx context.Context, sess store.Session) error {
	ctx, c := s.begin(ctx, OpCreate, sess.ID)
	err := s.SessionStore.Create(ctx, sess)
	c.end(ctx, err)
	return err
}

// Get measures SessionStore.Get.
func (s *Store) Get(ctx context.Context, id string) (store.Session, error) {
	ctx, c := s.begin(ctx, OpGet, id)
	v, err := s.SessionStore.Get(ctx, id)
	c.end(ctx, err)
	return v, err
}

// GetByTokenHash measures SessionStore.GetByTokenHash. Its span learns the
// session id once the session is found.
func (s *Store) GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	ctx, c := s.begin(ctx, OpGetByTokenHash, "")
	v, err := s.SessionStore.GetByTokenHash(ctx, hash)
	if err == nil && c.span != nil && c.span.IsRecording() {
		c.span.SetAttributes(KeySession.String(v.ID))
	}
	c.end(ctx, err)
	return v, err
}

// List measures SessionStore.List.
func (s *Store) List(ctx context.Context, userID string) ([]store.Session, error) {
	ctx, c := s.begin(ctx, OpList, "")
	v, err := s.SessionStore.List(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// ListPage measures SessionStore.ListPage.
func (s *Store) ListPage(ctx context.Context, userID string, q store.PageQuery) (store.Page, error) {
	ctx, c := s.begin(ctx, OpListPage, "")
	v, err := s.SessionStore.ListPage(ctx, userID, q)
	c.end(ctx, err)
	return v, err
}

// Touch measures SessionStore.Touch.
func (s *Store) Touch(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	ctx, c := s.begin(ctx, OpTouch, id)
	err := s.SessionStore.Touch(ctx, id, now, idleExpiresAt)
	c.end(ctx, err)
	return err
}

// ReplaceToken measures SessionStore.ReplaceToken.
func (s *Store) ReplaceToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) error {
	ctx, c := s.begin(ctx, OpReplaceToken, id)
	err := s.SessionStore.ReplaceToken(ctx, id, newHash, now)
	c.end(ctx, err)
	return err
}

// Revoke measures SessionStore.Revoke.
func (s *Store) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	ctx, c := s.begin(ctx, OpRevoke, sel.SessionID)
	v, err := s.SessionStore.Revoke(ctx, sel, now, reason)
	c.end(ctx, err)
	return v, err
}
