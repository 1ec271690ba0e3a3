package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func testCreateAndGet(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	// Every field set, times in a non-UTC zone with microsecond parts.
	want := NewSession("alice", base)
	want.LastSeenAt = base.Add(3 * time.Second)
	want.IdleExpiresAt = base.Add(30*time.Minute + 7*time.Microsecond)
	want.ExpiresAt = base.Add(12*time.Hour + 11*time.Microsecond)
	want.IP = "2001:db8::1"
	want.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) \u00e9\u00e8"
	// Bytes that are not text, NULs included, so nothing may treat it as a string.
	want.Data = []byte("\x00scs\xff\xfe\x00payload\x80")
	is.NoErr(s.Create(ctx, want))

	got, err := s.Get(ctx, want.ID)
	is.NoErr(err)
	is.Equal(diff(got, want), "") // Get returns every field as created
	is.True(!got.Revoked())       // a new session is not revoked

	got, err = s.GetByTokenHash(ctx, want.TokenHash)
	is.NoErr(err)
	is.Equal(diff(got, want), "") // GetByTokenHash returns every field as created

	// A session created revoked (an import, say) keeps its revocation.
	revoked := NewSession("alice", base.Add(time.Minute))
	revoked.RevokedAt = base.Add(2 * time.Minute)
	revoked.RevokeReason = "imported as revoked"
	revoked.IP, revoked.UserAgent = "", ""
	is.NoErr(s.Create(ctx, revoked))
	got, err = s.Get(ctx, revoked.ID)
	is.NoErr(err)
	is.Equal(diff(got, revoked), "") // revoked session round-trips, empty strings too
	is.True(got.Revoked())
	is.Equal(len(got.Data), 0) // no data stays no data

	// Empty, not nil, data is no data as well.
	empty := NewSession("alice", base.Add(3*time.Minute))
	empty.Data = []byte{}
	is.NoErr(s.Create(ctx, empty))
	got, err = s.GetByTokenHash(ctx, empty.TokenHash)
	is.NoErr(err)
	is.Equal(diff(got, empty), "")
	is.Equal(len(got.Data), 0)

	list, err := s.List(ctx, "alice")
	is.NoErr(err)
	is.Equal(len(list), 3)
	for _, l := range list {
		switch l.ID {
		case want.ID:
			is.Equal(diff(l, want), "") // List returns the data too
		case revoked.ID:
			is.Equal(diff(l, revoked), "")
		case empty.ID:
			is.Equal(diff(l, empty), "")
		default:
			t.Fatalf("List returned unknown session %s", l.ID)
		}
	}
}

// testCreateCopiesData checks that the store shares no byte slice, the
// session's data, with its callers. (The token hash is an array, which is
// copied with the session.)
func testCreateCopiesData(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	sess := NewSession("alice", base)
	sess.Data = []byte("payload")
	is.NoErr(s.Create(ctx, sess))
	sess.Data[0] ^= 0xff                                 // the caller reuses its buffers
	is.Equal(string(get(t, s, sess.ID).Data), "payload") // the store kept its own copy of the data

	got, err := s.GetByTokenHash(ctx, sess.TokenHash)
	is.NoErr(err)
	is.Equal(got.TokenHash, sess.TokenHash) // the stored hash is the one passed in

	got.Data[0] ^= 0xff // the caller scribbles on what it got back
	again := get(t, s, sess.ID)
	is.Equal(string(again.Data), "payload") // GetByTokenHash handed out a copy
	again.Data[0] ^= 0xff
	again, err = s.GetByTokenHash(ctx, sess.TokenHash)
	is.NoErr(err)
	is.Equal(string(again.Data), "payload") // and so did Get
}

func testCreateDuplicateID(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	first := create(t, s, "alice", base)
	dup := NewSession("bob", base.Add(time.Minute))
	dup.ID = first.ID
	err := s.Create(ctx, dup)
	is.True(errors.Is(err, store.ErrDuplicate)) // same id

	got := get(t, s, first.ID)
	is.Equal(diff(got, first), "") // the first session is unchanged
	_, err = s.GetByTokenHash(ctx, dup.TokenHash)
	is.True(errors.Is(err, store.ErrNotFound)) // the rejected session left no trace
	list, err := s.List(ctx, "bob")
	is.NoErr(err)
	is.Equal(len(list), 0) // the rejected session left no trace
}

func testCreateDuplicateTokenHash(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	first := create(t, s, "alice", base)
	dup := NewSession("bob", base.Add(time.Minute))
	dup.TokenHash = first.TokenHash
	err := s.Create(ctx, dup)
	is.True(errors.Is(err, store.ErrDuplicate)) // same token hash

	_, err = s.Get(ctx, dup.ID)
	is.True(errors.Is(err, store.ErrNotFound)) // the rejected session was not stored
	got, err := s.GetByTokenHash(ctx, first.TokenHash)
	is.NoErr(err)
	is.Equal(diff(got, first), "") // the hash still leads to the first session
}

func testNotFound(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	create(t, s, "alice", base)
	_, err := s.Get(ctx, "no-such-session")
	is.True(errors.Is(err, store.ErrNotFound)) // unknown id
	_, err = s.Get(ctx, "")
	is.True(errors.Is(err, store.ErrNotFound)) // empty id
	_, err = s.GetByTokenHash(ctx, NewTokenHash())
	is.True(errors.Is(err, store.ErrNotFound)) // unknown hash
	_, err = s.GetByTokenHash(ctx, [32]byte{})
	is.True(errors.Is(err, store.ErrNotFound)) // zero hash
}

func testList(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ctx := t.Context()

	// Created out of order, so that insertion order is not the answer.
	middle := create(t, s, "alice", base.Add(time.Minute))
	oldest := create(t, s, "alice", base, func(x *store.Session) {
		// Long expired by the time of any later call.
		x.ExpiresAt = base.Add(time.Second)
		x.IdleExpiresAt = base.Add(time.Second)
	})
	newest := create(t, s, "alice", base.Add(2*time.Minute))
	bobs := create(t, s, "bob", base.Add(3*time.Minute))

	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: middle.ID}, base.Add(4*time.Minute), "test")
	is.NoErr(err)
	is.Equal(ids, []string{middle.ID})
	middle.RevokedAt, middle.RevokeReason = base.Add(4*time.Minute), "test"

	list, err := s.List(ctx, "alice")
	is.NoErr(err)
	is.Equal(len(list), 3) // active, revoked and expired sessions alike
	want := []store.Session{newest, middle, oldest}
	for i := range want {
		is.Equal(diff(list[i], want[i]), "") // newest first, every field as stored
	}

	list, err = s.List(ctx, "bob")
	is.NoErr(err)
	is.Equal(len(list), 1) // only bob's own session
	is.Equal(diff(list[0], bobs), "")

	list, err = s.List(ctx, "nobody")
	is.NoErr(err)          // an unknown user is no error
	is.Equal(len(list), 0) // and has no sessions
}
