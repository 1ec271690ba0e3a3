package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.Invalidator = (*Store)(nil)

// invalidations is the store's side of store.Invalidator: the listeners
// and the leases, guarded by the store's lock, so that a notice is queued
// in the same step as the write it reports.
type invalidations struct {
	listeners map[*noticeQueue]struct{}
	leases    map[string]time.Time // instance -> end of its lease (monotonic)
}

// noticeQueue holds the notices of one listener until its goroutine hands
// them over: writers never wait for a slow listener.
type noticeQueue struct {
	instance string
	mu       sync.Mutex
	notices  []store.Notice
	ready    chan struct{} // signalled when notices grows
}

func (q *noticeQueue) push(n store.Notice) {
	q.mu.Lock()
	q.notices = append(q.notices, n)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *noticeQueue) take() []store.Notice {
	q.mu.Lock()
	defer q.mu.Unlock()
	ns := q.notices
	q.notices = nil
	return ns
}

// publishLocked queues n for every listener, or for instance to's only when
// to is set.
func (s *Store) publishLocked(to string, n store.Notice) {
	for q := range s.inv.listeners {
		if to == "" || q.instance == to {
			q.push(n)
		}
	}
}

// invalidateLocked announces that the sessions ids were ended or changed.
func (s *Store) invalidateLocked(ids ...string) {
	for _, id := range ids {
		s.publishLocked("", store.Notice{Kind: store.NoticeInvalidated, SessionID: id})
	}
}

// Listen implements store.Invalidator. An in-memory subscription never
// breaks: h.Listening is called once.
func (s *Store) Listen(ctx context.Context, instance string, h store.NoticeHandler) error {
	if err := store.CheckInstanceName("instance", instance); err != nil {
		return err
	}
	q := &noticeQueue{instance: instance, ready: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	if s.inv.listeners == nil {
		s.inv.listeners = make(map[*noticeQueue]struct{})
	}
	s.inv.listeners[q] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inv.listeners, q)
		s.mu.Unlock()
	}()
	h.Listening()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.ready:
			for _, n := range q.take() {
				h.Notice(n)
			}
		}
	}
}

// RenewLease implements store.Invalidator.
func (s *Store) RenewLease(_ context.Context, instance string, d time.Duration) error {
	if err := store.CheckInstanceName("instance", instance); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if s.inv.leases == nil {
		s.inv.leases = make(map[string]time.Time)
	}
	if until := time.Now().Add(d); until.After(s.inv.leases[instance]) {
		s.inv.leases[instance] = until
	}
	return nil
}

// DropLease implements store.Invalidator.
func (s *Store) DropLease(_ context.Context, instance string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.inv.leases, instance)
	return nil
}

// Barrier implements store.Invalidator.
func (s *Store) Barrier(_ context.Context, from, id string) ([]store.Lease, error) {
	if err := checkNotice(from, id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	s.publishLocked("", store.Notice{Kind: store.NoticeBarrier, From: from, ID: id})
	now := time.Now()
	var live []store.Lease
	for instance, until := range s.inv.leases {
		if left := until.Sub(now); left > 0 {
			live = append(live, store.Lease{Instance: instance, Left: left})
		} else {
			delete(s.inv.leases, instance)
		}
	}
	return live, nil
}

// Send implements store.Invalidator.
func (s *Store) Send(_ context.Context, to string, n store.Notice) error {
	if err := store.CheckInstanceName("instance", to); err != nil {
		return err
	}
	if err := checkNotice(n.From, n.ID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.publishLocked(to, store.Notice{Kind: store.NoticeSent, From: n.From, ID: n.ID})
	return nil
}

func checkNotice(from, id string) error {
	if err := store.CheckInstanceName("instance", from); err != nil {
		return err
	}
	return store.CheckInstanceName("notice id", id)
}
