// Package redisstore is a revoke SessionStore kept in Redis, through
// github.com/redis/go-redis/v9, for several app instances that share one
// Redis server.
//
// Every instance sees every change at once: the store keeps no cache.
// Each write that must not revive a session (Touch, ReplaceToken, Update,
// Revoke), the not-before rule of Create and Update and the revocation of
// all of a user's sessions are Lua scripts, which Redis runs one at a
// time, so no other write comes between a script's check and its change.
// A capped create (store.LimitedStore) reads the user's active sessions in
// one script and, once the Limit has chosen whom to evict, revokes and
// inserts in a second one that first checks that those sessions have not
// changed, starting over when they have; a revocation that records outbox
// messages (store.RecordingStore) writes them in its own script. The
// identity-provider extensions
// (store.ProviderStore, store.TokenIDStore) are optimistic WATCH/MULTI
// transactions that start over when a key they read changed before they
// committed. Revoking a user's sessions walks a per-user index of the
// sessions that are not revoked, so it costs O(that user's sessions),
// never O(all sessions).
//
// # Invalidations
//
// The Store is a store.Invalidator, for a cache in front of it
// (store/cachestore): every script that ends or changes a session
// (Revoke, ReplaceToken, Update, CreateLimited's evictions,
// Reauthenticate, RecordDevice) publishes the session's id on a pub/sub
// channel under the prefix, in the same script, whether or not anyone
// listens. Listen subscribes on a connection of its own; leases are a
// sorted set on the server's clock. See invalidator.go and listen.go.
//
// # Durability
//
// A revocation is only as final as Redis keeps it. Redis acknowledges a
// write before it reaches the disk unless told otherwise, so run it with
// the append-only file on:
//
//	appendonly yes
//	appendfsync always    # an acknowledged revocation survives a crash
//	appendfsync everysec  # Redis's default: a crash may lose up to about 1 s of writes
//
// With "appendfsync everysec", a power cut or SIGKILL may bring back
// sessions revoked in the last second before it. RDB snapshots alone, or
// no persistence (a plain "redis-server"), lose every revocation since the
// last snapshot, or all of them, on a restart. Replication is
// asynchronous: a failover to a replica may lose the last writes too,
// unless the app waits for it (WAIT), which this store does not do. The
// durability test (durability_test.go) kills a Redis with "appendfsync
// always" in the middle of revocations and checks that none that was
// acknowledged is lost.
//
// # Keys and expiry
//
// Every key starts with a prefix (WithPrefix, default DefaultPrefix), so
// several stores, or apps, can share one Redis database. The scripts name
// keys they derive from the prefix, which a Redis Cluster allows only
// when all of them hash to one slot: there, use a prefix with a hash tag,
// such as "{revoke}:", and accept that one slot holds the store. Every
// script and transaction names a key under the prefix first, so that the
// cluster runs it on that slot's node; the conformance suites run on a
// cluster of three masters (cluster_test.go). A single server, with or
// without replicas and Sentinel, needs nothing.
//
// Times are kept as whole Unix microseconds (the store truncates every
// time it writes or compares, as pgstore does), within the years 1700 to
// 2249: Lua and sorted-set scores hold them exactly there.
//
// A session's keys expire through Redis TTLs, set to absolute times: once
// the session has been old (store.Session.Old) for the retention
// (WithRetention): for a session that is not revoked, its expiry plus the
// retention; for a revoked one, the later of its absolute expiry and its
// revocation, plus the retention, so that a revoked session's token stays
// taken while it might still be presented. The TTLs follow the Redis
// server's clock, so the app's instances and Redis must agree on the time
// (NTP). A background cleanup (WithCleanupInterval; one instance at a
// time) deletes the same sessions through the "old" index, and the index
// entries that TTLs left behind; DeleteBefore does it on demand. With no
// cleanup at all, the TTLs alone still bound what the store keeps.
//
// A user's not-before time (store.Selection.NotBefore) is kept without
// expiry, one small key per user who signed out everywhere.
//
// go-redis sends a command again when the connection breaks before the
// answer arrives (the client's MaxRetries), though the server may have run
// it. So each script whose second run would answer differently (a create,
// a token replacement, a revocation, a capped create, recording a device,
// the outbox's writes, a cleanup batch) keeps its answer for a minute
// under an "op:" key of that one call, and a second run of the call
// answers it again rather than running: a retried revocation still names
// the sessions it revoked, and a retried create does not find its own
// session taken. A touch, an update and a reauthentication answer the
// same when run twice and keep nothing. Each kept answer costs the server
// about 165 bytes for a minute (Redis 7.0; more for a revocation of many
// sessions or an outbox lease, which keep the ids or messages), and a
// write to the append-only file. The minute covers go-redis's retries
// while each is bounded by the call's deadline or the client's read
// timeout; a client with neither can retry later than that. Two writes
// are not scripts and keep nothing: the cleanup's lock (a retry finds it
// taken, and that instance skips one cleanup), and an identity-provider
// transaction, whose lost EXEC answer is an error although the
// transaction may have committed.
//
// A session's sign-in details (store.SignInStore) are two fields of its
// hash, JSON as store.EncodeMethods and store.EncodeLabels write them,
// absent for none.
//
// # Costs
//
// Get, GetByTokenHash, Touch, ReplaceToken and Update cost one round trip
// and O(log n) work. Revoke costs O(the user's sessions that are not
// revoked, expired ones not yet cleaned up included). ListPage of active
// sessions walks the user's sessions that are not revoked from the cursor
// on, so expired ones not yet cleaned up add to its cost and revoked ones
// add nothing; with All it costs the page. ListActive reads the "old"
// index from now on, so it costs O(every session not yet old), of every
// user; it serves scs's Iterate, never revocation. CreateLimited costs two
// round trips and O(the user's sessions that are not revoked) each try; a
// try starts over only when another write of the same user came between
// its two scripts.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Defaults for the options.
const (
	// DefaultPrefix starts every key of the store.
	DefaultPrefix = "revoke:"
	// DefaultCleanupInterval is how often the background cleanup runs.
	DefaultCleanupInterval = store.DefaultCleanupInterval
	// DefaultRetention is how long revoked and expired sessions are kept.
	DefaultRetention = store.DefaultRetention
)

