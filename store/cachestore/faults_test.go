package cachestore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/memstore"
	"github.com/revokehq/revoke/store/storetest"
)

// instance is one process's view of a shared memstore, with the faults a
// test can put between the two: its listener held (a frozen process, a
// stalled link: notices wait), its subscription cut without a word (a
// half-open connection: from then on that subscription delivers nothing,
// and only a new one does) or broken (the subscription reports the loss),
// and its next token lookup held after the store answered (a slow read).
type instance struct {
	*memstore.Store
	mu      sync.Mutex
	held    bool
	release chan struct{} // closed when held ends
	current *atomic.Bool  // the live subscription's "cut"; a new Listen starts a new one
	handler store.NoticeHandler
	slowGet chan chan struct{} // a lookup sends a channel and waits for it to close
}

func newInstance(shared *memstore.Store) *instance {
	return &instance{Store: shared, release: make(chan struct{})}
}

// Close leaves the shared store open for the other instances.
func (in *instance) Close() error { return nil }

func (in *instance) Listen(ctx context.Context, name string, h store.NoticeHandler) error {
	cut := new(atomic.Bool)
	in.mu.Lock()
	in.current = cut
	in.mu.Unlock()
	return in.Store.Listen(ctx, name, gate{in, h, cut})
}

func (in *instance) GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (store.Session, error) {
	s, err := in.Store.GetByTokenHash(ctx, hash)
	in.mu.Lock()
	slow := in.slowGet
	in.slowGet = nil
	in.mu.Unlock()
	if slow != nil {
		wait := make(chan struct{})
		slow <- wait
		<-wait
	}
	return s, err
}

// hold makes notices wait until resume.
func (in *instance) hold() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.held {
		in.held, in.release = true, make(chan struct{})
	}
}

func (in *instance) resume() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.held {
		in.held = false
		close(in.release)
	}
}

// cut makes the live subscription deliver nothing more, without a word.
func (in *instance) cut() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.current != nil {
		in.current.Store(true)
	}
}

// breakSubscription reports a lost subscription and a new one, as a
// backend does after a reconnection; what was published in between is
// lost.
func (in *instance) breakSubscription() {
	in.mu.Lock()
	h := in.handler
	in.mu.Unlock()
	h.Lost(errors.New("connection reset"))
	h.Listening()
}

// gate passes notices to the cache's handler as the faults allow.
type gate struct {
	in  *instance
	h   store.NoticeHandler
	cut *atomic.Bool
}

func (g gate) Listening() {
	g.in.mu.Lock()
	g.in.handler = g.h
	g.in.mu.Unlock()
	g.h.Listening()
}

func (g gate) Lost(err error) { g.h.Lost(err) }

func (g gate) Notice(n store.Notice) {
	g.in.mu.Lock()
	held, release := g.in.held, g.in.release
	g.in.mu.Unlock()
	if held {
		<-release
	}
	if !g.cut.Load() {
		g.h.Notice(n)
	}
}

// fleet starts n caches over one memstore, each serving, with a short lease.
func fleet(t *testing.T, n int, lease time.Duration) (*memstore.Store, []*instance, []*cachestore.Store) {
	t.Helper()
	shared := memstore.New()
	t.Cleanup(func() { _ = shared.Close() })
	var ins []*instance
	var caches []*cachestore.Store
	for i := range n {
		in := newInstance(shared)
		c := serving(t, in, cachestore.WithLease(lease), cachestore.WithInstance(string(rune('a'+i))))
		t.Cleanup(func() {
			in.resume()
			_ = c.Close()
		})
		ins, caches = append(ins, in), append(caches, c)
	}
	return shared, ins, caches
}

// cachedEverywhere creates a session and resolves it on every cache until
// each answers it from memory.
func cachedEverywhere(t *testing.T, caches []*cachestore.Store) store.Session {
	t.Helper()
	sess := storetest.NewSession("alice", time.Now())
	if err := caches[0].Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	for _, c := range caches {
		// A loaded machine may make an instance resubscribe now and then;
		// until it serves again its lookups go to the store.
		before, deadline := c.Stats().Hits, time.Now().Add(10*time.Second)
		for c.Stats().Hits == before {
			if time.Now().After(deadline) {
				t.Fatalf("instance %s did not answer from its cache", c.Instance())
			}
			if got, err := c.GetByTokenHash(t.Context(), sess.TokenHash); err != nil || got.Revoked() {
				t.Fatalf("lookup: %+v, %v", got, err)
			}
		}
	}
	return sess
}

