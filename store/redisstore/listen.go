package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revokehq/revoke/store"
)

// How long Listen waits before it subscribes again after a failure: from
// the first to the last, doubling, each with some jitter so that many
// instances that lost one server do not come back at the same instant.
const (
	firstRetry = 50 * time.Millisecond
	lastRetry  = 2 * time.Second
)

// Listen implements store.Invalidator, on a pub/sub connection of its own
// subscribed to the instance's two channels (see invalidator.go).
//
// go-redis's PubSub reconnects and subscribes again by itself, and so
// drops whatever was published in between without saying so. Listen
// never reads past that: each connection is a PubSub of its own, which
// Listen closes at its first error, and a subscription confirmed again on
// a connection Listen had confirmed already (go-redis reconnecting without
// an error) counts as a failure too. Each failure calls h.Lost before
// anything else, and Listen subscribes anew; h.Listening comes only once
// Redis has confirmed both channels. A connection that stays silent is
// pinged; one that does not answer within the ping interval (the call
// timeout) counts as broken, for a server that vanished without closing
// its connection would otherwise leave Listen waiting for ever.
//
// Listen returns ctx's error when ctx ends, and store.ErrClosed when the
// Store closes.
func (s *Store) Listen(ctx context.Context, instance string, h store.NoticeHandler) error {
	if err := checkNames("listen", "instance", instance); err != nil {
		return err
	}
	if h == nil {
		return errors.New("redisstore: listen: nil handler")
	}
	lctx, done, err := s.startListener(ctx)
	if err != nil {
		return err
	}
	defer done()
	wait := firstRetry
	for {
		listened, err := s.listenOnce(lctx, instance, h)
		if lctx.Err() != nil {
			break
		}
		h.Lost(unavailable("listen", err))
		if listened {
			wait = firstRetry
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-lctx.Done():
			t.Stop()
		}
		wait = min(2*wait, lastRetry)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return store.ErrClosed
}

// startListener registers a listener, which Close then waits for, and
// returns ctx ended also by Close.
func (s *Store) startListener(ctx context.Context) (context.Context, func(), error) {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.closed.Load() {
		return nil, nil, store.ErrClosed
	}
	s.listeners.Add(1)
	lctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closing, cancel)
	return lctx, func() {
		stop()
		cancel()
		s.listeners.Done()
	}, nil
}

// errResubscribed is how Listen reports go-redis subscribing again on a
// new connection of its own.
var errResubscribed = errors.New("the connection was replaced: notices may have been lost")

// listenOnce subscribes once and hands h what arrives, until the
// subscription fails or ctx ends. listened reports whether it called
// h.Listening.
func (s *Store) listenOnce(ctx context.Context, instance string, h store.NoticeHandler) (listened bool, err error) {
	ps := s.rdb.Subscribe(ctx) // no channel yet: no connection either
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()

	// Subscribing, and its confirmations, must come within the call
	// timeout; listening then has no deadline.
	sctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	chans := []string{s.noticeChannel(), s.instanceChannel(instance)}
	if err := ps.Subscribe(sctx, chans...); err != nil {
		return false, err
	}
	pending := map[string]bool{chans[0]: true, chans[1]: true}
	rctx := sctx

	var (
		reads     atomic.Int64          // replies read, for the watchdog
		silent    atomic.Pointer[error] // why the watchdog closed ps
		watchdog  = make(chan struct{})
		stopWatch = func() {}
	)
	defer func() { stopWatch() }()
	for {
		msg, err := ps.Receive(rctx)
		if err != nil {
			if e := silent.Load(); e != nil {
				return listened, *e
			}
			return listened, err
		}
		reads.Add(1)
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" || !pending[m.Channel] {
				return listened, fmt.Errorf("%w (%s)", errResubscribed, m)
			}
			delete(pending, m.Channel)
			if len(pending) == 0 {
				cancel()
				rctx = ctx
				h.Listening()
				listened = true
				stopWatch = s.watch(ps, &reads, &silent, watchdog)
			}
		case *redis.Message:
			n, err := s.noticeOf(m, instance)
			if err != nil {
				// A notice lost all the same: say so, and go on.
				h.Lost(err)
				h.Listening()
				continue
			}
			h.Notice(n)
		}
		// A *redis.Pong, the watchdog's, only counts as a read.
	}
}

// pingInterval is how long a listener's connection may stay silent
// before the watchdog pings it, and how long the answer may take.
func (s *Store) pingInterval() time.Duration {
	if s.pingEvery > 0 {
		return s.pingEvery
	}
	if s.callTimeout > 0 {
		return s.callTimeout
	}
	return store.DefaultCallTimeout
}

// watch pings ps when nothing has been read for one interval and closes
// it, saying why in silent, when nothing has been read for the next one
// either. It returns what stops it and waits for it to stop.
func (s *Store) watch(ps *redis.PubSub, reads *atomic.Int64, silent *atomic.Pointer[error], done chan struct{}) func() {
	every := s.pingInterval()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		seen, pinged := reads.Load(), false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			n := reads.Load()
			switch {
			case n != seen:
				seen, pinged = n, false
			case pinged:
				err := fmt.Errorf("no answer to a ping in %v", every)
				silent.Store(&err)
				ps.Close()
				return
			default:
				pctx, cancel := context.WithTimeout(context.Background(), every)
				// An error here breaks the connection, which Receive
				// then reports, or go-redis replaces it, which the
				// confirmations of the new one reveal.
				_ = ps.Ping(pctx)
				cancel()
				pinged = true
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