// deleteBatch is how many entries of the "old" index one cleanup script
// looks at, so that a large cleanup holds the server in short slices.
const deleteBatch = 200

// Store is a store.SessionStore (and store.DataStore, store.Cleaner,
// store.DeviceRecorder, store.LimitedStore, store.SignInStore,
// store.ProviderStore, store.TokenIDStore, store.OutboxStore,
// store.RecordingStore and store.Invalidator) kept in Redis. It is safe
// for concurrent use, and any number of Stores, in one process or many,
// may share one prefix on one server. Its methods are those of store.Rules
// and store.ProviderRules, on its scripts and transactions.
type Store struct {
	*store.Rules
	*store.ProviderRules // provider.go

	rdb       redis.UniversalClient
	ownClient bool
	closed    atomic.Bool
	closeOnce sync.Once

	// The listeners (listen.go): Close ends closing and waits for them.
	listenMu      sync.Mutex
	listeners     sync.WaitGroup
	closing       context.Context
	stopListening context.CancelFunc
	pingEvery     time.Duration // tests set it; else pingInterval's default

	prefix      string
	retention   string // microseconds, as the scripts take it
	callTimeout time.Duration
	cleaning    *store.Cleanup
}

// Option configures a Store. An option refuses a value it cannot take, and
// Open or New then fails.
type Option func(*config) error

type config struct {
	store.Settings
	prefix string
}

func newConfig(opts []Option) (config, error) {
	c := config{Settings: store.DefaultSettings(), prefix: DefaultPrefix}
	err := option.Apply("redisstore: open", &c, opts)
	return c, err
}

func setting(f store.Setting) Option { return func(c *config) error { return f(&c.Settings) } }

// WithPrefix sets the prefix of every key of the store (default
// DefaultPrefix). Stores with different prefixes on one server do not see
// each other's sessions; giving each test its own prefix keeps test runs
// apart. An empty prefix is refused.
func WithPrefix(p string) Option {
	return func(c *config) error {
		if p == "" {
			return errors.New("redisstore: open: empty key prefix")
		}
		c.prefix = p
		return nil
	}
}

// WithCallTimeout bounds each call of the store (default
// store.DefaultCallTimeout): a server that stops answering makes the call
// fail with store.ErrUnavailable in this time. Zero means no bound; a
// negative timeout is an error.
func WithCallTimeout(d time.Duration) Option { return setting(store.CallTimeout(d)) }

// WithCleanupInterval sets how often the background goroutine deletes
// sessions whose retention has passed. Zero disables it (the keys still
// expire through their TTLs); the app can then call DeleteBefore itself.
// The default is DefaultCleanupInterval; a negative interval is an error.
func WithCleanupInterval(d time.Duration) Option { return setting(store.CleanupInterval(d)) }

