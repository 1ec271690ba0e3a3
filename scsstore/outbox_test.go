package scsstore_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store"
)

// TestScsLogoutsAreRecordedInTheOutbox: scs's Destroy and RenewToken of a
// user's session record the Manager's outbox messages (revoke.WithOutbox)
// in the revocation's own write, like the Manager's own revocations.
func TestScsLogoutsAreRecordedInTheOutbox(t *testing.T) {
	is := is.New(t)
	f := newApp(t, false, nil)
	_, err := revoke.New(f.st, append(scsstore.ManagerOptions(f.sm), revoke.WithOutbox(func(user string, c revoke.Cause, at time.Time) []store.OutboxMessage {
		return []store.OutboxMessage{{ID: store.NewID(), Destination: "peer", Payload: []byte(user + "|" + c.Reason), CreatedAt: at, NextAttempt: at}}
	}))...)
	is.NoErr(err)
	b := f.browser(t)
	_, _ = b.do("POST", "/login?user=alice") // RenewToken of an anonymous session: no one's, nothing to report
	_, _ = b.do("POST", "/renew")
	_, _ = b.do("POST", "/logout")

	far := time.Now().Add(100 * 365 * 24 * time.Hour)
	msgs, err := f.st.LeaseOutbox(t.Context(), far, far, 10)
	is.NoErr(err)
	is.Equal(len(msgs), 2) // the renewal and the logout
	for _, m := range msgs {
		is.Equal(string(m.Payload), "alice|"+scsstore.ReasonDestroyed)
		is.Equal(len(m.SessionIDs), 1)
	}
	is.True(msgs[0].SessionIDs[0] != msgs[1].SessionIDs[0]) // one session each
}
