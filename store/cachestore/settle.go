package cachestore

import (
	"context"
	"sync"
	"time"

	"github.com/revokehq/revoke/store"
)

// barrierWait collects the acknowledgements of one barrier, or the arrival
// of one heartbeat.
type barrierWait struct {
	mu    sync.Mutex
	from  map[string]bool // instances that acknowledged
	acked chan struct{}   // signalled on each acknowledgement
}

func (s *Store) expect(id string) *barrierWait {
	w := &barrierWait{from: make(map[string]bool), acked: make(chan struct{}, 1)}
	s.waits.Lock()
	s.waiting[id] = w
	s.waits.Unlock()
	return w
}

func (s *Store) forget(id string) {
	s.waits.Lock()
	delete(s.waiting, id)
	s.waits.Unlock()
}

// arrived records that from acknowledged id.
func (s *Store) arrived(from, id string) {
	s.waits.Lock()
	w := s.waiting[id]
	s.waits.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.from[from] = true
	w.mu.Unlock()
	select {
	case w.acked <- struct{}{}:
	default:
	}
}

func (w *barrierWait) has(instance string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.from[instance]
}

// settle is called after a write that ended or changed the sessions ids
// has returned: it evicts them here and returns once no instance can
// serve them from its cache (see the package documentation). It does not
// give up when ctx ends, which would report a revocation that happened as
// failed; it is bounded by the lease.
func (s *Store) settle(ids ...string) {
	if len(ids) > 0 {
		s.settleAll(ids...)
	}
}

// settleAll evicts ids here and returns once every instance holding a
// lease, this one included, has processed every invalidation published
// before it began, or has had its lease lapse: also those of writes that
// no call of this instance settled.
func (s *Store) settleAll(ids ...string) {
	s.evict(ids...)
	began := time.Now()
	id := store.NewID()
	w := s.expect(id)
	defer s.forget(id)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.lease)
	leases, err := s.b.Barrier(ctx, s.instance, id)
	cancel()
	asked := time.Now()
	if err != nil {
		// Nobody can be asked; whoever holds a lease loses it by then.
		s.stats.settledByLapse.Add(1)
		time.Sleep(time.Until(began.Add(s.cfg.lease + s.cfg.lease/10)))
		return
	}
	// This instance is waited for as the others are: the barrier arriving
	// on its own subscription proves that it has processed what came
	// before, such as the invalidation of an earlier write whose call
	// failed after the store made it, which nothing evicted here.
	for _, l := range leases {
		deadline := asked.Add(l.Left + s.cfg.lease/10)
		for !w.has(l.Instance) {
			left := time.Until(deadline)
			if left <= 0 {
				s.stats.settledByLapse.Add(1)
				break
			}
			t := time.NewTimer(left)
			select {
			case <-w.acked:
			case <-t.C:
			}
			t.Stop()
		}
	}
	s.stats.settled.Add(1)
}
