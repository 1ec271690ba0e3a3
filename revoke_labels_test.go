package revoke_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
)

// TestRevocationEventsCarryLabels: the audit hook hears which labelled
// sign-ins a revocation ended.
func TestRevocationEventsCarryLabels(t *testing.T) {
	is := is.New(t)
	var events []revoke.Event
	m, _ := newManager(t, revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { events = append(events, ev) }))
	laptop, _, err := m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice",
		revoke.Label("device_name", "Work laptop"), revoke.Label("tenant", "acme"))
	is.NoErr(err)
	plain, _, err := m.Create(context.Background(), "alice", revoke.Device{})
	is.NoErr(err)

	n, err := m.RevokeAll(context.Background(), "alice", revoke.Cause{Actor: revoke.AdminActor("root"), Reason: "offboarded"})
	is.NoErr(err)
	is.Equal(n, 2)
	is.Equal(len(events), 1)
	is.Equal(events[0].Labels, map[string]map[string]string{
		laptop.ID: {"device_name": "Work laptop", "tenant": "acme"},
	}) // the unlabelled session is simply not in the map
	_, listed := events[0].Labels[plain.ID]
	is.True(!listed)
}
