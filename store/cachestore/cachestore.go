package cachestore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Backend is what a Store needs of the store under it: the invalidations,
// and every optional extension that the shared backends implement, so that
// putting the cache in front of one hides none of them.
type Backend interface {
	store.Invalidator
	store.DataStore
	store.Cleaner
	store.DeviceRecorder
	store.LimitedStore
	store.SignInStore
	store.ProviderStore
	store.TokenIDStore
	store.OutboxStore
	store.RecordingStore
	store.SystemNamer
}

// Store is a store.SessionStore that resolves tokens from memory in front
// of a Backend; see the package documentation for how it keeps
// revocations strict. It implements every interface Backend does except
// store.Invalidator: a cache is not put in front of another.
type Store struct {
	b        Backend
	instance string
	cfg      config
	start    time.Time // monotonic readings are durations since start
	logger   *slog.Logger

	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]*entry
	byID   map[string][sha256.Size]byte
	// gen moves on every eviction by the listener and every flush; a fill
	// that read the store before it moved does not enter the cache.
	gen uint64

	// servingUntil is the monotonic reading until which the cache may
	// answer; zero when it may not. state guards its changes and epoch.
	servingUntil atomic.Int64
	state        sync.Mutex
	epoch        uint64 // counts breaks of the subscription
	listening    bool
	subscribed   chan struct{} // signalled by each Listening

	waits   sync.Mutex
	waiting map[string]*barrierWait // by barrier or heartbeat id

	acks   chan struct{} // bounds the acknowledgements in flight
	stop   context.CancelFunc
	done   sync.WaitGroup
	closed atomic.Bool

	stats counters
	reg   metric.Registration
}

// entry is one cached session.
type entry struct {
	s      store.Session
	filled int64 // monotonic reading
}

// Option configures a Store.
type Option func(*config) error

type config struct {
	lease    time.Duration
	maxAge   time.Duration
	capacity int
	instance string
	logger   *slog.Logger
	meters   metric.MeterProvider
}

// WithLease sets the lease of the instance (default 2 s, at least 100 ms):
// how long it may serve from its cache after proving that its subscription
// delivers, and so the longest a revocation waits for an instance that does
// not answer. Every instance sharing a store must use the same lease.
func WithLease(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond {
			return fmt.Errorf("a lease of %v; it must be at least 100ms", d)
		}
		c.lease = d
		return nil
	}
}

// WithMaxAge sets how long a cached session is served before it is read
// from the store again (default 1 minute, at least 1 ms). It bounds how
// stale the fields that no invalidation announces (LastSeenAt after
// another instance's touch) can be; revocations never wait for it.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("a max age of %v; it must be at least 1ms", d)
		}
		c.maxAge = d
		return nil
	}
}

// WithCapacity bounds the sessions cached (default 100,000, at least 1).
// A full cache answers what it holds and sends the rest to the store;
// sessions leave it when they are evicted, end, or pass WithMaxAge.
func WithCapacity(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("a capacity of %d; it must be at least 1", n)
		}
		c.capacity = n
		return nil
	}
}

// WithInstance names the instance in the store's leases and notices
// (default: random). It must pass store.CheckInstanceName and be unique
// among the instances sharing the store.
func WithInstance(name string) Option {
	return func(c *config) error {
		if err := store.CheckInstanceName("instance", name); err != nil {
			return err
		}
		c.instance = name
		return nil
	}
}

// WithLogger sets where the Store reports a broken subscription or a
// failed renewal (default slog.Default()). A nil logger is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("a nil logger")
		}
		c.logger = l
		return nil
	}
}

// New returns a Store in front of st, which must implement Backend, and
// starts listening to its invalidations and holding a lease. Until the
// first renewal has come back, every lookup goes to st. Close stops it and
// closes st.
func New(st store.SessionStore, opts ...Option) (*Store, error) {
	b, ok := st.(Backend)
	if !ok {
		return nil, fmt.Errorf("cachestore: %T lacks %s", st, missing(st))
	}
	c := config{lease: 2 * time.Second, maxAge: time.Minute, capacity: 100_000, logger: slog.Default()}
	if err := option.Apply("cachestore: new", &c, opts); err != nil {
		return nil, err
	}
	if c.instance == "" {
		c.instance = store.NewID()
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Store{
		b: b, instance: c.instance, cfg: c, start: time.Now(), logger: c.logger,
		byHash:     make(map[[sha256.Size]byte]*entry),
		byID:       make(map[string][sha256.Size]byte),
		waiting:    make(map[string]*barrierWait),
		acks:       make(chan struct{}, 64),
		subscribed: make(chan struct{}, 1),
		stop:       stop,
	}
	reg, err := s.instruments(c.meters)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cachestore: metrics: %w", err)
	}
	s.reg = reg
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		s.run(ctx)
	}()
	go func() {
		defer s.done.Done()
		s.sweepEvery(ctx, c.maxAge/2)
	}()
	return s, nil
}

// missing names the interfaces of Backend that st does not implement.
func missing(st store.SessionStore) string {
	var names []string
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"store.Invalidator", implements[store.Invalidator](st)},
		{"store.DataStore", implements[store.DataStore](st)},
		{"store.Cleaner", implements[store.Cleaner](st)},
		{"store.DeviceRecorder", implements[store.DeviceRecorder](st)},
		{"store.LimitedStore", implements[store.LimitedStore](st)},
		{"store.SignInStore", implements[store.SignInStore](st)},
		{"store.ProviderStore", implements[store.ProviderStore](st)},
		{"store.TokenIDStore", implements[store.TokenIDStore](st)},
		{"store.OutboxStore", implements[store.OutboxStore](st)},
		{"store.RecordingStore", implements[store.RecordingStore](st)},
		{"store.SystemNamer", implements[store.SystemNamer](st)},
	} {
		if !c.ok {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ", ")
}

func implements[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// Instance returns the instance's name in the store's leases.
func (s *Store) Instance() string { return s.instance }

// Close stops listening, gives up the lease, so that revocations stop
// waiting for this instance, and closes the store under it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return s.b.Close()
	}
	s.stop()
	s.done.Wait()
	s.notServing(nil)
	regErr := s.reg.Unregister()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.lease)
	defer cancel()
	err := s.b.DropLease(ctx, s.instance)
	return errors.Join(err, regErr, s.b.Close())
}

// mono returns the monotonic reading of t.
func (s *Store) mono(t time.Time) int64 { return int64(t.Sub(s.start)) }

// SystemName implements store.SystemNamer: the store under the cache's.
func (s *Store) SystemName() string { return s.b.SystemName() }