// WithRetention sets how long revoked and expired sessions are kept, with
// their revocation time and reason, before they expire or the cleanup
// deletes them. The default is DefaultRetention; a negative retention is
// an error.
func WithRetention(d time.Duration) Option { return setting(store.Retention(d)) }

// WithLogger sets the logger of the background cleanup. The default is
// slog.Default(); a nil logger is an error.
func WithLogger(l *slog.Logger) Option { return setting(store.Logger(l)) }

// Open connects to the Redis server that url names (redis://, rediss:// or
// unix://, as redis.ParseURL takes it), checks that it answers, and returns
// a Store that owns the client: Close closes it. Unless url sets them, the
// client's dial timeout is the call timeout, and each command's deadline
// is its call's.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	ropts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: open: %w", err)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ropts.ContextTimeoutEnabled = true
	if c.CallTimeout > 0 && !strings.Contains(url, "dial_timeout") {
		ropts.DialTimeout = c.CallTimeout
	}
	rdb := redis.NewClient(ropts)
	s, err := newStore(ctx, rdb, true, c)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store on a client the app already has. The client stays
// the app's: Close leaves it open, and the app must not close it before
// it has closed the Store. For the call timeout to bound each command, the
// client needs ContextTimeoutEnabled; otherwise its own read and write
// timeouts apply.
func New(ctx context.Context, rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: new: nil client")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newStore(ctx, rdb, false, c)
}

func newStore(ctx context.Context, rdb redis.UniversalClient, own bool, c config) (*Store, error) {
	pctx, cancel := store.CallContext(ctx, c.CallTimeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return nil, unavailable("open", err)
	}
	s := &Store{
		rdb:         rdb,
		ownClient:   own,
		prefix:      c.prefix,
		retention:   fmt.Sprint(c.Retention.Microseconds()),
		callTimeout: c.CallTimeout,
	}
	s.closing, s.stopListening = context.WithCancel(context.Background())
	s.Rules = store.NewRules(database{s}, store.RulesConfig{
		Name:          "redisstore",
		CallTimeout:   c.CallTimeout,
		LookupTimeout: c.CallTimeout,
		Earliest:      minTime,
		Latest:        maxTime,
		Range:         timeRange,
	})
	s.ProviderRules = store.NewProviderRules(providerDatabase{s}, c.CallTimeout)
	s.cleaning = store.StartCleanup("redisstore", c.Settings, s.cleanup, "prefix", c.prefix)
	return s, nil
}

// Close stops the listeners (Listen then returns store.ErrClosed) and the
// background cleanup, waiting for them and for a cleanup run in progress
// to stop, and closes the client when Open made it. Calls made after
// Close return store.ErrClosed; calling Close again returns nil. Close
// must not be called from a store.NoticeHandler's method, which it would
// wait for.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.listenMu.Lock()
		s.closed.Store(true)
		s.listenMu.Unlock()
		s.stopListening()
		s.listeners.Wait()
		s.cleaning.Stop()
		if s.ownClient {
			err = s.rdb.Close()
		}
	})
	return err
}

// cleanup runs DeleteBefore(cut) unless another instance holds the
// cleanup key, in which case it reports ran false. The key expires on its
// own, so an instance that dies mid-run does not stop the cleanup for
// good.
func (s *Store) cleanup(ctx context.Context, cut time.Time) (n int, ran bool, err error) {
	if s.closed.Load() {
		return 0, false, store.ErrClosed
	}
	key := s.prefix + "cleanup"
	token := store.NewID()
	lctx, cancel := store.CallContext(ctx, s.callTimeout)
	ran, err = s.rdb.SetNX(lctx, key, token, 10*time.Minute).Result()
	cancel()
	if err != nil || !ran {
		return 0, false, s.fail("cleanup", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		releaseScript.Run(uctx, s.rdb, []string{key}, token)
	}()
	n, err = database{s}.DeleteOld(ctx, cut)
	return n, true, err
}

// releaseScript deletes the cleanup key if this instance still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// fail returns err as the store reports it: ErrClosed once closed,
// ErrUnavailable when the server did not answer in time or could not be
// reached.
func (s *Store) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case s.closed.Load() || errors.Is(err, redis.ErrClosed):
		return store.ErrClosed
	}
	return unavailable(op, err)
}

// unavailable marks err with store.ErrUnavailable when the server did not
// answer in time or could not be reached.
func unavailable(op string, err error) error {
	if isUnreachable(err) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}
