package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/storetest"
)

// event is what a noticeRecorder's handler was told.
type event struct {
	listening bool
	lost      error
	notice    *store.Notice
}

// noticeRecorder is a store.NoticeHandler that queues what it is told.
type noticeRecorder struct{ events chan event }

func newNoticeRecorder() *noticeRecorder { return &noticeRecorder{events: make(chan event, 1000)} }

func (r *noticeRecorder) Listening()            { r.events <- event{listening: true} }
func (r *noticeRecorder) Lost(err error)        { r.events <- event{lost: err} }
func (r *noticeRecorder) Notice(n store.Notice) { r.events <- event{notice: &n} }

// waitTimeout bounds every wait for a notification, so that a broken
// listener fails the test instead of hanging it.
const waitTimeout = 10 * time.Second

func (r *noticeRecorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(waitTimeout):
		t.Fatal("no event in time")
		return event{}
	}
}

// waitListening waits for Listening, failing on anything else but Lost
// (which the first connection attempts may report).
func (r *noticeRecorder) waitListening(t *testing.T) {
	t.Helper()
	for {
		switch e := r.next(t); {
		case e.listening:
			return
		case e.notice != nil:
			t.Fatalf("notice %+v before listening", *e.notice)
		}
	}
}

// until returns the notices before the barrier id from from, failing if
// the subscription breaks first.
func (r *noticeRecorder) until(t *testing.T, from, id string) []store.Notice {
	t.Helper()
	var got []store.Notice
	for {
		e := r.next(t)
		switch {
		case e.lost != nil:
			t.Fatalf("lost while waiting for barrier %s: %v", id, e.lost)
		case e.listening:
			t.Fatalf("listening again while waiting for barrier %s", id)
		case e.notice.Kind == store.NoticeBarrier && e.notice.From == from && e.notice.ID == id:
			return got
		default:
			got = append(got, *e.notice)
		}
	}
}

// listen runs s.Listen for instance until the test ends, and waits until
// it listens.
func listen(t *testing.T, s *Store, instance string) *noticeRecorder {
	t.Helper()
	r := newNoticeRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, instance, r) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r.waitListening(t)
	return r
}

var barriers atomic.Int64

// barrier publishes a new barrier from from on s and returns its id.
func barrier(t *testing.T, s *Store, from string) string {
	t.Helper()
	id := fmt.Sprintf("b%d", barriers.Add(1))
	if _, err := s.Barrier(t.Context(), from, id); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	return id
}

// invalidated returns the sorted session ids of ns, failing on any other
// kind of notice.
func invalidated(t *testing.T, ns []store.Notice) []string {
	t.Helper()
	ids := []string{}
	for _, n := range ns {
		if n.Kind != store.NoticeInvalidated {
			t.Fatalf("notice %+v, want an invalidation", n)
		}
		ids = append(ids, n.SessionID)
	}
	slices.Sort(ids)
	return ids
}

