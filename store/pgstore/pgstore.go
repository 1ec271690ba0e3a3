// Package pgstore is a revoke SessionStore kept in PostgreSQL, through
// github.com/jackc/pgx/v5 and its pgxpool, for several app instances that
// share one database.
//
// Every instance sees every change at once: there is no cache, and each
// write that must not revive a session (Touch, ReplaceToken, Revoke, Update)
// checks that the session is active in the WHERE clause of the one UPDATE
// that makes the change, so a revocation committed by any instance wins over
// a concurrent touch on another. A revocation of several sessions locks them
// in the order of their ids, so concurrent revocations never deadlock.
//
// Open creates the schema (when missing), the sessions table and its indexes,
// or migrates an older layout. Migrations run in one transaction under an
// advisory lock, so instances starting at once wait for each other instead
// of failing, and the applied version is kept in a small table beside the
// sessions table. By default the sessions table is "revoke_sessions" in the
// connection's current schema (the first existing schema on its search
// path, usually "public"); WithSchema and WithTable change that. Every
// statement names the table with its schema, so a search_path changed later
// does not matter. Creating needs the CREATE privilege (on the database for a
// new schema, on the schema for the tables); once the schema is current, the
// store only reads and writes rows, so apps may run as a role that has no
// more than USAGE on the schema and SELECT, INSERT, UPDATE and DELETE on the
// sessions table, the users' not-before table and the leases table beside
// it (their names end in "_user_not_before" and "_leases"), and SELECT on
// the version table.
//
// The store is a store.Invalidator, whether or not anyone listens: every
// write that ends or changes a session publishes the session's id with
// PostgreSQL's NOTIFY, in the statement that makes the write, so that a
// cache in front of the store (store/cachestore) on any instance hears of
// it. Each store's channel is named after its schema and table; Listen
// subscribes on a connection of its own, through
// github.com/jackc/pgxlisten. The leases of the instances that listen live
// in the leases table, on the database's clock. A notification carries at
// most 7999 bytes: a write to a session whose id is longer than 7997 bytes
// makes every listener report a loss (store.NoticeHandler.Lost) and listen
// again, rather than name the session.
//
// PostgreSQL keeps timestamptz values to the microsecond. The store
// truncates every time it writes, and every time it compares, to whole
// microseconds (time.Time.Truncate(time.Microsecond)): a session reads back
// with its times truncated, and a call's now is compared at that precision,
// which keeps the store's idea of an active session exactly
// store.Session.Active for the times it holds. Times come back in UTC.
//
// Revoked and expired sessions stay in the table, as an audit trail, until a
// retention period has passed; a background goroutine then deletes them in
// short batches (see WithRetention and WithCleanupInterval). A revoked
// session also stays until its absolute expiry has passed by the retention
// period, so that its token can never be taken by a new session while it
// might still be presented. Only one instance at a time does that work:
// each run first takes a PostgreSQL advisory lock and skips the run when
// another instance holds it. The store's advisory lock keys are 64-bit
// hashes of its schema and table names, so stores on different tables do
// not contend. The cleanup is the only place the store reads its own clock.
// DeleteBefore, called by the app, does not take that lock: two instances
// calling it at once share the rows between them, each counting its own.
//
// The store's methods are those of store.Rules, on the store's statements,
// each call bounded by WithCallTimeout. ListActive reads every active
// session of every user, so its cost grows with the table; it serves scs's
// Iterate, never revocation.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Defaults for the options.
const (
	// DefaultCleanupInterval is how often the background cleanup runs.
	DefaultCleanupInterval = store.DefaultCleanupInterval
	// DefaultRetention is how long revoked and expired sessions are kept.
	DefaultRetention = store.DefaultRetention
	// DefaultTable is the name of the sessions table.
	DefaultTable = "revoke_sessions"
)

// deleteBatch is how many rows one cleanup statement deletes, so that a large
// cleanup holds its row locks in short slices.
const deleteBatch = 500

// maxIdentifier is PostgreSQL's limit on the length of a name, in bytes;
// longer names are silently truncated by the server, which could make two
// names collide, so the store refuses them instead.
const maxIdentifier = 63

// The longest suffix the store appends to the table name to name the
// objects that go with it (see names).
const longestSuffix = len("_token_hash_key")

