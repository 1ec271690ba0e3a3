package storetest

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// testRecordDevice: a session created without a device gets the first one
// recorded, and keeps it; one created with a device keeps its own.
func testRecordDevice(t *testing.T, s store.SessionStore) {
	rec, ok := s.(store.DeviceRecorder)
	if !ok {
		t.Skip("the store does not implement store.DeviceRecorder")
	}
	is := is.New(t)
	ctx := t.Context()
	bare := create(t, s, "dora", base, func(s *store.Session) { s.IP, s.UserAgent = "", "" })
	is.NoErr(rec.RecordDevice(ctx, bare.ID, "198.51.100.7", "Firefox"))
	got := get(t, s, bare.ID)
	is.Equal(got.IP, "198.51.100.7")
	is.Equal(got.UserAgent, "Firefox")
	is.NoErr(rec.RecordDevice(ctx, bare.ID, "203.0.113.9", "Chrome"))
	got = get(t, s, bare.ID)
	is.Equal(got.IP, "198.51.100.7") // the first device stays
	is.Equal(got.UserAgent, "Firefox")

	withDevice := create(t, s, "dora", base)
	is.NoErr(rec.RecordDevice(ctx, withDevice.ID, "203.0.113.9", "Chrome"))
	if d := diff(get(t, s, withDevice.ID), withDevice); d != "" {
		t.Fatalf("a session with a device changed: %s", d)
	}
	is.True(errors.Is(rec.RecordDevice(ctx, "no-such-session", "x", "y"), store.ErrNotFound))
}