// TestInvalidations: each write that ends or changes a session announces
// the session's id to every listener, before a barrier published after
// the write returned, whichever instance writes and whichever publishes;
// a write that changes nothing, a touch and a create announce nothing.
func TestInvalidations(t *testing.T) {
	schema := newSchema(t)
	a, b := open(t, schema), open(t, schema) // two instances on one table
	ra, rb := listen(t, a, "a"), listen(t, b, "b")
	ctx := t.Context()
	now := time.Now()

	create := func(t *testing.T, user string) store.Session {
		t.Helper()
		sess := storetest.NewSession(user, now)
		if err := a.Create(ctx, sess); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	// settle publishes a barrier from b and returns the invalidations
	// that came before it, the same on both listeners.
	settle := func(t *testing.T) []string {
		t.Helper()
		id := barrier(t, b, "b") // another instance's barrier, after the writes returned
		got := invalidated(t, ra.until(t, "b", id))
		if gotB := invalidated(t, rb.until(t, "b", id)); !slices.Equal(gotB, got) {
			t.Fatalf("listener a got invalidations %v, b got %v", got, gotB)
		}
		return got
	}
	ids := func(ss ...store.Session) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.ID)
		}
		slices.Sort(out)
		return out
	}

	for _, tc := range []struct {
		name  string
		write func(t *testing.T, user string) (want []string, err error)
	}{
		{"revoke one", func(t *testing.T, u string) ([]string, error) {
			x, _ := create(t, u), create(t, u)
			_, err := a.Revoke(ctx, store.Selection{UserID: u, SessionID: x.ID}, now, "r")
			return ids(x), err
		}},
		{"revoke all", func(t *testing.T, u string) ([]string, error) {
			x, y := create(t, u), create(t, u)
			_, err := a.Revoke(ctx, store.Selection{UserID: u}, now, "r")
			return ids(x, y), err
		}},
		{"revoke all but", func(t *testing.T, u string) ([]string, error) {
			x, y, z := create(t, u), create(t, u), create(t, u)
			_, err := a.Revoke(ctx, store.Selection{UserID: u, ExceptID: x.ID}, now, "r")
			return ids(y, z), err
		}},
		{"revoke all with a not-before time", func(t *testing.T, u string) ([]string, error) {
			x, y := create(t, u), create(t, u)
			_, err := a.Revoke(ctx, store.Selection{UserID: u, NotBefore: now}, now, "r")
			return ids(x, y), err
		}},
		{"a session bound to no user", func(t *testing.T, _ string) ([]string, error) {
			x := create(t, "")
			_, err := a.Revoke(ctx, store.Selection{SessionID: x.ID}, now, "r")
			return ids(x), err
		}},
		{"replace token", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			return ids(x), a.ReplaceToken(ctx, x.ID, storetest.NewTokenHash(), now)
		}},
		{"update", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			return ids(x), a.Update(ctx, x.ID, store.Update{UserID: u, Data: []byte("d"),
				ExpiresAt: x.ExpiresAt, IdleExpiresAt: x.IdleExpiresAt}, now)
		}},
		{"reauthenticate", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			return ids(x), a.Reauthenticate(ctx, x.ID, storetest.NewTokenHash(), now,
				[]store.AuthMethod{{Method: "password", AAL: "aal1", CompletedAt: now}}, now)
		}},
		{"create limited evicts", func(t *testing.T, u string) ([]string, error) {
			x, y := create(t, u), create(t, u)
			if err := a.Touch(ctx, y.ID, now.Add(time.Second), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			evicted, err := a.CreateLimited(ctx, storetest.NewSession(u, now), store.Limit{Max: 2, Policy: store.EvictLeastRecentlySeen, Reason: "limit"}, now)
			if err == nil && !slices.Equal(evicted, ids(x)) {
				t.Fatalf("evicted %v, want %v", evicted, ids(x))
			}
			return ids(x), err
		}},
		{"create limited within the limit", func(t *testing.T, u string) ([]string, error) {
			create(t, u)
			_, err := a.CreateLimited(ctx, storetest.NewSession(u, now), store.Limit{Max: 2, Policy: store.EvictLeastRecentlySeen, Reason: "limit"}, now)
			return []string{}, err
		}},
		{"create, touch", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			return []string{}, a.Touch(ctx, x.ID, now, now.Add(2*time.Hour))
		}},
		{"record device", func(t *testing.T, u string) ([]string, error) {
			x := storetest.NewSession(u, now)
			x.IP, x.UserAgent = "", ""
			if err := a.Create(ctx, x); err != nil {
				return nil, err
			}
			if err := a.RecordDevice(ctx, x.ID, "192.0.2.2", "ua"); err != nil {
				return nil, err
			}
			if got := settle(t); !slices.Equal(got, ids(x)) {
				t.Fatalf("recording a device announced %v, want %v", got, ids(x))
			}
			return []string{}, a.RecordDevice(ctx, x.ID, "192.0.2.3", "ua") // recorded already
		}},
		{"revoking what is revoked", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			if _, err := a.Revoke(ctx, store.Selection{UserID: u}, now, "r"); err != nil {
				return nil, err
			}
			if got := settle(t); !slices.Equal(got, ids(x)) {
				t.Fatalf("first revocation announced %v, want %v", got, ids(x))
			}
			_, err := a.Revoke(ctx, store.Selection{UserID: u, SessionID: x.ID}, now, "r")
			if err != nil {
				return nil, err
			}
			_, err = a.Revoke(ctx, store.Selection{UserID: u}, now, "r")
			return []string{}, err
		}},
		{"refused writes", func(t *testing.T, u string) ([]string, error) {
			x := create(t, u)
			if _, err := a.Revoke(ctx, store.Selection{UserID: u, NotBefore: now.Add(time.Hour)}, now, "r"); err != nil {
				return nil, err
			}
			if got := settle(t); !slices.Equal(got, ids(x)) {
				t.Fatalf("revocation announced %v, want %v", got, ids(x))
			}
			for _, err := range []error{
				a.ReplaceToken(ctx, x.ID, storetest.NewTokenHash(), now),
				a.Update(ctx, x.ID, store.Update{UserID: u, ExpiresAt: x.ExpiresAt, IdleExpiresAt: x.IdleExpiresAt}, now),
				a.Reauthenticate(ctx, x.ID, storetest.NewTokenHash(), now, nil, now),
			} {
				if !errors.Is(err, store.ErrInactive) {
					t.Fatalf("a write to a revoked session: %v, want store.ErrInactive", err)
				}
			}
			// Active, but refused for the user's not-before time.
			y := storetest.NewSession("", now)
			if err := a.Create(ctx, y); err != nil {
				return nil, err
			}
			err := a.Update(ctx, y.ID, store.Update{UserID: u, ExpiresAt: y.ExpiresAt, IdleExpiresAt: y.IdleExpiresAt}, now)
			if !errors.Is(err, store.ErrNotBefore) {
				t.Fatalf("an update refused for the not-before time: %v", err)
			}
			_, err = a.CreateLimited(ctx, storetest.NewSession(u, now), store.Limit{Max: 1, Policy: store.EvictLeastRecentlySeen, Reason: "limit"}, now)
			if !errors.Is(err, store.ErrNotBefore) {
				t.Fatalf("a capped create refused for the not-before time: %v", err)
			}
			return []string{}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := tc.write(t, "user-"+strings.ReplaceAll(tc.name, " ", "-"))
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if got := settle(t); !slices.Equal(got, want) {
				t.Errorf("got invalidations %v before the barrier, want %v", got, want)
			}
		})
	}
}

