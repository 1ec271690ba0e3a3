package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/cachestore"
)

// Sizes of the linearizability test. Each round is bounded in time
// (roundLength, or minAfter past the revocation when that ends later) and
// each worker in iterations, so a backend costs about
// 3 kinds × linRounds × roundLength, however fast or slow it is.
const (
	linRounds   = 20                    // rounds per kind of revocation
	linSessions = 16                    // sessions of the user in each round
	linWorkers  = 8                     // goroutines resolving the sessions
	roundLength = 50 * time.Millisecond // hammering per round
	minAfter    = 15 * time.Millisecond // hammering after the revocation returned, at least
	maxIter     = 200_000               // per worker and round; a bound, never reached
	maxReports  = 20                    // failures reported per round before going quiet
	directPause = 20 * time.Microsecond // between in-process resolves; see work
)

// revokeKind is one of the Manager's revocation calls.
type revokeKind int

const (
	kindAll     revokeKind = iota // RevokeAll: every session
	kindSession                   // RevokeSession: one session; the others must live on
	kindOthers                    // RevokeOthers: all but one; the kept one must live on
)

func (k revokeKind) String() string {
	return [...]string{"RevokeAll", "RevokeSession", "RevokeOthers"}[k]
}

// path is how a worker presents a token.
type path int

const (
	viaResolve path = iota // Manager.Resolve, in-process
	viaHeader              // Middleware over HTTP, X-Session-Token
	viaCookie              // Middleware over HTTP, the signed session cookie
)

// pathOf spreads the workers over the three ways in, a third each.
func pathOf(worker int) path { return path(worker % 3) }

// tally counts what the workers saw in the rounds of one kind.
type tally struct {
	resolves      int64 // every resolve performed
	overHTTP      int64 // of which through the Middleware over HTTP
	postRevoke    int64 // resolves of a revoked session that started after the call returned
	rejectedAfter int64 // of which rejected; must equal postRevoke
	lateAccepts   int64 // of which accepted; must be zero
	untouched     int64 // resolves of sessions the call must leave alone; all must succeed
	overlapping   int64 // resolves of a revoked session that overlapped the call (either answer is right)
}

func (a *tally) add(b *tally) {
	a.resolves += b.resolves
	a.overHTTP += b.overHTTP
	a.postRevoke += b.postRevoke
	a.rejectedAfter += b.rejectedAfter
	a.lateAccepts += b.lateAccepts
	a.untouched += b.untouched
	a.overlapping += b.overlapping
}

// TestRevocationIsLinearizable checks, on every backend, that a revocation
// takes effect at the instant its call returns: while goroutines resolve a
// user's sessions as fast as they can (in-process and through the
// Middleware over HTTP), every resolve of a revoked session that started
// after RevokeAll, RevokeSession or RevokeOthers returned is rejected, and
// every resolve of a session the call leaves alone succeeds, before, during
// and after it.
func TestRevocationIsLinearizable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			h := newLinHarness(t, st)
			if c, ok := st.(*cachestore.Store); ok {
				defer func() {
					s := c.Stats()
					t.Logf("%s: %d lookups from the cache, %d from the store", b.name, s.Hits, s.Misses)
					if s.Hits == 0 {
						t.Error("no lookup was answered from the cache: the test proved nothing of it")
					}
				}()
			}
			for _, kind := range []revokeKind{kindAll, kindSession, kindOthers} {
				t.Run(kind.String(), func(t *testing.T) {
					var total tally
					for r := range linRounds {
						h.round(t, kind, r, &total)
					}
					t.Logf("%s %s: %d rounds, %d resolves (%d over HTTP), %d started after the call returned: %d rejected, %d accepted; %d of sessions the call leaves alone, all accepted; %d overlapping the call",
						b.name, kind, linRounds, total.resolves, total.overHTTP,
						total.postRevoke, total.rejectedAfter, total.lateAccepts, total.untouched, total.overlapping)
					if total.lateAccepts != 0 || total.rejectedAfter != total.postRevoke {
						t.Errorf("%d of %d resolves that started after the revocation returned were accepted", total.lateAccepts, total.postRevoke)
					}
					if total.postRevoke == 0 {
						t.Error("no resolve started after a revocation returned: the test proved nothing")
					}
				})
			}
		})
	}
}

