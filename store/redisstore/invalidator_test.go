package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/internal/netfault"
	"github.com/revokehq/revoke/internal/redistest"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// wait bounds every wait for a notice: long, for a loaded machine; a
// test that passes never waits it out.
const wait = 20 * time.Second

// event is one call of a NoticeHandler.
type event struct {
	kind   string // "listening", "lost" or "notice"
	notice store.Notice
	err    error
}

// recorder is a NoticeHandler that keeps what it was given, in order.
type recorder struct {
	instance string
	ch       chan event
}

func (r *recorder) Listening()            { r.ch <- event{kind: "listening"} }
func (r *recorder) Lost(err error)        { r.ch <- event{kind: "lost", err: err} }
func (r *recorder) Notice(n store.Notice) { r.ch <- event{kind: "notice", notice: n} }

// next returns the next event, failing t when none comes.
func (r *recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(wait):
		t.Fatalf("%s: no event in %v", r.instance, wait)
		return event{}
	}
}

// expect fails t unless the next event is of kind.
func (r *recorder) expect(t *testing.T, kind string) event {
	t.Helper()
	e := r.next(t)
	if e.kind != kind {
		t.Fatalf("%s: got %s (%+v, %v), want %s", r.instance, e.kind, e.notice, e.err, kind)
	}
	return e
}

// openShared opens a Store on prefix (which another Store may share, as
// another instance would), without background cleanup.
func openShared(t *testing.T, url, prefix string, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithPrefix(prefix), WithCleanupInterval(0)}, opts...)
	s, err := Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// listen starts s.Listen for instance and returns its recorder once it
// listens. When the test ends it stops it and checks that Listen returned
// ctx's error.
func listen(t *testing.T, s *Store, instance string) *recorder {
	t.Helper()
	r := startListen(t, s, instance)
	r.expect(t, "listening")
	return r
}

// startListen starts s.Listen for instance without waiting for it.
func startListen(t *testing.T, s *Store, instance string) *recorder {
	t.Helper()
	r := &recorder{instance: instance, ch: make(chan event, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Listen(ctx, instance, r) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s: Listen returned %v, want context.Canceled", instance, err)
			}
		case <-time.After(wait):
			t.Errorf("%s: Listen did not return after its ctx ended", instance)
		}
	})
	return r
}

// untilBarrier publishes a barrier from s and returns, for each recorder,
// the session ids of the invalidations it got before that barrier,
// sorted, failing t on any other event.
func untilBarrier(t *testing.T, s *Store, rs ...*recorder) [][]string {
	t.Helper()
	id := rand.Text()
	if _, err := s.Barrier(t.Context(), "tester", id); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	out := make([][]string, len(rs))
	for i, r := range rs {
		out[i] = []string{}
		for {
			e := r.expect(t, "notice")
			if e.notice.Kind == store.NoticeBarrier {
				if e.notice != (store.Notice{Kind: store.NoticeBarrier, From: "tester", ID: id}) {
					t.Fatalf("%s: got barrier %+v, want tester's %s", r.instance, e.notice, id)
				}
				break
			}
			if e.notice.Kind != store.NoticeInvalidated {
				t.Fatalf("%s: got %+v before the barrier", r.instance, e.notice)
			}
			out[i] = append(out[i], e.notice.SessionID)
		}
		slices.Sort(out[i])
	}
	return out
}

// announced checks that both recorders got exactly the invalidations of
// ids since the last barrier, and publishes a new one.
func announced(t *testing.T, what string, s *Store, a, b *recorder, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	got := untilBarrier(t, s, a, b)
	for i, g := range got {
		if !slices.Equal(g, ids) {
			t.Errorf("%s: listener %d got invalidations %q, want %q", what, i, g, ids)
		}
	}
}