// TestInvalidationPayload: session ids travel whole, spaces and all.
func TestInvalidationPayload(t *testing.T) {
	is := is.New(t)
	s := open(t, newSchema(t))
	r := listen(t, s, "a")
	now := time.Now()
	sess := storetest.NewSession("alice", now)
	sess.ID = "an id with spaces, a\nnewline and ünïcode "
	is.NoErr(s.Create(t.Context(), sess))
	_, err := s.Revoke(t.Context(), store.Selection{UserID: "alice"}, now, "r")
	is.NoErr(err)
	is.Equal(invalidated(t, r.until(t, "a", barrier(t, s, "a"))), []string{sess.ID})
}

// TestOverlongInvalidation: a session whose id does not fit in a
// notification is still revoked, and every listener is told it may have
// lost notices, then that it listens again.
func TestOverlongInvalidation(t *testing.T) {
	is := is.New(t)
	s := open(t, newSchema(t))
	r := listen(t, s, "a")
	ctx, now := t.Context(), time.Now()
	fits := storetest.NewSession("alice", now)
	fits.ID = strings.Repeat("x", maxPayload-2)
	long := storetest.NewSession("alice", now)
	long.ID = strings.Repeat("x", maxPayload-1) // compressible, so the index takes it
	is.NoErr(s.Create(ctx, fits))
	is.NoErr(s.Create(ctx, long))

	_, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: fits.ID}, now, "r")
	is.NoErr(err)
	is.Equal(invalidated(t, r.until(t, "a", barrier(t, s, "a"))), []string{fits.ID})

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: long.ID}, now, "r")
	is.NoErr(err)
	is.Equal(ids, []string{long.ID}) // revoked all the same
	id := barrier(t, s, "a")
	is.True(errors.Is(r.next(t).lost, errOverlong))
	is.True(r.next(t).listening)
	is.Equal(r.until(t, "a", id), []store.Notice(nil))
}