// refused fails the test unless c resolves sess as revoked.
func refused(t *testing.T, c *cachestore.Store, sess store.Session) {
	t.Helper()
	got, err := c.GetByTokenHash(t.Context(), sess.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked() {
		t.Fatalf("instance %s resolved the session as active after its revocation returned", c.Instance())
	}
}

func revokeOn(t *testing.T, c *cachestore.Store, sess store.Session) {
	t.Helper()
	ids, err := c.Revoke(t.Context(), store.Selection{UserID: sess.UserID, SessionID: sess.ID}, time.Now(), "test")
	if err != nil || len(ids) != 1 {
		t.Fatalf("Revoke: %v, %v", ids, err)
	}
}

func TestRevocationReachesEveryCache(t *testing.T) {
	// A long lease, so that even a loaded machine renews in time and every
	// instance answers the barrier.
	_, _, caches := fleet(t, 3, 10*time.Second)
	sess := cachedEverywhere(t, caches)
	revokeOn(t, caches[0], sess)
	for _, c := range caches {
		refused(t, c, sess)
	}
	if st := caches[0].Stats(); st.Settled != 1 || st.SettledByLapse != 0 {
		t.Fatalf("the revoking instance's stats: %+v; want one write settled by acknowledgements alone", st)
	}
}

// A frozen instance is waited out to the end of its lease, and when it
// thaws it does not answer from its cache before it has caught up.
func TestFrozenInstanceIsWaitedOut(t *testing.T) {
	_, ins, caches := fleet(t, 2, time.Second)
	sess := cachedEverywhere(t, caches)
	ins[1].hold()
	revokeOn(t, caches[0], sess)
	// At least the frozen instance was waited out; on a loaded machine the
	// revoking one may have had to resubscribe and be waited out too.
	if got := caches[0].Stats().SettledByLapse; got < 1 {
		t.Fatalf("SettledByLapse = %d: the frozen instance was not waited out", got)
	}
	if caches[1].Stats().Serving {
		t.Fatal("the frozen instance still serves from its cache after its lease")
	}
	refused(t, caches[1], sess)
	ins[1].resume()
	waitServing(t, caches[1])
	refused(t, caches[1], sess)
}

// A subscription that stops delivering without failing is noticed by the
// instance's own notice not coming back: it stops serving, and revocations
// wait out its lease.
func TestSilentlyCutInstanceStopsServing(t *testing.T) {
	_, ins, caches := fleet(t, 2, 300*time.Millisecond)
	sess := cachedEverywhere(t, caches)
	ins[1].cut()
	revokeOn(t, caches[0], sess)
	refused(t, caches[1], sess)
	deadline := time.Now().Add(10 * time.Second)
	for caches[1].Stats().LateHeartbeats == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cut instance never noticed that its own notice did not come back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitServing(t, caches[1]) // on a new subscription
	refused(t, caches[1], sess)
}

// A broken subscription empties the cache at once: what was published
// while it was down is lost.
func TestBrokenSubscriptionFlushes(t *testing.T) {
	shared, ins, caches := fleet(t, 2, time.Second)
	sess := cachedEverywhere(t, caches)
	ins[1].hold() // the revocation's notice would come after the break
	ins[1].breakSubscription()
	if st := caches[1].Stats(); st.Serving || st.Cached != 0 {
		t.Fatalf("after a break: %+v, want not serving and empty", st)
	}
	// A write behind the cache's back while the subscription was down.
	if _, err := shared.Revoke(t.Context(), store.Selection{UserID: sess.UserID, SessionID: sess.ID}, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	ins[1].resume()
	waitServing(t, caches[1])
	refused(t, caches[1], sess)
}

// A lookup that read the store before a revocation and fills the cache
// after the revocation returned must not leave the revoked session in it.
func TestSlowFillAfterRevocationStaysOut(t *testing.T) {
	_, ins, caches := fleet(t, 2, time.Second)
	sess := storetest.NewSession("alice", time.Now())
	if err := caches[0].Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	slow := make(chan chan struct{})
	ins[1].mu.Lock()
	ins[1].slowGet = slow
	ins[1].mu.Unlock()
	done := make(chan store.Session)
	go func() {
		got, _ := caches[1].GetByTokenHash(context.Background(), sess.TokenHash)
		done <- got
	}()
	read := <-slow // the store has answered: active
	revokeOn(t, caches[0], sess)
	close(read)
	if got := <-done; got.Revoked() {
		t.Fatal("the slow lookup began before the revocation; it should have read the session active")
	}
	refused(t, caches[1], sess)
}

func waitServing(t *testing.T, c *cachestore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Stats().Serving {
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not serve again", c.Instance())
		}
		time.Sleep(time.Millisecond)
	}
}