// TestEveryWriteAnnounced checks that every write that ends or changes a
// session is announced, with the session's id, to every listener on the
// prefix, before a barrier published after it, and that a touch is not.
func TestEveryWriteAnnounced(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s1, s2 := openShared(t, url, prefix), openShared(t, url, prefix)
	a, b := listen(t, s1, "one"), listen(t, s2, "two")
	now := time.Now().Truncate(time.Microsecond)
	create := func(user string) store.Session {
		t.Helper()
		sess := storetest.NewSession(user, now)
		is.NoErr(s1.Create(ctx, sess))
		return sess
	}

	x, y, z, w := create("alice"), create("alice"), create("alice"), create("alice")
	announced(t, "create", s1, a, b)

	is.NoErr(s2.Touch(ctx, x.ID, now.Add(time.Second), now.Add(time.Hour)))
	announced(t, "touch", s1, a, b)

	_, err := s2.Revoke(ctx, store.Selection{UserID: "alice", SessionID: x.ID}, now, "one")
	is.NoErr(err)
	announced(t, "revoke one", s1, a, b, x.ID)

	_, err = s2.Revoke(ctx, store.Selection{UserID: "alice", SessionID: x.ID}, now, "again")
	is.NoErr(err)
	announced(t, "revoke one already revoked", s1, a, b)

	_, err = s2.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: y.ID}, now, "but")
	is.NoErr(err)
	announced(t, "revoke all but", s1, a, b, z.ID, w.ID)

	_, err = s2.Revoke(ctx, store.Selection{UserID: "alice", NotBefore: now}, now, "everywhere")
	is.NoErr(err)
	announced(t, "revoke all with not-before", s1, a, b, y.ID)

	old, fresh := storetest.NewSession("bob", now), storetest.NewSession("bob", now)
	fresh.AuthenticatedAt = now.Add(time.Second)
	is.NoErr(s1.Create(ctx, old))
	is.NoErr(s1.Create(ctx, fresh))
	cut := now.Add(time.Millisecond)
	_, err = s2.Revoke(ctx, store.Selection{UserID: "bob", AuthenticatedBefore: cut, NotBefore: cut}, now, "leak")
	is.NoErr(err)
	announced(t, "revoke authenticated before", s1, a, b, old.ID)

	anon := storetest.NewSession("", now)
	anon.ID = "an id with spaces,\nnewlines and ünïcode"
	is.NoErr(s1.Create(ctx, anon))
	_, err = s2.Revoke(ctx, store.Selection{SessionID: anon.ID}, now, "destroy")
	is.NoErr(err)
	announced(t, "revoke an anonymous session", s1, a, b, anon.ID)

	is.NoErr(s2.ReplaceToken(ctx, fresh.ID, storetest.NewTokenHash(), now))
	announced(t, "replace token", s1, a, b, fresh.ID)

	is.NoErr(s2.Update(ctx, fresh.ID, store.Update{
		UserID: "bob", Data: []byte("d"), ExpiresAt: fresh.ExpiresAt, IdleExpiresAt: fresh.IdleExpiresAt,
	}, now))
	announced(t, "update", s1, a, b, fresh.ID)

	is.NoErr(s2.Reauthenticate(ctx, fresh.ID, storetest.NewTokenHash(), now.Add(2*time.Second), nil, now.Add(2*time.Second)))
	announced(t, "reauthenticate", s1, a, b, fresh.ID)

	first := create("carol")
	_, err = s2.CreateLimited(ctx, storetest.NewSession("carol", now), store.Limit{
		Max: 1, Policy: store.EvictLeastRecentlySeen, Reason: "limit",
	}, now)
	is.NoErr(err)
	announced(t, "create limited", s1, a, b, first.ID)

	bare := storetest.NewSession("dave", now)
	bare.IP, bare.UserAgent = "", ""
	is.NoErr(s1.Create(ctx, bare))
	is.NoErr(s2.RecordDevice(ctx, bare.ID, "192.0.2.9", "ua"))
	announced(t, "record device", s1, a, b, bare.ID)
	is.NoErr(s2.RecordDevice(ctx, bare.ID, "192.0.2.10", "ua"))
	announced(t, "record device, already recorded", s1, a, b)
}

// TestPrefixesApart checks that a store hears nothing of a store on
// another prefix of the same server.
func TestPrefixesApart(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	mine, other := openShared(t, url, redistest.Prefix(t, url)), openShared(t, url, redistest.Prefix(t, url))
	r := listen(t, mine, "mine")
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(other.Create(ctx, sess))
	_, err := other.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "x")
	is.NoErr(err)
	is.NoErr(other.Send(ctx, "mine", store.Notice{From: "other", ID: "x"}))
	_, err = other.Barrier(ctx, "other", "x")
	is.NoErr(err)
	is.Equal(untilBarrier(t, mine, r), [][]string{{}}) // nothing of the other prefix came first
}

// TestSendReachesItsTargetOnly checks that Send delivers to the one
// instance it names, in order with the other notices.
func TestSendReachesItsTargetOnly(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s1, s2 := openShared(t, url, prefix), openShared(t, url, prefix)
	a, b := listen(t, s1, "one"), listen(t, s2, "two")

	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s1.Create(ctx, sess))
	_, err := s1.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "x")
	is.NoErr(err)
	is.NoErr(s2.Send(ctx, "one", store.Notice{Kind: store.NoticeSent, From: "two", ID: "ack-1"}))
	is.NoErr(s1.Send(ctx, "one", store.Notice{From: "one", ID: "self-check"})) // to itself

	is.Equal(a.expect(t, "notice").notice, store.Notice{Kind: store.NoticeInvalidated, SessionID: sess.ID})
	is.Equal(a.expect(t, "notice").notice, store.Notice{Kind: store.NoticeSent, From: "two", ID: "ack-1"})
	is.Equal(a.expect(t, "notice").notice, store.Notice{Kind: store.NoticeSent, From: "one", ID: "self-check"})
	is.Equal(b.expect(t, "notice").notice, store.Notice{Kind: store.NoticeInvalidated, SessionID: sess.ID})
	is.Equal(untilBarrier(t, s2, a, b), [][]string{{}, {}}) // b got no sent notice

	err = s1.Send(ctx, "one", store.Notice{Kind: store.NoticeInvalidated, From: "one", ID: "x"})
	is.True(err != nil) // only a NoticeSent is sent
}