// linHarness is a Manager on one store, served by its Middleware on a
// loopback HTTP server.
type linHarness struct {
	m      *revoke.Manager
	srv    *httptest.Server
	client *http.Client
}

func newLinHarness(t *testing.T, st store.SessionStore) *linHarness {
	// A touch on every request puts a write on the resolve path, so touches
	// race the revocation too: a touch must never bring a session back.
	m, err := revoke.New(st, revoke.WithTouchInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	// The handler answers with the resolved session's id, or with why the
	// request is anonymous, so the client can check both.
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, ok := revoke.FromContext(r.Context())
		if !ok {
			http.Error(w, revoke.FailureReason(r.Context()).Error(), http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, cur.ID)
	})))
	t.Cleanup(srv.Close)
	// Enough idle connections for every worker: no connection churn, no
	// ports left in TIME_WAIT.
	tr := &http.Transport{MaxIdleConnsPerHost: linWorkers, MaxIdleConns: linWorkers}
	t.Cleanup(tr.CloseIdleConnections)
	return &linHarness{m: m, srv: srv, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// linRound is the state of one round, shared by the workers.
type linRound struct {
	user    string
	ids     []string
	tokens  []string
	cookies []*http.Cookie
	// target[i] says whether the call revokes session i.
	target []bool
	// begun is set just before the revocation is called, done just after
	// it returned. Atomics are sequentially consistent in Go: a worker that
	// reads done as true starts its resolve after the call returned.
	begun, done atomic.Bool
}

// round runs one round: a fresh user with linSessions sessions, linWorkers
// goroutines resolving them, and one revocation of the given kind part-way
// through.
func (h *linHarness) round(t *testing.T, kind revokeKind, n int, total *tally) {
	t.Helper()
	ctx := t.Context()
	r := &linRound{user: fmt.Sprintf("lin-%s-%d", kind, n), target: make([]bool, linSessions)}
	for range linSessions {
		s, token, err := h.m.Create(ctx, r.user, revoke.Device{IP: "127.0.0.1", UserAgent: "reliability"})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		rec := httptest.NewRecorder()
		if err := h.m.SetCookie(rec, token, s.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		r.ids = append(r.ids, s.ID)
		r.tokens = append(r.tokens, token)
		r.cookies = append(r.cookies, rec.Result().Cookies()[0])
	}
	chosen := rand.IntN(linSessions)
	for i := range r.target {
		switch kind {
		case kindAll:
			r.target[i] = true
		case kindSession:
			r.target[i] = i == chosen
		case kindOthers:
			r.target[i] = i != chosen
		}
	}

	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		tallies = make([]tally, linWorkers)
		reports atomic.Int32
	)
	fail := func(format string, args ...any) {
		if reports.Add(1) <= maxReports {
			t.Errorf("round %d: "+format, append([]any{n}, args...)...)
		}
	}
	start := time.Now()
	for w := range linWorkers {
		wg.Go(func() { h.work(ctx, r, w, stop, &tallies[w], fail) })
	}

	// Revoke somewhere in the middle third of the round, so that there are
	// resolves before, during and after the call.
	time.Sleep(roundLength/3 + rand.N(roundLength/3))
	r.begun.Store(true)
	err := h.revoke(ctx, kind, r, chosen)
	r.done.Store(true)
	returned := time.Now()
	if err != nil {
		fail("%s: %v", kind, err)
	}
	time.Sleep(max(time.Until(start.Add(roundLength)), time.Until(returned.Add(minAfter))))
	close(stop)
	wg.Wait()

	for i := range tallies {
		total.add(&tallies[i])
	}
	// Afterwards the store holds exactly the revocations asked for, and
	// the touches that raced them undid none.
	for i, id := range r.ids {
		s, err := h.m.Store().Get(ctx, id)
		if err != nil {
			fail("get %s: %v", id, err)
			continue
		}
		if s.Revoked() != r.target[i] {
			fail("session %d: revoked %v, want %v", i, s.Revoked(), r.target[i])
		}
	}
}

// revoke makes the round's revocation call and checks its answer.
func (h *linHarness) revoke(ctx context.Context, kind revokeKind, r *linRound, chosen int) error {
	c := revoke.Cause{Actor: "reliability", Reason: "linearizability test"}
	switch kind {
	case kindAll:
		n, err := h.m.RevokeAll(ctx, r.user, c)
		if err == nil && n != linSessions {
			err = fmt.Errorf("revoked %d sessions, want %d", n, linSessions)
		}
		return err
	case kindSession:
		s, err := h.m.RevokeSession(ctx, r.user, r.ids[chosen], c)
		if err == nil && (s.ID != r.ids[chosen] || !s.Revoked()) {
			err = fmt.Errorf("returned session %s revoked=%v, want %s revoked", s.ID, s.Revoked(), r.ids[chosen])
		}
		return err
	default:
		n, err := h.m.RevokeOthers(ctx, r.user, r.ids[chosen], c)
		if err == nil && n != linSessions-1 {
			err = fmt.Errorf("revoked %d sessions, want %d", n, linSessions-1)
		}
		return err
	}
}

// work resolves the round's sessions, one after another, until stop is
// closed, and judges every answer against what the revocation's call had
// done when the resolve started and ended.
func (h *linHarness) work(ctx context.Context, r *linRound, w int, stop <-chan struct{}, tl *tally, fail func(string, ...any)) {
	p := pathOf(w)
	for it := range maxIter {
		select {
		case <-stop:
			return
		default:
		}
		i := (w*linSessions/linWorkers + it) % linSessions
		after := r.done.Load() // read before the resolve starts
		accepted, err := h.resolve(ctx, r, p, i)
		overlapped := r.begun.Load() // read after it ended
		if p == viaResolve {
			// An in-process resolve on memstore never blocks: without a
			// pause these loops would take every CPU, and the scheduler
			// would leave the HTTP workers' replies unread for up to the
			// 10ms of the runtime's background network poll.
			time.Sleep(directPause)
		}
		if err != nil {
			fail("worker %d, session %d (%v): %v", w, i, p, err)
			continue
		}
		tl.resolves++
		if p != viaResolve {
			tl.overHTTP++
		}
		switch {
		case !r.target[i]:
			tl.untouched++
			if !accepted {
				fail("worker %d: session %d, which the call leaves alone, was rejected (%v)", w, i, p)
			}
		case after:
			tl.postRevoke++
			if accepted {
				tl.lateAccepts++
				fail("worker %d: session %d accepted (%v) by a resolve that started after the revocation returned", w, i, p)
			} else {
				tl.rejectedAfter++
			}
		case !overlapped:
			// Ended before the call began: the session was still valid.
			if !accepted {
				fail("worker %d: session %d rejected (%v) before the revocation began", w, i, p)
			}
		default:
			tl.overlapping++
		}
	}
}

// resolve presents token i the given way and reports whether it was
// accepted. Rejections other than "revoked", and answers about another
// session, are errors.
func (h *linHarness) resolve(ctx context.Context, r *linRound, p path, i int) (bool, error) {
	if p == viaResolve {
		s, err := h.m.Resolve(ctx, r.tokens[i])
		switch {
		case err == nil && s.ID != r.ids[i]:
			return false, fmt.Errorf("resolved to session %s, want %s", s.ID, r.ids[i])
		case err == nil:
			return true, nil
		case errors.Is(err, revoke.ErrRevoked):
			return false, nil
		}
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/", nil)
	if err != nil {
		return false, err
	}
	if p == viaHeader {
		req.Header.Set(revoke.HeaderName, r.tokens[i])
	} else {
		req.AddCookie(r.cookies[i])
	}
	res, err := h.client.Do(req)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return false, err
	}
	got := strings.TrimSpace(string(body))
	switch {
	case res.StatusCode == http.StatusOK && got == r.ids[i]:
		return true, nil
	case res.StatusCode == http.StatusUnauthorized && got == revoke.ErrRevoked.Error():
		return false, nil
	}
	return false, fmt.Errorf("status %d, body %q", res.StatusCode, got)
}

func (p path) String() string {
	return [...]string{"Resolve", "HTTP header", "HTTP cookie"}[p]
}
