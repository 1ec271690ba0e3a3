package revoke

import (
	"errors"
	"fmt"

	"github.com/revokehq/revoke/store"
)

// ErrSessionLimit is returned by Create and Login under RefuseNewLogin when
// the user already has as many active sessions as WithMaxSessions allows.
// It is the same value as store.ErrSessionLimit.
var ErrSessionLimit = store.ErrSessionLimit

// ReasonSessionLimit is recorded for a session revoked to make room for a
// new sign-in under EvictLeastRecentlySeen; the OnRevoke hooks hear of it
// with the actor ActorSystem.
const ReasonSessionLimit = "session_limit"

// SessionLimitPolicy says what a sign-in beyond WithMaxSessions does.
type SessionLimitPolicy int

// The policies of WithMaxSessions.
const (
	// EvictLeastRecentlySeen revokes the user's sessions seen least
	// recently, to make room for the new one.
	EvictLeastRecentlySeen SessionLimitPolicy = iota + 1
	// RefuseNewLogin refuses the sign-in with ErrSessionLimit.
	RefuseNewLogin
)

// WithMaxSessions caps the active sessions of each user at n. A sign-in
// (Create, Login) beyond it either revokes the sessions seen least recently
// or is refused, as policy says. The count and the sign-in are one atomic
// step in the store, also across processes sharing it, so concurrent
// sign-ins never leave more than n. The store must implement
// store.LimitedStore (memstore, sqlitestore, pgstore and redisstore do).
func WithMaxSessions(n int, policy SessionLimitPolicy) Option {
	return func(m *Manager) error {
		l := store.Limit{Max: n, Reason: ReasonSessionLimit}
		switch policy {
		case EvictLeastRecentlySeen:
			l.Policy = store.EvictLeastRecentlySeen
		case RefuseNewLogin:
			l.Policy = store.RefuseNew
		default:
			return fmt.Errorf("revoke: WithMaxSessions: unknown policy %d", policy)
		}
		if err := l.Check(); err != nil {
			return fmt.Errorf("revoke: WithMaxSessions: %w", err)
		}
		if _, ok := m.store.(store.LimitedStore); !ok {
			return errors.New("revoke: WithMaxSessions needs a store that implements store.LimitedStore")
		}
		m.limit = &l
		return nil
	}
}
