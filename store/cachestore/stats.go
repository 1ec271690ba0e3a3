package cachestore

import (
	"sync/atomic"
	"time"
)

// counters are the Store's running totals, read by Stats.
type counters struct {
	hits, misses, invalidations, breaks, heartbeatsLate atomic.Uint64
	settled, settledByLapse                             atomic.Uint64
}

// Stats is what a Store has done since New: how often the cache answered,
// and what its subscription and lease went through.
type Stats struct {
	Hits, Misses  uint64 // token lookups answered from memory, and from the store
	Invalidations uint64 // invalidations received
	// Breaks counts the times the subscription broke or was replaced;
	// LateHeartbeats those replaced because the instance's own notice did
	// not come back in time.
	Breaks, LateHeartbeats uint64
	// Settled counts the writes that waited for the instances holding a
	// lease, this one included; SettledByLapse the instances (or, when the
	// barrier failed, the writes) that were waited out to the end of their
	// lease instead of answering.
	Settled, SettledByLapse uint64
	// Serving reports whether the cache answers now, and ServingFor how
	// much longer it will without a renewal.
	Serving    bool
	ServingFor time.Duration
	Cached     int // sessions in the cache
}

// Stats returns the Store's totals and state.
func (s *Store) Stats() Stats {
	left := time.Duration(s.servingUntil.Load() - s.mono(time.Now()))
	s.mu.RLock()
	n := len(s.byHash)
	s.mu.RUnlock()
	return Stats{
		Hits: s.stats.hits.Load(), Misses: s.stats.misses.Load(),
		Invalidations: s.stats.invalidations.Load(),
		Breaks:        s.stats.breaks.Load(), LateHeartbeats: s.stats.heartbeatsLate.Load(),
		Settled: s.stats.settled.Load(), SettledByLapse: s.stats.settledByLapse.Load(),
		Serving: left > 0, ServingFor: max(left, 0), Cached: n,
	}
}