// Store is a store.SessionStore (and store.DataStore, store.Cleaner and the
// optional extensions, store.OutboxStore and store.RecordingStore among
// them) kept in a PostgreSQL table. It is safe for concurrent use, and any number of Stores, in one
// process or many, may work on the same table. Its methods are those of
// store.Rules, on its statements.
type Store struct {
	*store.Rules
	*store.ProviderRules // provider.go

	pool      *pgxpool.Pool
	ownPool   bool // Open made the pool, so Close closes it
	closed    atomic.Bool
	closeOnce sync.Once

	names      names
	q          queries
	lq         limitQueries  // limit.go
	leq        leaseQueries  // invalidator.go
	oq         outboxQueries // outbox.go
	cleanupKey int64         // advisory lock key of the background cleanup

	callTimeout    time.Duration
	reconnectDelay time.Duration
	batch          int // rows one cleanup statement deletes
	cleaning       *store.Cleanup
	logger         *slog.Logger

	// The listeners (Listen) end when closing does; Close waits for them.
	// mu orders counting one in against Close.
	mu            sync.Mutex
	listeners     sync.WaitGroup
	closing       context.Context
	stopListening context.CancelFunc
}

// Option configures a Store. An option refuses a value it cannot take, and
// Open or New then fails.
type Option func(*config) error

type config struct {
	store.Settings
	schema         string
	table          string
	reconnectDelay time.Duration
}

func newConfig(opts []Option) (config, error) {
	c := config{Settings: store.DefaultSettings(), table: DefaultTable, reconnectDelay: DefaultReconnectDelay}
	err := option.Apply("pgstore: open", &c, opts)
	return c, err
}

// setting makes an Option of a store.Setting.
func setting(f store.Setting) Option { return func(c *config) error { return f(&c.Settings) } }

// WithSchema sets the schema that holds the sessions table; Open and New
// create it when it does not exist. The default, or an empty name, is the
// connection's current schema. Giving each test its own schema keeps test
// runs on one server apart.
func WithSchema(name string) Option {
	return func(c *config) error {
		c.schema = name
		return nil
	}
}

// WithTable sets the name of the sessions table. The store also creates, next
// to it, a table and indexes whose names start with this name. The default,
// or an empty name, is DefaultTable.
func WithTable(name string) Option {
	return func(c *config) error {
		if name == "" {
			name = DefaultTable
		}
		c.table = name
		return nil
	}
}

// WithCallTimeout bounds each call of the store (default
// store.DefaultCallTimeout): a server that stops answering, a lock that is
// not granted or a pool with no free connection make the call fail with
// store.ErrUnavailable in this time. Open also sets it as the pool's
// connect timeout and the sessions' statement_timeout and lock_timeout,
// unless connString sets them. Zero means no bound; a negative timeout is
// an error.
func WithCallTimeout(d time.Duration) Option { return setting(store.CallTimeout(d)) }

// WithCleanupInterval sets how often the background goroutine deletes
// sessions whose retention has passed. Zero disables it; the app can then
// call DeleteBefore itself. The default is DefaultCleanupInterval; a
// negative interval is an error.
func WithCleanupInterval(d time.Duration) Option { return setting(store.CleanupInterval(d)) }

// WithRetention sets how long revoked and expired sessions are kept, with
// their revocation time and reason, before the background cleanup deletes
// them; a revoked session is kept until its absolute expiry, too, is that
// long ago. The default is DefaultRetention; a negative retention is an
// error.
func WithRetention(d time.Duration) Option { return setting(store.Retention(d)) }

// WithReconnectDelay sets how long Listen waits before it connects again
// after its connection broke or could not be made (default
// DefaultReconnectDelay); it must be positive.
func WithReconnectDelay(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("pgstore: reconnect delay must be positive, got %v", d)
		}
		c.reconnectDelay = d
		return nil
	}
}

// WithLogger sets the logger for background cleanup. The default is
// slog.Default(); a nil logger is an error.
func WithLogger(l *slog.Logger) Option { return setting(store.Logger(l)) }

