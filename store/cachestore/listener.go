package cachestore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/revokehq/revoke/store"
)

// heartbeatPrefix marks the notices an instance sends itself.
const heartbeatPrefix = "hb-"

// run listens to the store and keeps the lease until ctx ends. When the
// instance's own notice does not come back in time, the subscription is
// taken for dead (a connection can hang without failing) and opened again.
func (s *Store) run(ctx context.Context) {
	for ctx.Err() == nil {
		lctx, cancel := context.WithCancel(ctx)
		listened := make(chan struct{})
		go func() {
			defer close(listened)
			err := s.b.Listen(lctx, s.instance, handler{s})
			if lctx.Err() == nil {
				s.logger.Warn("cachestore: listening stopped", "instance", s.instance, "err", err)
			}
		}()
		s.keepLease(lctx, listened)
		cancel()
		<-listened
		s.notServing(errors.New("cachestore: resubscribing"))
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(s.cfg.lease / 20):
			}
		}
	}
}

// keepLease renews the lease every quarter of it while the subscription
// listens, and returns when a renewal's notice does not come back within
// half the lease, when listening has stopped or when ctx ends.
func (s *Store) keepLease(ctx context.Context, listened <-chan struct{}) {
	every := s.cfg.lease / 4
	for {
		if s.isListening() {
			if !s.renew(ctx) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-listened:
			return
		case <-s.subscribed:
		case <-time.After(every):
		}
	}
}

// renew renews the lease, sends the instance its own notice and, when it
// arrives on the same subscription, serves from the cache until the
// renewal's start plus nine tenths of the lease. It reports false when the
// notice did not come back, and true otherwise, a failed renewal
// included: the store is down, not the subscription.
func (s *Store) renew(ctx context.Context) bool {
	s.state.Lock()
	epoch := s.epoch
	s.state.Unlock()
	began := s.mono(time.Now())
	if err := s.b.RenewLease(ctx, s.instance, s.cfg.lease); err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("cachestore: renewing the lease failed", "instance", s.instance, "err", err)
		}
		return true
	}
	id := heartbeatPrefix + store.NewID()
	w := s.expect(id)
	defer s.forget(id)
	if err := s.b.Send(ctx, s.instance, store.Notice{Kind: store.NoticeSent, From: s.instance, ID: id}); err != nil {
		return true
	}
	select {
	case <-w.acked:
	case <-ctx.Done():
		return true
	case <-time.After(s.cfg.lease / 2):
		s.stats.heartbeatsLate.Add(1)
		s.logger.Warn("cachestore: the subscription did not deliver the instance's own notice; resubscribing", "instance", s.instance)
		return false
	}
	s.state.Lock()
	defer s.state.Unlock()
	if s.epoch == epoch && s.listening {
		until := began + int64(s.cfg.lease-s.cfg.lease/10)
		if until > s.servingUntil.Load() {
			s.servingUntil.Store(until)
		}
	}
	return true
}

func (s *Store) isListening() bool {
	s.state.Lock()
	defer s.state.Unlock()
	return s.listening
}

// notServing stops the cache from answering and empties it: the
// subscription broke (err) or is being replaced, so invalidations may have
// been lost.
func (s *Store) notServing(err error) {
	s.state.Lock()
	s.epoch++
	s.listening = false
	s.servingUntil.Store(0)
	s.state.Unlock()
	s.flush()
	if err != nil {
		s.stats.breaks.Add(1)
	}
}

// handler is the Store's store.NoticeHandler.
type handler struct{ s *Store }

func (h handler) Listening() {
	s := h.s
	s.flush()
	s.state.Lock()
	s.listening = true
	s.state.Unlock()
	select {
	case s.subscribed <- struct{}{}:
	default:
	}
}

func (h handler) Lost(err error) {
	h.s.logger.Warn("cachestore: subscription lost; resolving from the store", "instance", h.s.instance, "err", err)
	h.s.notServing(err)
}

func (h handler) Notice(n store.Notice) {
	s := h.s
	switch n.Kind {
	case store.NoticeInvalidated:
		s.stats.invalidations.Add(1)
		s.evict(n.SessionID)
	case store.NoticeBarrier:
		if n.From == s.instance {
			s.arrived(s.instance, n.ID) // see settleAll
		} else {
			s.acknowledge(n.From, n.ID)
		}
	case store.NoticeSent:
		if n.From == s.instance && !strings.HasPrefix(n.ID, heartbeatPrefix) {
			return // not ours to take
		}
		s.arrived(n.From, n.ID)
	}
}

// acknowledge tells from that this instance has processed everything
// before its barrier id, without holding up the next notice. When too many
// acknowledgements are in flight it drops this one: from then waits for
// the lease instead.
func (s *Store) acknowledge(from, id string) {
	select {
	case s.acks <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-s.acks }()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.lease)
		defer cancel()
		if err := s.b.Send(ctx, from, store.Notice{Kind: store.NoticeSent, From: s.instance, ID: id}); err != nil {
			s.logger.Debug("cachestore: acknowledging a barrier failed", "to", from, "err", err)
		}
	}()
}
