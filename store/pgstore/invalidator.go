package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/revokehq/revoke/store"
)

var _ store.Invalidator = (*Store)(nil)

// Invalidations travel as PostgreSQL notifications (NOTIFY). Each store has
// a channel of its own, named after its schema and table, on which every
// write that ends or changes a session announces the session's id, in the
// statement that makes the write (see announced), and on which barriers go;
// and each instance has a channel of its own, for the notices sent to it.
// PostgreSQL delivers the notifications of committed transactions to each
// listening connection in the order they committed, whatever their
// channels, which is the order that store.Invalidator promises.
//
// The payloads are a letter and fields separated by single spaces. Instance
// names and barrier and notice ids hold no space (store.CheckInstanceName);
// a session id may hold anything, so it comes last:
//
//	i <session id>         the session was ended or changed
//	l                      a session whose id is too long for a payload was
//	b <from> <id>          from published the barrier id
//	s <to> <from> <id>     from sent id to the instance to
//
// A payload holds at most maxPayload bytes. An invalidation that does not
// fit cannot be delivered, so the listener is told it may have lost
// notices (NoticeHandler.Lost) and then that it listens again: a cache
// then forgets what it holds, as after any loss.
//
// A sent notice names its recipient too, so that a listener never takes
// another instance's notice for its own, even if their channels' names
// collided.
const (
	invalidatedTag = "i"
	overlongTag    = "l"
	barrierTag     = "b"
	sentTag        = "s"
)

// maxPayload is the longest payload PostgreSQL's NOTIFY takes, in bytes.
const maxPayload = 7999

// errOverlong is the loss an overlong invalidation causes.
var errOverlong = fmt.Errorf("pgstore: listen: a session id longer than %d bytes was invalidated", maxPayload-len(invalidatedTag+" "))

// channelPrefix starts every channel of every store.
const channelPrefix = "revoke_"

// channelName is the notification channel of the store on schema.table: a
// hash, so that it stays well inside PostgreSQL's 63 bytes whatever the
// names, and stores on different tables never hear each other.
func channelName(schema, table string) string {
	return channelPrefix + hashHex(fmt.Sprintf("github.com/revokehq/revoke/store/pgstore\x00%d:%s%s", len(schema), schema, table), 14)
}

// instanceChannel is the channel of the notices sent to instance: the
// store's channel and a hash of the name, 60 bytes in all.
func (s *Store) instanceChannel(instance string) string {
	return s.names.channel + "_" + hashHex(instance, 12)
}

// hashHex returns the first n bytes of text's SHA-256, in hex.
func hashHex(text string, n int) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:n])
}

// announced turns update, an UPDATE of the sessions table with no RETURNING
// clause, into the statement that makes the same change, returns the ids of
// the rows it changed (so its command tag counts them, as the UPDATE's
// would) and publishes an invalidation for each. The notifications are part
// of the statement's transaction: sent when it commits, never when it does
// not.
func announced(update string) string {
	return `WITH changed AS (` + update + ` RETURNING id)
		SELECT changed.id FROM changed, pg_notify({channel},
			CASE WHEN octet_length(changed.id) <= ` + strconv.Itoa(maxPayload-len(invalidatedTag+" ")) + `
			THEN '` + invalidatedTag + ` ' || changed.id ELSE '` + overlongTag + `' END)`
}

// decodeNotice reads a payload (see invalidatedTag). to is the recipient of
// a sent notice.
func decodeNotice(payload string) (n store.Notice, to string, ok bool) {
	tag, rest, _ := strings.Cut(payload, " ")
	switch tag {
	case invalidatedTag:
		return store.Notice{Kind: store.NoticeInvalidated, SessionID: rest}, "", rest != ""
	case barrierTag:
		f := strings.Split(rest, " ")
		if len(f) != 2 {
			return store.Notice{}, "", false
		}
		return store.Notice{Kind: store.NoticeBarrier, From: f[0], ID: f[1]}, "", true
	case sentTag:
		f := strings.Split(rest, " ")
		if len(f) != 3 {
			return store.Notice{}, "", false
		}
		return store.Notice{Kind: store.NoticeSent, From: f[1], ID: f[2]}, f[0], true
	}
	return store.Notice{}, "", false
}

// leaseQueries are the statements of the leases.
type leaseQueries struct {
	renew, drop, live string
}

func newLeaseQueries(n names) leaseQueries {
	return leaseQueries{
		// now() is the database's clock, as the lease's holder needs: it
		// measures the lease from before it asked, so its own idea of when
		// the lease ends is never later than the store's. GREATEST never
		// shortens a lease. Leases that have run out are deleted on the
		// way, other instances' only (the row being upserted cannot also be
		// deleted by the same statement), skipping rows another statement
		// holds, so renewals never wait for each other.
		renew: n.expand(`WITH gone AS (
				DELETE FROM {leases} WHERE instance IN (
					SELECT instance FROM {leases} WHERE expires_at <= now() AND instance <> $1
					FOR UPDATE SKIP LOCKED))
			INSERT INTO {leases} AS l (instance, expires_at)
			VALUES ($1, now() + $2::bigint * interval '1 microsecond')
			ON CONFLICT (instance) DO UPDATE SET expires_at = GREATEST(l.expires_at, EXCLUDED.expires_at)`),
		drop: n.expand(`DELETE FROM {leases} WHERE instance = $1`),
		// Runs in a transaction of its own after the barrier's has
		// committed (see Barrier), so now() is after the barrier was
		// published: every lease live then and still live now is read,
		// with the time it has left now, never more than it had then.
		live: n.expand(`SELECT instance,
				((EXTRACT(EPOCH FROM expires_at) - EXTRACT(EPOCH FROM now())) * 1000000)::bigint
			FROM {leases} WHERE expires_at > now() ORDER BY instance`),
	}
}