// TestLeases checks that a lease runs on the server's clock from its
// renewal, is never shortened, can be dropped, and is pruned once it has
// ended.
func TestLeases(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t)
	leases := func() map[string]time.Duration {
		t.Helper()
		ls, err := s.Barrier(ctx, "tester", rand.Text())
		is.NoErr(err)
		m := map[string]time.Duration{}
		for _, l := range ls {
			m[l.Instance] = l.Left
		}
		return m
	}
	is.Equal(len(leases()), 0)

	is.NoErr(s.RenewLease(ctx, "one", time.Hour))
	is.NoErr(s.RenewLease(ctx, "two", time.Hour))
	m := leases()
	is.Equal(len(m), 2)
	for _, left := range m {
		is.True(left > 50*time.Minute && left <= time.Hour)
	}

	is.NoErr(s.RenewLease(ctx, "one", time.Minute)) // never shortens
	is.NoErr(s.RenewLease(ctx, "two", 3*time.Hour)) // lengthens
	m = leases()
	is.True(m["one"] > 50*time.Minute && m["one"] <= time.Hour)
	is.True(m["two"] > 2*time.Hour && m["two"] <= 3*time.Hour)

	is.NoErr(s.DropLease(ctx, "two"))
	is.NoErr(s.DropLease(ctx, "never-held"))
	m = leases()
	is.Equal(len(m), 1)
	is.True(m["one"] > 0)

	is.NoErr(s.RenewLease(ctx, "short", time.Millisecond))
	for deadline := time.Now().Add(wait); ; {
		if _, ok := leases()["short"]; !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lease of 1ms still listed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := s.rdb.ZScore(ctx, s.prefix+leasesKey, "short").Err()
	is.True(errors.Is(err, redis.Nil)) // pruned, not only left out

	is.True(s.RenewLease(ctx, "one", 0) != nil)
	is.True(s.RenewLease(ctx, "one", -time.Second) != nil)
	is.True(s.RenewLease(ctx, "one", 200*365*24*time.Hour) != nil)
}

// TestInstanceNames checks that names and ids that a payload could not
// carry are refused.
func TestInstanceNames(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t)
	long := strings.Repeat("x", store.MaxInstanceName+1)
	for _, bad := range []string{"", "a b", "tab\there", "é", long} {
		is.True(s.RenewLease(ctx, bad, time.Second) != nil)
		is.True(s.DropLease(ctx, bad) != nil)
		_, err := s.Barrier(ctx, bad, "id")
		is.True(err != nil)
		_, err = s.Barrier(ctx, "one", bad)
		is.True(err != nil)
		is.True(s.Send(ctx, bad, store.Notice{From: "one", ID: "id"}) != nil)
		is.True(s.Send(ctx, "one", store.Notice{From: bad, ID: "id"}) != nil)
		is.True(s.Send(ctx, "one", store.Notice{From: "one", ID: bad}) != nil)
		is.True(s.Listen(ctx, bad, &recorder{}) != nil)
	}
	is.NoErr(s.RenewLease(ctx, strings.Repeat("~", store.MaxInstanceName), time.Second))
}

// TestUndecodableNotice checks that a message Listen cannot read counts
// as a lost notice.
func TestUndecodableNotice(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t)
	r := listen(t, s, "one")
	for _, p := range []string{"", "x", "b one", "b one two three", "s one two"} {
		is.NoErr(s.rdb.Publish(ctx, s.noticeChannel(), p).Err())
		r.expect(t, "lost")
		r.expect(t, "listening")
	}
	is.NoErr(s.rdb.Publish(ctx, s.instanceChannel("one"), "i id").Err())
	r.expect(t, "lost")
	r.expect(t, "listening")
	is.Equal(untilBarrier(t, s, r), [][]string{{}})
}

