package redisstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// answerLoser dials connections that, once armed, let the next script
// reach the server and run, then lose its answer: the connection breaks
// as the answer arrives, and go-redis sends the script again.
type answerLoser struct {
	armed atomic.Bool
	lost  atomic.Int32
}

func (l *answerLoser) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &losingConn{Conn: c, l: l}, nil
}

type losingConn struct {
	net.Conn
	l    *answerLoser
	lose bool
}

func (c *losingConn) Write(p []byte) (int, error) {
	if bytes.Contains(bytes.ToLower(p), []byte("evalsha")) && c.l.armed.CompareAndSwap(true, false) {
		c.lose = true
	}
	return c.Conn.Write(p)
}

func (c *losingConn) Read(p []byte) (int, error) {
	if !c.lose {
		return c.Conn.Read(p)
	}
	// The answer's first bytes: the server ran the script.
	if _, err := c.Conn.Read(p); err != nil {
		return 0, err
	}
	c.l.lost.Add(1)
	_ = c.Conn.Close()
	return 0, io.EOF
}

// TestRetriedWritesAnswerOnce checks that a write whose answer is lost,
// and which go-redis therefore sends again, answers as it did the first
// time: a retried revocation still names the session it revoked, a
// retried create still succeeds, and a retried revocation with outbox
// messages does not find its own messages taken.
func TestRetriedWritesAnswerOnce(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	opts, err := redis.ParseURL(url)
	is.NoErr(err)
	loser := &answerLoser{}
	opts.Dialer = loser.dial
	opts.ContextTimeoutEnabled = true
	s := onClient(t, redis.NewClient(opts), redistest.Prefix(t, url))
	now := time.Now()

	// lost runs a write twice, each made by prepare: once as it is, so
	// that the server has the script (a NOSCRIPT answer is not what is
	// lost), then with its answer lost once.
	lost := func(what string, prepare func() func() error) {
		t.Helper()
		if err := prepare()(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		write := prepare()
		before := loser.lost.Load()
		loser.armed.Store(true)
		err := write()
		loser.armed.Store(false)
		if loser.lost.Load() != before+1 {
			t.Fatalf("%s: no answer was lost", what)
		}
		if err != nil {
			t.Errorf("%s, its answer lost and the script sent again: %v", what, err)
		}
	}

	var created store.Session
	lost("Create", func() func() error {
		sess := storetest.NewSession("alice", now)
		return func() error {
			created = sess
			return s.Create(ctx, sess)
		}
	})
	got, err := s.GetByTokenHash(ctx, created.TokenHash)
	is.NoErr(err)
	is.Equal(got.ID, created.ID)

	// session creates a session of user for a revocation to end.
	session := func(user string) store.Session {
		sess := storetest.NewSession(user, now)
		is.NoErr(s.Create(ctx, sess))
		return sess
	}
	lost("Revoke", func() func() error {
		sess := session("alice")
		return func() error {
			ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, now, "logout")
			if err == nil && (len(ids) != 1 || ids[0] != sess.ID) {
				t.Errorf("Revoke reported %v, want [%s]", ids, sess.ID)
			}
			return err
		}
	})
	lost("RevokeRecorded", func() func() error {
		sess := session("bob")
		msg := store.OutboxMessage{ID: store.NewID(), Destination: "receiver", Payload: []byte("event"), CreatedAt: now, NextAttempt: now}
		return func() error {
			ids, err := s.RevokeRecorded(ctx, store.Selection{UserID: "bob"}, now, "admin", []store.OutboxMessage{msg})
			if err == nil && (len(ids) != 1 || ids[0] != sess.ID) {
				t.Errorf("RevokeRecorded reported %v, want [%s]", ids, sess.ID)
			}
			return err
		}
	})
}

// TestFullServerAnswersWritesThatChangeNothing checks that a server at its
// memory limit (maxmemory, noeviction), which refuses every write, still
// answers the writes that would change nothing, as it would if they kept
// no answer for a retry: a create of a taken session, a revocation of one
// already revoked, an outbox lease with nothing due.
func TestFullServerAnswersWritesThatChangeNothing(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; the test starts one of its own")
	}
	is := is.New(t)
	ctx := t.Context()
	srv := startRedis(t, bin, t.TempDir(), freePort(t))
	s, err := Open(ctx, srv.url(), WithCleanupInterval(0))
	is.NoErr(err)
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	sess := storetest.NewSession("alice", now)
	is.NoErr(s.Create(ctx, sess))
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, now, "logout")
	is.NoErr(err)

	admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + srv.port})
	t.Cleanup(func() { admin.Close() })
	is.NoErr(admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	is.NoErr(admin.ConfigSet(ctx, "maxmemory", "1").Err())
	if err := s.Create(ctx, storetest.NewSession("alice", now)); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("a new session on a full server: %v, want an OOM error", err)
	}

	if err := s.Create(ctx, sess); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("Create of a taken session: %v, want ErrDuplicate", err)
	}
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: sess.ID}, now, "logout")
	if err != nil || len(ids) != 0 {
		t.Errorf("Revoke of a revoked session: %v, %v; want nothing revoked", ids, err)
	}
	msgs, err := s.LeaseOutbox(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(msgs) != 0 {
		t.Errorf("LeaseOutbox with nothing due: %v, %v; want nothing", msgs, err)
	}
}
