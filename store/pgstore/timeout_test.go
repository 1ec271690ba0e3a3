package pgstore

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/netfault"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// viaProxy returns dsn with its server replaced by a proxy to it.
func viaProxy(t *testing.T, dsn string) (string, *netfault.Proxy) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p, err := netfault.Listen(net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("the test DSN is not a URL: %v", err)
	}
	u.Host = p.Addr()
	return u.String(), p
}

// TestHangingServer: when the server stops answering (rather than
// refusing), every call fails with store.ErrUnavailable within the call
// timeout instead of waiting out the outage, and the store works again
// once the server answers.
func TestHangingServer(t *testing.T) {
	is := is.New(t)
	dsn, proxy := viaProxy(t, testDSN(t))
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	s, err := Open(ctx, dsn, WithSchema(newSchema(t)), WithCleanupInterval(0), WithCallTimeout(timeout))
	is.NoErr(err)
	defer s.Close()
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(ctx, sess))

	proxy.Freeze()
	calls := map[string]func() error{
		"get by token hash": func() error { _, err := s.GetByTokenHash(ctx, sess.TokenHash); return err },
		"touch":             func() error { return s.Touch(ctx, sess.ID, time.Now(), time.Now().Add(time.Hour)) },
		"revoke all": func() error {
			_, err := s.Revoke(ctx, store.Selection{UserID: "alice", NotBefore: time.Now()}, time.Now(), "r")
			return err
		},
		"create": func() error { return s.Create(ctx, storetest.NewSession("bob", time.Now())) },
		"list":   func() error { _, err := s.List(ctx, "alice"); return err },
		"barrier": func() error {
			_, err := s.Barrier(ctx, "a", "x")
			return err
		},
		"send":        func() error { return s.Send(ctx, "a", store.Notice{From: "b", ID: "x"}) },
		"renew lease": func() error { return s.RenewLease(ctx, "a", time.Hour) },
		"drop lease":  func() error { return s.DropLease(ctx, "a") },
	}
	for name, call := range calls {
		started := time.Now()
		err := call()
		took := time.Since(started)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a hanging server: %v, want store.ErrUnavailable", name, err)
		}
		if took > 10*timeout {
			t.Errorf("%s took %v with a call timeout of %v", name, took, timeout)
		}
	}
	proxy.Thaw()
	for range 50 { // connections the timeouts closed are replaced
		if _, err = s.Get(ctx, sess.ID); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	is.NoErr(err) // the store works again
}

// TestListenHangingServer: a listener that cannot connect in time is told
// so, again and again, and listens once the server answers.
func TestListenHangingServer(t *testing.T) {
	is := is.New(t)
	dsn, proxy := viaProxy(t, testDSN(t))
	s, err := Open(t.Context(), dsn, WithSchema(newSchema(t)), WithCleanupInterval(0),
		WithCallTimeout(200*time.Millisecond), WithReconnectDelay(10*time.Millisecond))
	is.NoErr(err)
	defer s.Close()

	proxy.Freeze()
	r := newNoticeRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, "a", r) }()
	defer func() {
		cancel()
		<-done
	}()
	for range 2 { // each attempt fails
		e := r.next(t)
		is.True(e.lost != nil && !e.listening)
	}
	proxy.Thaw()
	r.waitListening(t)
}