// pubsubClient returns the id of the pub/sub connection named name, or "".
func pubsubClient(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	list, err := c.Do(t.Context(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == name {
			return fields["id"]
		}
	}
	return ""
}

// TestListenAfterKill checks that a listener whose connection the server
// closes is told it lost notices, before anything else, subscribes again
// and is told it listens.
func TestListenAfterKill(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url := redistest.URL(t)
	opts, err := redis.ParseURL(url)
	is.NoErr(err)
	opts.ClientName = "revoketest-" + rand.Text()[:10]
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	s, err := New(ctx, c, WithPrefix(redistest.Prefix(t, url)), WithCleanupInterval(0))
	is.NoErr(err)
	t.Cleanup(func() { s.Close() })
	r := listen(t, s, "one")

	for range 3 {
		id := pubsubClient(t, c, opts.ClientName)
		is.True(id != "")
		is.NoErr(c.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
		e := r.expect(t, "lost")
		is.True(e.err != nil)
		r.expect(t, "listening")
		is.True(pubsubClient(t, c, opts.ClientName) != id) // a new connection

		sess := storetest.NewSession("alice", time.Now())
		is.NoErr(s.Create(ctx, sess))
		_, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "x")
		is.NoErr(err)
		is.Equal(untilBarrier(t, s, r), [][]string{{sess.ID}}) // delivered again
	}
}

// TestListenStops checks that Listen returns ctx's error when its ctx
// ends, store.ErrClosed when the Store closes, and that a closed Store
// refuses every call.
func TestListenStops(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t)

	lctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	r := &recorder{instance: "one", ch: make(chan event, 100)}
	go func() { errc <- s.Listen(lctx, "one", r) }()
	r.expect(t, "listening")
	cancel()
	is.True(errors.Is(<-errc, context.Canceled))

	go func() { errc <- s.Listen(ctx, "one", r) }()
	r.expect(t, "listening")
	is.NoErr(s.Close())
	is.True(errors.Is(<-errc, store.ErrClosed))

	is.True(errors.Is(s.Listen(ctx, "one", r), store.ErrClosed))
	is.True(errors.Is(s.RenewLease(ctx, "one", time.Second), store.ErrClosed))
	is.True(errors.Is(s.DropLease(ctx, "one"), store.ErrClosed))
	_, err := s.Barrier(ctx, "one", "id")
	is.True(errors.Is(err, store.ErrClosed))
	is.True(errors.Is(s.Send(ctx, "one", store.Notice{From: "one", ID: "id"}), store.ErrClosed))
}

// proxiedURL returns the URL of the test server and that of a proxy to it,
// with query added.
func proxiedURL(t *testing.T, query string) (url string, p *netfault.Proxy, through string) {
	t.Helper()
	url = redistest.URL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p, err = netfault.Listen(opts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Host, u.RawQuery = p.Addr(), query
	return url, p, u.String()
}

// TestListenSilentConnection checks that a listener whose server stops
// answering, without its connection closing, is told it lost notices,
// and listens again once the server answers.
func TestListenSilentConnection(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url, p, through := proxiedURL(t, "")
	prefix := redistest.Prefix(t, url)
	s, writer := openShared(t, through, prefix), openShared(t, url, prefix)
	s.pingEvery = 200 * time.Millisecond
	r := listen(t, s, "one")

	p.Strand() // the listener's connection hangs; a new one gets through
	for {
		e := r.next(t)
		if e.kind == "lost" && strings.Contains(e.err.Error(), "no answer to a ping") {
			break
		}
		// A slow answer before the freeze may have been taken for none.
		is.True(e.kind == "lost" || e.kind == "listening")
	}
	r.expect(t, "listening")
	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(writer.Create(ctx, sess))
	_, err := writer.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "x")
	is.NoErr(err)
	is.Equal(untilBarrier(t, writer, r), [][]string{{sess.ID}})
}

// TestInvalidatorUnavailable checks that a server that does not answer
// makes each call fail with store.ErrUnavailable within the call timeout,
// and a listener that cannot subscribe report it as lost, and listen once
// it can.
func TestInvalidatorUnavailable(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	url, p, through := proxiedURL(t, "max_retries=-1")
	s := openShared(t, through, redistest.Prefix(t, url),
		WithCallTimeout(300*time.Millisecond))
	p.Freeze()

	unavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v, want store.ErrUnavailable", what, err)
		}
	}
	unavailable("renew lease", s.RenewLease(ctx, "one", time.Second))
	unavailable("drop lease", s.DropLease(ctx, "one"))
	_, err := s.Barrier(ctx, "one", "id")
	unavailable("barrier", err)
	unavailable("send", s.Send(ctx, "one", store.Notice{From: "one", ID: "id"}))

	r := startListen(t, s, "one")
	e := r.expect(t, "lost")
	unavailable("listen", e.err)
	p.Strand() // what was sent before stays unanswered
	p.Thaw()
	for e.kind == "lost" {
		e = r.next(t)
	}
	is.Equal(e.kind, "listening")
	is.Equal(untilBarrier(t, s, r), [][]string{{}})
}