// DefaultReconnectDelay is how long Listen waits before it connects again
// after its connection broke or could not be made.
const DefaultReconnectDelay = time.Second

// Listen implements store.Invalidator. It listens on a connection of its
// own, made with the pool's connection settings but outside the pool (so
// they must reach the server itself, or a pooler in session mode: LISTEN
// does not survive transaction pooling), and reconnects WithReconnectDelay
// after a failure. It calls h.Lost for every
// failure, a connection that breaks or one that cannot be made or cannot
// subscribe, but not when ctx ends or the store closes; and h.Listening
// once the connection is subscribed to both the store's channel and
// instance's own. A connection
// that goes silent without breaking (a network that drops every packet) is
// found only when the operating system gives up on it; an instance learns
// sooner by sending itself a notice (Send) and seeing it arrive.
//
// Listen returns ctx's error when ctx ends, and store.ErrClosed when the
// store is closed; Close waits for it to return, so h must not call Close.
func (s *Store) Listen(ctx context.Context, instance string, h store.NoticeHandler) error {
	if err := store.CheckInstanceName("instance", instance); err != nil {
		return fmt.Errorf("pgstore: listen: %w", err)
	}
	if h == nil {
		return errors.New("pgstore: listen: nil handler")
	}
	if !s.addListener() {
		return store.ErrClosed
	}
	defer s.listeners.Done()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closing, cancel)()

	l := &listener{s: s, instance: instance, h: h, config: s.pool.Config().ConnConfig}
	pl := &pgxlisten.Listener{
		Connect: l.connect,
		// pgxlisten reports the end of each connection here, after
		// closing it: it failed to connect, to LISTEN, or to wait for the
		// next notification. The handlers below never return an error, so
		// nothing else comes here. The end that ctx or Close makes is no
		// loss: Listen returns.
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				h.Lost(err)
			}
		},
		ReconnectDelay: s.reconnectDelay,
	}
	pl.Handle(s.names.channel, channelHandler{l, ""})
	pl.Handle(s.instanceChannel(instance), channelHandler{l, instance})
	err := pl.Listen(lctx)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case s.closed.Load():
		return store.ErrClosed
	}
	return fmt.Errorf("pgstore: listen: %w", err)
}

// addListener counts a listener in, unless the store is closed.
func (s *Store) addListener() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.listeners.Add(1)
	return true
}

// listener is one Listen call's state, used from pgxlisten's goroutine only.
type listener struct {
	s        *Store
	instance string
	h        store.NoticeHandler
	config   *pgx.ConnConfig
	// subscribed counts the channels the current connection listens on.
	subscribed int
}

// listenedChannels is how many channels a listener listens on.
const listenedChannels = 2

// connect makes the listener's connection, within the call timeout.
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	l.subscribed = 0
	ctx, cancel := store.CallContext(ctx, l.s.callTimeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, l.config.Copy())
}

// channelHandler handles one channel of a listener: the store's, or, with
// to set, the instance's own.
type channelHandler struct {
	l  *listener
	to string
}

// HandleBacklog implements pgxlisten.BacklogHandler. pgxlisten calls it
// right after the LISTEN of its channel has succeeded, for one channel
// after the other; once it has been called for both, the connection is
// subscribed to everything, and the listener is Listening.
func (c channelHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	c.l.subscribed++
	if c.l.subscribed == listenedChannels {
		c.l.h.Listening()
	}
	return nil
}

// HandleNotification implements pgxlisten.Handler. A payload that is not
// one of the store's (anyone who may connect can NOTIFY any channel) is
// logged and dropped.
func (c channelHandler) HandleNotification(_ context.Context, msg *pgconn.Notification, _ *pgx.Conn) error {
	if msg.Payload == overlongTag && c.to == "" {
		c.l.h.Lost(errOverlong)
		c.l.h.Listening()
		return nil
	}
	n, to, ok := decodeNotice(msg.Payload)
	own := c.to != "" // the instance's channel carries sent notices only; the store's, the others
	if !ok || own != (n.Kind == store.NoticeSent) {
		c.l.s.logger.Warn("pgstore: listen: dropped a notification that is not the store's",
			"table", c.l.s.names.table, "channel", msg.Channel, "bytes", len(msg.Payload))
		return nil
	}
	if to == c.to { // another instance's notice, on a channel whose name collides, is not ours
		c.l.h.Notice(n)
	}
	return nil
}

