package revoke

import (
	"context"
	"errors"
	"time"

	"github.com/revokehq/revoke/internal/otelstore"
	"github.com/revokehq/revoke/store"
)

// OutboxFunc returns the outbox messages that report a revocation of the
// user's sessions for c at at (see WithOutbox). The store fills in each
// message's SessionIDs with the sessions the revocation ended, for only
// it knows them.
type OutboxFunc func(userID string, c Cause, at time.Time) []store.OutboxMessage

// WithOutbox makes every revocation the Manager makes record the messages
// f returns in the store's outbox, in the same atomic write as the
// revocation (store.RecordingStore), whenever it ends at least one
// session: RevokeSession, RevokeOthers, RevokeAll,
// RevokeAuthenticatedBefore, PasswordChanged, RevokeProviderSession, a
// Login ending the session it replaces, the sessions WithMaxSessions
// evicts, and RevokeSelection (scsstore's Destroy and RenewToken). A
// crash can then lose neither half: the sessions are revoked and their
// messages wait in the outbox, or neither happened. Several WithOutbox
// record all their messages. The store must implement
// store.RecordingStore. caep.Sender.Option is one.
func WithOutbox(f OutboxFunc) Option {
	return func(m *Manager) error {
		if f == nil {
			return errors.New("revoke: nil outbox func")
		}
		if _, err := store.Recording(m.store); err != nil {
			return errors.New("revoke: WithOutbox needs a store that implements store.RecordingStore")
		}
		m.outbox = append(m.outbox, f)
		return nil
	}
}

// outboxMessages returns the messages of every WithOutbox for a revocation
// of the user's sessions, or nil.
func (m *Manager) outboxMessages(userID string, c Cause, at time.Time) []store.OutboxMessage {
	var msgs []store.OutboxMessage
	for _, f := range m.outbox {
		msgs = append(msgs, f(userID, c, at)...)
	}
	return msgs
}

// storeRevoke is the store's Revoke of sel, recording the outbox messages
// when there are any.
func (m *Manager) storeRevoke(ctx context.Context, sel store.Selection, c Cause, at time.Time) ([]string, error) {
	msgs := m.outboxMessages(sel.UserID, c, at)
	if len(msgs) == 0 || sel.UserID == "" {
		return m.calls.Revoke(ctx, sel, at, c.Reason)
	}
	var ids []string
	err := m.calls.Do(ctx, otelstore.OpRevoke, sel.SessionID, func(ctx context.Context) (err error) {
		ids, err = store.RevokeRecorded(ctx, m.store, sel, at, c.Reason, msgs)
		return err
	})
	return ids, err
}

// createLimited is the store's CreateLimited of s, recording the outbox
// messages for the sessions it evicts when there are any.
func (m *Manager) createLimited(ctx context.Context, s Session) ([]string, error) {
	var evicted []string
	err := m.calls.Do(ctx, otelstore.OpCreate, s.ID, func(ctx context.Context) (err error) {
		msgs := m.outboxMessages(s.UserID, Cause{Actor: ActorSystem, Reason: ReasonSessionLimit}, s.CreatedAt)
		if len(msgs) == 0 {
			evicted, err = store.CreateLimited(ctx, m.store, s, *m.limit, s.CreatedAt)
		} else {
			evicted, err = store.CreateLimitedRecorded(ctx, m.store, s, *m.limit, s.CreatedAt, msgs)
		}
		return err
	})
	return evicted, err
}

// RevokeSelection revokes the sessions sel picks at at for c, as the
// store's Revoke does (the same answers and errors), recording the
// messages of WithOutbox in the same write. It reports nothing to the
// OnRevoke hooks: the caller does, with Report. It is for code that ends
// sessions in the store on its own terms, as scsstore does for scs's
// Destroy and RenewToken; an app revokes with the Manager's other methods.
func (m *Manager) RevokeSelection(ctx context.Context, sel store.Selection, at time.Time, c Cause) ([]string, error) {
	return m.storeRevoke(ctx, sel, c, at)
}