// TestSend: a sent notice reaches its recipient only, in order after the
// invalidations of writes that returned before it was sent.
func TestSend(t *testing.T) {
	is := is.New(t)
	schema := newSchema(t)
	a, b := open(t, schema), open(t, schema)
	ra, rb := listen(t, a, "a"), listen(t, b, "b")
	ctx := t.Context()
	now := time.Now()

	sess := storetest.NewSession("alice", now)
	is.NoErr(a.Create(ctx, sess))
	_, err := a.Revoke(ctx, store.Selection{UserID: "alice"}, now, "r")
	is.NoErr(err)
	is.NoErr(b.Send(ctx, "a", store.Notice{From: "b", ID: "ack-1"}))
	is.NoErr(b.Send(ctx, "nobody", store.Notice{Kind: store.NoticeSent, From: "b", ID: "ack-2"}))
	id := barrier(t, b, "b")

	is.Equal(ra.until(t, "b", id), []store.Notice{
		{Kind: store.NoticeInvalidated, SessionID: sess.ID},
		{Kind: store.NoticeSent, From: "b", ID: "ack-1"},
	})
	is.Equal(invalidated(t, rb.until(t, "b", id)), []string{sess.ID}) // b gets no one's notice

	for _, bad := range []struct {
		to string
		n  store.Notice
	}{
		{"", store.Notice{From: "b", ID: "x"}},
		{"a", store.Notice{From: "b c", ID: "x"}},
		{"a", store.Notice{From: "b", ID: ""}},
		{"a", store.Notice{From: "b", ID: strings.Repeat("x", store.MaxInstanceName+1)}},
		{"a", store.Notice{Kind: store.NoticeBarrier, From: "b", ID: "x"}},
	} {
		is.True(b.Send(ctx, bad.to, bad.n) != nil) // refused
	}
	_, err = b.Barrier(ctx, "b", "two words")
	is.True(err != nil) // refused
}

// TestForeignNotifications: a listener drops notifications that are not
// the store's, and hears nothing from a store on another table.
func TestForeignNotifications(t *testing.T) {
	is := is.New(t)
	schema := newSchema(t)
	s := open(t, schema, WithLogger(slog.New(slog.DiscardHandler)))
	other := open(t, schema, WithTable("other_sessions"))
	is.True(s.names.channel != other.names.channel)
	r := listen(t, s, "a")
	ctx := t.Context()

	for _, payload := range []string{"", "x", "i", "b one", "b one two three", "s a b", "s a b c", "i "} {
		_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.names.channel, payload)
		is.NoErr(err)
	}
	// A barrier on the instance's channel is not one.
	_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.instanceChannel("a"), "b x y")
	is.NoErr(err)
	// Another instance's notice on this one's channel is not this one's.
	_, err = s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.instanceChannel("a"), "s z b y")
	is.NoErr(err)

	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(other.Create(ctx, sess))
	_, err = other.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "r")
	is.NoErr(err)
	is.NoErr(other.Send(ctx, "a", store.Notice{From: "b", ID: "x"}))
	_, err = other.Barrier(ctx, "b", "x")
	is.NoErr(err)

	is.Equal(r.until(t, "a", barrier(t, s, "a")), []store.Notice(nil))
}

func TestDecodeNotice(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    store.Notice
		to      string
		ok      bool
	}{
		{"i abc", store.Notice{Kind: store.NoticeInvalidated, SessionID: "abc"}, "", true},
		{"i  a b ", store.Notice{Kind: store.NoticeInvalidated, SessionID: " a b "}, "", true},
		{"b from id", store.Notice{Kind: store.NoticeBarrier, From: "from", ID: "id"}, "", true},
		{"s to from id", store.Notice{Kind: store.NoticeSent, From: "from", ID: "id"}, "to", true},
		{"", store.Notice{}, "", false},
		{"i", store.Notice{}, "", false},
		{"i ", store.Notice{}, "", false},
		{"x abc", store.Notice{}, "", false},
		{"b from", store.Notice{}, "", false},
		{"b from id more", store.Notice{}, "", false},
		{"s to from", store.Notice{}, "", false},
		{"s to from id more", store.Notice{}, "", false},
	} {
		n, to, ok := decodeNotice(tc.payload)
		if ok != tc.ok || (ok && (n != tc.want || to != tc.to)) {
			t.Errorf("decodeNotice(%q) = %+v, %q, %v; want %+v, %q, %v", tc.payload, n, to, ok, tc.want, tc.to, tc.ok)
		}
	}
}