// RenewLease implements store.Invalidator. d must be positive; the lease
// runs for d from when the database applies the renewal, by its clock.
func (s *Store) RenewLease(ctx context.Context, instance string, d time.Duration) error {
	if err := store.CheckInstanceName("instance", instance); err != nil {
		return fmt.Errorf("pgstore: renew lease: %w", err)
	}
	if d < time.Microsecond {
		return fmt.Errorf("pgstore: renew lease: duration %v is not positive", d)
	}
	return s.leaseExec(ctx, "renew lease", s.leq.renew, instance, d.Microseconds())
}

// DropLease implements store.Invalidator. Dropping a lease instance does
// not hold is no error.
func (s *Store) DropLease(ctx context.Context, instance string) error {
	if err := store.CheckInstanceName("instance", instance); err != nil {
		return fmt.Errorf("pgstore: drop lease: %w", err)
	}
	return s.leaseExec(ctx, "drop lease", s.leq.drop, instance)
}

func (s *Store) leaseExec(ctx context.Context, op, query string, args ...any) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, query, args...); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// Barrier implements store.Invalidator, in one round trip and two
// transactions: the first publishes the barrier; the second, which starts
// once the first has committed, and so once the barrier is in the
// notification queue behind every invalidation committed before it, reads
// the live leases by the database's clock. Every lease live when the
// barrier was published and not run out since is among them, with the time
// it has left when read, which is no more than it had when the barrier was
// published: a caller that measures it from when Barrier returns never
// stops waiting before the lease has run out. An instance whose lease
// began between the two transactions is listed too; it gets the barrier if
// it was listening when the barrier was published.
func (s *Store) Barrier(ctx context.Context, from, id string) ([]store.Lease, error) {
	const op = "barrier"
	if err := checkNames(op, "instance", from, "barrier id", id); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer conn.Release()

	p := conn.Conn().PgConn().StartPipeline(ctx)
	p.SendQueryParams(ephemeralNotify,
		[][]byte{[]byte(s.names.channel), []byte(barrierTag + " " + from + " " + id)}, nil, nil, nil)
	p.SendPipelineSync() // commits: the barrier is published
	p.SendQueryParams(s.leq.live, nil, nil, nil, nil)
	p.SendPipelineSync()
	leases, err := readBarrier(p)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return leases, nil
}

// ephemeralNotify publishes a barrier or a sent notice in a transaction of
// its own that commits without waiting for the WAL to reach the disk: a
// notification is delivered at commit either way, and one lost in a crash
// matters to no one (the listeners' connections end with it). NOTIFY gives
// its transaction an id, and so a commit record that would otherwise be
// flushed: one disk flush for each barrier and each acknowledgement.
const ephemeralNotify = `SELECT pg_notify($1, $2), set_config('synchronous_commit', 'off', true)`

// readBarrier reads the results of Barrier's pipeline.
func readBarrier(p *pgconn.Pipeline) ([]store.Lease, error) {
	if err := p.Flush(); err != nil {
		return nil, err
	}
	if _, err := pipelineResult(p); err != nil { // the notification
		return nil, err
	}
	if _, err := p.GetResults(); err != nil { // its sync
		return nil, err
	}
	rr, err := pipelineResult(p)
	if err != nil {
		return nil, err
	}
	leases := []store.Lease{}
	for rr.NextRow() {
		v := rr.Values()
		micros, err := strconv.ParseInt(string(v[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read a lease's time left: %w", err)
		}
		leases = append(leases, store.Lease{Instance: string(v[0]), Left: time.Duration(micros) * time.Microsecond})
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	if _, err := p.GetResults(); err != nil { // the second sync
		return nil, err
	}
	return leases, nil
}

// pipelineResult returns the next result of p, which must be a query's.
func pipelineResult(p *pgconn.Pipeline) (*pgconn.ResultReader, error) {
	res, err := p.GetResults()
	if err != nil {
		return nil, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return nil, fmt.Errorf("pipeline: got %T, want a query's result", res)
	}
	return rr, nil
}

// Send implements store.Invalidator. n.Kind must be store.NoticeSent, or
// zero; the listener of to gets n as a store.NoticeSent.
func (s *Store) Send(ctx context.Context, to string, n store.Notice) error {
	const op = "send"
	if n.Kind != 0 && n.Kind != store.NoticeSent {
		return fmt.Errorf("pgstore: send: notice of kind %d, want store.NoticeSent", n.Kind)
	}
	if err := checkNames(op, "instance", to, "sender", n.From, "notice id", n.ID); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	_, err := s.pool.Exec(ctx, ephemeralNotify,
		s.instanceChannel(to), sentTag+" "+to+" "+n.From+" "+n.ID)
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// checkNames checks kind-and-name pairs with store.CheckInstanceName.
func checkNames(op string, kindsAndNames ...string) error {
	for i := 0; i+1 < len(kindsAndNames); i += 2 {
		if err := store.CheckInstanceName(kindsAndNames[i], kindsAndNames[i+1]); err != nil {
			return fmt.Errorf("pgstore: %s: %w", op, err)
		}
	}
	return nil
}
