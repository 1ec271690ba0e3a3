// Package cachestore resolves tokens from memory in front of a shared store
// (PostgreSQL, Redis) while keeping revoke's promise: once a revocation has
// returned, no instance accepts the revoked token.
//
//	shared, err := pgstore.Open(ctx, "postgres://...")
//	if err != nil { ... }
//	st, err := cachestore.New(shared)
//	if err != nil { ... }
//	defer st.Close()
//	m, err := revoke.New(st, ...)
//
// Run it in every instance that writes to the store. The store must
// implement store.Invalidator (store/pgstore, store/redisstore and
// store/memstore do), with which every write that ends or changes a
// session announces the session's id in the same atomic step.
//
// # How a revocation stays strict
//
//   - Each instance listens to the store's invalidations and evicts what
//     they name. A fill that started before an invalidation (or before a
//     break of the subscription) never enters the cache, so a slow read
//     cannot put back what was just evicted.
//   - Each instance holds a lease (WithLease, 2 s by default). It renews
//     it in the store and then sends itself a notice through the store; only
//     when that notice arrives, which proves that its subscription delivers
//     everything published before, does it serve from its cache until the
//     renewal's start plus the lease less a tenth. When its subscription
//     breaks, it stops serving from the cache at once and flushes it; when
//     its own notice does not come back, it reconnects. Until then every
//     lookup goes to the store.
//   - A revoking call (Revoke and RevokeRecorded, ReplaceToken, Update,
//     CreateLimited and CreateLimitedRecorded that evict, Reauthenticate)
//     writes through to the store, evicts locally, publishes a barrier and
//     waits, for each instance the barrier found holding a live lease, itself
//     included, until that instance acknowledges the barrier (it has
//     processed every invalidation before it; for itself, the barrier has
//     arrived on its own subscription) or its lease has lapsed, plus a tenth
//     of the lease. A cut-off or frozen instance thus delays a revocation by
//     at most about one lease, and never accepts the token late. When even
//     the barrier fails, the call waits the whole lease and a tenth instead.
//     Revoke and RevokeRecorded wait so even when they find nothing left to
//     revoke: a call that failed may have been made in the store all the same
//     (its reply lost, its deadline passed after the store committed), and
//     the call that tries again and succeeds must not return before that
//     write has reached every cache.
//
// # Clocks
//
// No absolute time is compared across machines. A lease's length is set
// and read on the store's clock (RenewLease, Barrier) and measured by each
// instance on its own monotonic clock, from before the renewal was sent
// (so the instance's deadline falls before the store's) and by the revoker
// from after the barrier answered (so the revoker waits at least as long as
// the store says). The tenths on both sides absorb a difference of up to
// 10% between the rates of the two clocks; NTP keeps it under 0.05%. Every
// instance must use the same lease. A step of the wall clock changes
// nothing: only monotonic readings are compared. What the cache assumes is
// that a process that does not run (SIGSTOP, a long pause) does not
// resolve from its cache either when it wakes: its deadline has passed by
// then, and it resolves from the store until its next renewal's notice
// has arrived, after every invalidation it missed. Go's monotonic clock
// runs on while a process is stopped; it does not while a whole machine
// is suspended (a paused virtual machine), which the cache does not
// survive: such a machine may wake believing it still holds a lease the
// store has let lapse.
//
// Leases must outlive a restart of the store as sessions do: PostgreSQL
// keeps them in a table; Redis keeps them only as durably as its AOF does,
// so run it with appendfsync always (with everysec, a crash may lose the
// last second of renewals and shorten a revocation's wait for an instance
// that has not yet noticed the restart).
//
// # What is cached
//
// Only token lookups (GetByTokenHash) of active sessions; everything else
// goes to the store. A cached session is served while it is active by this
// machine's clock and for at most WithMaxAge (1 minute by default); a session
// that looks idle-expired goes to the store, which another instance's
// touch may have moved on. Touch and RecordDevice update the cached copy.
package cachestore