// TestChannelNames: the channels fit PostgreSQL's names and differ between
// tables and instances.
func TestChannelNames(t *testing.T) {
	long := strings.Repeat("x", maxIdentifier)
	seen := map[string]bool{}
	for _, st := range [][2]string{{"public", DefaultTable}, {"other", DefaultTable}, {"public", "other"}, {long, long}, {"a\x00b", "c"}, {"a", "b\x00c"}} {
		c := channelName(st[0], st[1])
		s := &Store{names: names{channel: c}}
		for _, ch := range []string{c, s.instanceChannel("a"), s.instanceChannel(strings.Repeat("~", store.MaxInstanceName))} {
			if len(ch) > maxIdentifier || seen[ch] {
				t.Errorf("channel %q of %q: too long or seen before", ch, st)
			}
			seen[ch] = true
		}
	}
}

// leftOf returns the leases as a map.
func leftOf(t *testing.T, ls []store.Lease) map[string]time.Duration {
	t.Helper()
	m := map[string]time.Duration{}
	for _, l := range ls {
		m[l.Instance] = l.Left
	}
	return m
}

// TestLeases: a barrier lists the live leases with the time each has left
// by the database's clock; a renewal never shortens a lease; a dropped or
// lapsed lease is not listed, and lapsed ones are deleted.
func TestLeases(t *testing.T) {
	is := is.New(t)
	schema := newSchema(t)
	a, b := open(t, schema), open(t, schema)
	ctx := t.Context()

	leases, err := a.Barrier(ctx, "a", "x")
	is.NoErr(err)
	is.Equal(leases, []store.Lease{}) // none yet

	is.NoErr(a.RenewLease(ctx, "a", time.Hour))
	is.NoErr(b.RenewLease(ctx, "b", 2*time.Hour))
	leases, err = b.Barrier(ctx, "b", "x")
	is.NoErr(err)
	is.Equal(len(leases), 2)
	is.Equal(leases[0].Instance, "a") // sorted by name
	left := leftOf(t, leases)
	// The time left is what the lease was given, less the little that has
	// passed since; never more.
	is.True(left["a"] <= time.Hour && left["a"] > time.Hour-time.Minute)
	is.True(left["b"] <= 2*time.Hour && left["b"] > 2*time.Hour-time.Minute)

	is.NoErr(a.RenewLease(ctx, "a", time.Minute)) // never shortens
	is.NoErr(a.RenewLease(ctx, "b", 3*time.Hour)) // lengthens
	leases, err = a.Barrier(ctx, "a", "y")
	is.NoErr(err)
	left = leftOf(t, leases)
	is.True(left["a"] > time.Hour-time.Minute)
	is.True(left["b"] > 3*time.Hour-time.Minute)

	is.NoErr(b.DropLease(ctx, "b"))
	is.NoErr(b.DropLease(ctx, "b")) // dropping no lease is no error
	is.NoErr(b.RenewLease(ctx, "c", time.Millisecond))
	time.Sleep(50 * time.Millisecond) // c's lease lapses
	leases, err = a.Barrier(ctx, "a", "z")
	is.NoErr(err)
	is.Equal(len(leases), 1)
	is.Equal(leases[0].Instance, "a") // b's is dropped, c's has lapsed

	leasesTable := "SELECT count(*) FROM " + a.names.leases
	pool := newPool(t)
	is.Equal(count(t, pool, leasesTable), 2) // a's, and c's lapsed one
	is.NoErr(a.RenewLease(ctx, "a", time.Hour))
	is.Equal(count(t, pool, leasesTable), 1) // a renewal deletes lapsed leases

	is.NoErr(b.RenewLease(ctx, "c", time.Millisecond))
	time.Sleep(50 * time.Millisecond)
	is.NoErr(b.RenewLease(ctx, "c", time.Hour)) // a lapsed lease starts over
	leases, err = a.Barrier(ctx, "a", "z")
	is.NoErr(err)
	is.True(leftOf(t, leases)["c"] > time.Hour-time.Minute)

	for _, d := range []time.Duration{0, -time.Second, time.Nanosecond} {
		is.True(a.RenewLease(ctx, "a", d) != nil) // not positive at the database's precision
	}
	is.True(a.RenewLease(ctx, "a b", time.Hour) != nil)
	is.True(a.DropLease(ctx, "") != nil)
}

// TestListenReconnects: when the listener's connection is killed, the
// handler is told it lost the subscription, then that it listens again,
// and notices flow again.
func TestListenReconnects(t *testing.T) {
	is := is.New(t)
	s := open(t, newSchema(t), WithReconnectDelay(10*time.Millisecond))
	r := listen(t, s, "a")
	ctx := t.Context()

	pool := newPool(t)
	var killed int
	err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query ILIKE 'listen %' AND strpos(query, $1) > 0`,
		s.names.channel).Scan(&killed)
	is.NoErr(err)
	is.Equal(killed, 1) // the listener's own connection

	e := r.next(t)
	is.True(e.lost != nil) // first told it lost the subscription
	r.waitListening(t)     // then that it listens again

	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(ctx, sess))
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "r")
	is.NoErr(err)
	is.Equal(invalidated(t, r.until(t, "a", barrier(t, s, "a"))), []string{sess.ID})
}

// TestListenEnds: Listen returns ctx's error when ctx ends, and
// store.ErrClosed when the store closes, which waits for it; a closed
// store refuses every call.
func TestListenEnds(t *testing.T) {
	is := is.New(t)
	s := open(t, newSchema(t))
	ctx := t.Context()

	is.True(s.Listen(ctx, "", newNoticeRecorder()) != nil) // a bad name
	is.True(s.Listen(ctx, "a", nil) != nil)                // no handler
	lctx, cancel := context.WithCancel(ctx)
	r := newNoticeRecorder()
	done := make(chan error, 1)
	go func() { done <- s.Listen(lctx, "a", r) }()
	r.waitListening(t)
	cancel()
	is.True(errors.Is(<-done, context.Canceled)) // ctx's error
	is.Equal(len(r.events), 0)                   // and no loss: Listen has returned

	r = newNoticeRecorder()
	go func() { done <- s.Listen(ctx, "a", r) }()
	r.waitListening(t)
	is.NoErr(s.Close())
	select {
	case err := <-done:
		is.True(errors.Is(err, store.ErrClosed))
	case <-time.After(waitTimeout):
		t.Fatal("Listen did not return when the store closed")
	}
	is.Equal(len(r.events), 0)

	is.True(errors.Is(s.Listen(ctx, "a", r), store.ErrClosed))
	is.True(errors.Is(s.RenewLease(ctx, "a", time.Hour), store.ErrClosed))
	is.True(errors.Is(s.DropLease(ctx, "a"), store.ErrClosed))
	_, err := s.Barrier(ctx, "a", "x")
	is.True(errors.Is(err, store.ErrClosed))
	is.True(errors.Is(s.Send(ctx, "a", store.Notice{From: "b", ID: "x"}), store.ErrClosed))
}

// TestListeningAfterEveryListen: pgxlisten calls HandleBacklog after the
// LISTEN of each channel in turn; the handler is Listening only once both
// have succeeded, on each connection.
func TestListeningAfterEveryListen(t *testing.T) {
	is := is.New(t)
	r := newNoticeRecorder()
	l := &listener{h: r}
	shared, own := channelHandler{l, ""}, channelHandler{l, "a"}
	for range 2 { // two connections
		l.subscribed = 0 // as connect does
		is.NoErr(own.HandleBacklog(t.Context(), "", nil))
		is.Equal(len(r.events), 0) // one LISTEN is not enough
		is.NoErr(shared.HandleBacklog(t.Context(), "", nil))
		is.True(r.next(t).listening)
	}
}