// Open connects to the database that connString names (a URL or a
// keyword/value string, as pgxpool.ParseConfig takes), creates or migrates
// the schema, and returns a Store that owns the connection pool: Close
// closes it.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.CallTimeout > 0 {
		if cfg.ConnConfig.ConnectTimeout == 0 {
			cfg.ConnConfig.ConnectTimeout = c.CallTimeout
		}
		ms := strconv.FormatInt(c.CallTimeout.Milliseconds(), 10)
		for _, p := range []string{"statement_timeout", "lock_timeout"} {
			if _, set := cfg.ConnConfig.RuntimeParams[p]; !set {
				cfg.ConnConfig.RuntimeParams[p] = ms
			}
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s, err := newStore(ctx, pool, true, c)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store on a pool the app already has, creating or migrating
// the schema first. The pool stays the app's: Close leaves it open, and the
// app must not close it before it has closed the Store.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: new: nil pool")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newStore(ctx, pool, false, c)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, own bool, c config) (*Store, error) {
	if c.schema == "" {
		// Pin the table to one schema now, so that every connection of every
		// instance names the same table whatever its search_path says later.
		var cur *string
		if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
			return nil, fmt.Errorf("pgstore: open: read current schema: %w", err)
		}
		if cur == nil {
			return nil, errors.New("pgstore: open: the search path names no existing schema; use WithSchema")
		}
		c.schema = *cur
	}
	if err := checkName("schema", c.schema, 0); err != nil {
		return nil, err
	}
	if err := checkName("table", c.table, longestSuffix); err != nil {
		return nil, err
	}

	n := newNames(c.schema, c.table)
	if err := migrate(ctx, pool, n); err != nil {
		return nil, fmt.Errorf("pgstore: open %s: %w", n.table, err)
	}
	closing, stopListening := context.WithCancel(context.Background())
	s := &Store{
		pool:           pool,
		ownPool:        own,
		names:          n,
		q:              newQueries(n),
		lq:             newLimitQueries(n),
		leq:            newLeaseQueries(n),
		oq:             newOutboxQueries(n),
		cleanupKey:     lockKey("cleanup", n.table),
		callTimeout:    c.CallTimeout,
		reconnectDelay: c.reconnectDelay,
		batch:          deleteBatch,
		logger:         c.Logger,
		closing:        closing,
		stopListening:  stopListening,
	}
	s.Rules = store.NewRules(database{s}, store.RulesConfig{
		Name:          "pgstore",
		CallTimeout:   c.CallTimeout,
		LookupTimeout: c.CallTimeout,
		Earliest:      minTime,
		Latest:        maxTime,
		Range:         "the years 1 to 9999",
	})
	s.ProviderRules = store.NewProviderRules(providerDatabase{s}, c.CallTimeout)
	s.cleaning = store.StartCleanup("pgstore", c.Settings, s.cleanup, "table", n.table)
	return s, nil
}

// checkName refuses names the server would change or reject: empty ones,
// ones with a NUL byte, and ones that, with suffix more bytes, would be cut
// to maxIdentifier bytes.
func checkName(kind, name string, suffix int) error {
	switch {
	case name == "":
		return fmt.Errorf("pgstore: open: empty %s name", kind)
	case len(name)+suffix > maxIdentifier:
		return fmt.Errorf("pgstore: open: %s name %q is longer than %d bytes", kind, name, maxIdentifier-suffix)
	}
	for i := range len(name) {
		if name[i] == 0 {
			return fmt.Errorf("pgstore: open: %s name %q contains a NUL byte", kind, name)
		}
	}
	return nil
}

// lockKey derives the key of a PostgreSQL advisory lock from its purpose and
// the object it guards, so that stores on different tables never contend.
// Advisory locks are per database, which is what sharing one table needs.
func lockKey(purpose, object string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/revokehq/revoke/store/pgstore\x00" + purpose + "\x00" + object))
	return int64(h.Sum64())
}

// Close stops the background cleanup and the listeners (Listen), waiting
// for a cleanup run in progress to stop and for every Listen to return, and
// closes the pool when Open made it. Calls made after Close return
// store.ErrClosed; calling Close again returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.stopListening()
		s.listeners.Wait()
		s.cleaning.Stop()
		if s.ownPool {
			s.pool.Close()
		}
	})
	return nil
}

// cleanup runs DeleteBefore(cut) unless another instance is already cleaning
// the same table, in which case it reports ran false. It holds a
// session-level advisory lock on a connection of its own for the whole run,
// so that the batches, each its own short transaction, are all covered.
func (s *Store) cleanup(ctx context.Context, cut time.Time) (n int, ran bool, err error) {
	if s.closed.Load() {
		return 0, false, store.ErrClosed
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, false, s.fail("cleanup", err)
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", s.cleanupKey).Scan(&ran); err != nil {
		return 0, false, s.fail("cleanup", err)
	}
	if !ran {
		return 0, false, nil
	}
	defer func() {
		// Unlock even when ctx has ended. A connection that cannot say so
		// is closed rather than returned to the pool still holding the
		// lock; the server drops the lock with the connection.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", s.cleanupKey); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	n, err = s.deleteBefore(ctx, conn, cut)
	return n, true, err
}

// quoted returns the sanitized, schema-qualified name of a table.
func quoted(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }
