// Package sqlitestore is the embedded default revoke SessionStore: sessions
// live in one SQLite file, through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode, so readers never wait for the writer. Every
// write goes through a single connection, which serialises writes inside the
// process instead of letting them fight over SQLite's file lock; reads use a
// separate pool of read-only connections. Several processes may share one
// file on a local disk: the busy timeout and immediate transactions make them
// wait for each other rather than fail.
//
// Times are stored as Unix nanoseconds, so a store keeps them exactly between
// the years 1678 and 2262; Create rejects times outside that range.
//
// Revoked and expired sessions stay in the file, as an audit trail, until a
// retention period has passed; a background goroutine then deletes them (see
// WithRetention and WithCleanupInterval). A revoked session also stays until
// its absolute expiry has passed by the retention period, so that its token
// can never be taken by a new session while it might still be presented. That is the only place the store
// reads its own clock.
//
// The store's methods are those of store.Rules, on the store's statements:
// every write that must not revive a session (Touch, ReplaceToken, Revoke,
// Update) is one statement that checks the session is active, and a
// revocation is one UPDATE on the user's index, so it costs O(the user's
// sessions). A lookup by id or token hash runs without a timeout, as a read
// of a WAL database waits for no writer; every other call is bounded by
// WithCallTimeout. DeleteBefore deletes in batches of its own short
// transactions, walking the table once; ListActive reads every row.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Defaults for the options.
const (
	DefaultCleanupInterval = store.DefaultCleanupInterval
	DefaultRetention       = store.DefaultRetention
	DefaultReaders         = 4
	DefaultBusyTimeout     = 5 * time.Second
)

// readerCache caps each reader's page cache at 512 KiB, a quarter of
// SQLite's default. modernc.org/sqlite is built with
// SQLITE_ENABLE_MEMORY_MANAGEMENT, so the page caches of all a process's
// connections share one lock, and each page is allocated on its own. Every
// commit of the writer empties the readers' caches; with the default size a
// reader then allocated a page for each leaf it read until the next commit
// and freed them all at it, and the readers queued on that lock: under a
// busy writer two readers kept only 1.5 of 2 cores busy. A capped cache
// reuses its pages, and still holds the interior pages of both B-trees,
// which random lookups read again, up to a few hundred thousand sessions.
const readerCache = "cache_size(-512)"

// deleteBatch is how many rows one cleanup statement deletes, so that a large
// cleanup holds the write lock in short slices and requests get in between.
const deleteBatch = 500

// Store is a store.SessionStore (and store.Cleaner, store.DataStore and
// the optional extensions, store.OutboxStore and store.RecordingStore
// among them) kept in a SQLite file. It is safe for concurrent use. Open one Store per file
// per process. Its methods are those of store.Rules, on its statements.
type Store struct {
	*store.Rules
	*store.ProviderRules // provider.go

	w *sql.DB // the one writer connection
	r *sql.DB // read-only connections

	// Prepared statements: writes on w, reads on r.
	insert, touch, replaceToken, probe *sql.Stmt
	update, notBefore                  *sql.Stmt
	revokeAll, revokeOne, revokeExcept *sql.Stmt
	deleteOld, reauthenticate          *sql.Stmt
	get, getByHash, list, listActive   *sql.Stmt
	pageAll, pageAllAfter              *sql.Stmt // page.go
	pageLive, pageLiveAfter            *sql.Stmt

	callTimeout time.Duration
	batch       int // rows one cleanup statement deletes
	cleaning    *store.Cleanup

	closed    atomic.Bool
	closeOnce sync.Once
}

// Option configures a Store. An option refuses a value it cannot take, and
// Open then fails.
type Option func(*config) error

type config struct {
	store.Settings
	readers     int
	busyTimeout time.Duration
	syncFull    bool
}

// setting makes an Option of a store.Setting.
func setting(f store.Setting) Option { return func(c *config) error { return f(&c.Settings) } }

// WithReaders sets the number of read connections, at least one: fewer is
// an error. Reads run in parallel with each other and with the writer. The
// default is DefaultReaders.
func WithReaders(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("sqlitestore: WithReaders needs at least one reader, got %d", n)
		}
		c.readers = n
		return nil
	}
}

// WithBusyTimeout sets how long a connection waits for a lock held by another
// process (or a WAL checkpoint) before failing. The default is
// DefaultBusyTimeout; zero does not wait, and a negative timeout is an
// error.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("sqlitestore: busy timeout must not be negative, got %v", d)
		}
		c.busyTimeout = d
		return nil
	}
}

// WithCallTimeout bounds each call that writes or lists (default
// store.DefaultCallTimeout): one that waits longer, for the writer or for
// another process's lock, fails with store.ErrUnavailable. Zero means no
// bound beyond the busy timeout; a negative timeout is an error.
func WithCallTimeout(d time.Duration) Option { return setting(store.CallTimeout(d)) }

// WithSynchronousFull makes every write reach the disk before the call
// returns (SQLite's synchronous=FULL), so that an acknowledged revocation
// survives a power cut or a kernel crash, at the cost of a flush per write.
// By default the store uses synchronous=NORMAL, which WAL mode makes safe
// against process crashes and corruption, but a power cut may then lose the
// last transactions, an acknowledged revocation among them.
func WithSynchronousFull() Option {
	return func(c *config) error {
		c.syncFull = true
		return nil
	}
}

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

// WithLogger sets the logger for background cleanup. The default is
// slog.Default(); a nil logger is an error.
func WithLogger(l *slog.Logger) Option { return setting(store.Logger(l)) }

// Open opens the SQLite database at path, creating the file and its schema
// when they do not exist and migrating an older schema, and returns a Store
// on it. path is a file system path; in-memory databases are not supported,
// since the writer and the readers must share one database.
func Open(path string, opts ...Option) (*Store, error) {
	c := config{Settings: store.DefaultSettings(), readers: DefaultReaders, busyTimeout: DefaultBusyTimeout}
	if err := option.Apply("sqlitestore: open", &c, opts); err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: need a file system path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	s, err := open(abs, c)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	return s, nil
}

func open(path string, c config) (_ *Store, err error) {
	s := &Store{callTimeout: c.CallTimeout, batch: deleteBatch}
	s.Rules = store.NewRules(database{s}, store.RulesConfig{
		Name:        "sqlitestore",
		CallTimeout: c.CallTimeout,
		Earliest:    minTime,
		Latest:      maxTime,
		Range:       "the years 1678 to 2262",
	})
	s.ProviderRules = store.NewProviderRules(providerDatabase{s}, c.CallTimeout)
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()

	busy := fmt.Sprintf("busy_timeout(%d)", c.busyTimeout.Milliseconds())
	// Writes in WAL mode with synchronous=NORMAL cannot corrupt the
	// database; a power cut may only lose the last transactions (see
	// WithSynchronousFull). Immediate transactions take the write lock up
	// front, so a transaction never has to be retried for having started as
	// a reader.
	sync := "synchronous(NORMAL)"
	if c.syncFull {
		sync = "synchronous(FULL)"
	}
	s.w, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "journal_mode(WAL)", sync},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err := migrate(ctx, s.w); err != nil {
		return nil, err
	}

	// Readers open after the migration, so they never see a missing table,
	// and with query_only, so a bug cannot make them write behind the
	// writer's back.
	s.r, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "query_only(1)", readerCache},
	}))
	if err != nil {
		return nil, err
	}
	s.r.SetMaxOpenConns(c.readers)
	s.r.SetMaxIdleConns(c.readers)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err := s.r.PingContext(ctx); err != nil {
		return nil, err
	}

	if err := s.prepare(ctx); err != nil {
		return nil, err
	}

	s.cleaning = store.StartCleanup("sqlitestore", c.Settings, func(ctx context.Context, cut time.Time) (int, bool, error) {
		n, err := s.DeleteBefore(ctx, cut)
		return n, true, err
	})
	return s, nil
}

// dsn builds a modernc.org/sqlite data source name. The file: URI form keeps
// a '?' or '#' in the path from being read as the start of the parameters.
func dsn(path string, params url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	p = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	return "file://" + p + "?" + params.Encode()
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{s.w, &s.insert, sqlInsert},
		{s.w, &s.touch, sqlTouch},
		{s.w, &s.replaceToken, sqlReplaceToken},
		{s.w, &s.probe, sqlProbe},
		{s.w, &s.update, sqlUpdate},
		{s.w, &s.notBefore, sqlNotBefore},
		{s.w, &s.revokeAll, sqlRevokeAll},
		{s.w, &s.revokeOne, sqlRevokeOne},
		{s.w, &s.revokeExcept, sqlRevokeExcept},
		{s.w, &s.deleteOld, sqlDeleteOld},
		{s.w, &s.reauthenticate, sqlReauthenticate},
		{s.r, &s.get, sqlGet},
		{s.r, &s.getByHash, sqlGetByHash},
		{s.r, &s.list, sqlList},
		{s.r, &s.listActive, sqlListActive},
		{s.r, &s.pageAll, sqlPageAll},
		{s.r, &s.pageAllAfter, sqlPageAllAfter},
		{s.r, &s.pageLive, sqlPageLive},
		{s.r, &s.pageLiveAfter, sqlPageLiveAfter},
	} {
		st, err := p.db.PrepareContext(ctx, p.text)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.text, err)
		}
		*p.dst = st
	}
	return nil
}

// Close stops the background cleanup, waiting for a run in progress to
// finish its current batch, and closes the database. Calls made after Close
// return store.ErrClosed; calling Close again returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cleaning.Stop()
		err = s.closeAll()
	})
	return err
}

// closeAll closes whatever open managed to set up.
func (s *Store) closeAll() error {
	var errs []error
	for _, st := range []*sql.Stmt{
		s.insert, s.touch, s.replaceToken, s.probe, s.update, s.notBefore,
		s.revokeAll, s.revokeOne, s.revokeExcept, s.deleteOld,
		s.get, s.getByHash, s.list, s.listActive,
		s.pageAll, s.pageAllAfter, s.pageLive, s.pageLiveAfter,
	} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	// Readers first: when the writer, the last connection, closes, SQLite
	// checkpoints the WAL into the database file and removes it.
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}
