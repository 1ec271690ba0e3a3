package memstore

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func newSession(user, id string, at time.Time) store.Session {
	return store.Session{
		ID: id, UserID: user, TokenHash: sha256.Sum256([]byte(id)),
		CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour), IdleExpiresAt: at.Add(time.Hour),
	}
}

// pageIDs returns the ids a user's page index holds, oldest first.
func pageIDs(s *Store, user string) (all, unrevoked []string) {
	up := s.pages[user]
	if up == nil {
		return nil, nil
	}
	for _, p := range up.all {
		all = append(all, p.ID)
	}
	for _, p := range up.unrevoked {
		unrevoked = append(unrevoked, p.ID)
	}
	return all, unrevoked
}

// TestPageIndex checks that the index active pages walk holds a user's
// unrevoked sessions only, so that revoked ones cost a page nothing, and
// that every change of a session keeps both lists in order.
func TestPageIndex(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	s := New()
	defer s.Close()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	// Out of order, and two at one time.
	for _, c := range []struct {
		id string
		at time.Time
	}{{"c", t0.Add(2 * time.Second)}, {"a", t0}, {"e", t0.Add(3 * time.Second)}, {"b2", t0.Add(time.Second)}, {"b1", t0.Add(time.Second)}} {
		is.NoErr(s.Create(ctx, newSession("alice", c.id, c.at)))
	}
	all, unrevoked := pageIDs(s, "alice")
	is.Equal(all, []string{"a", "b1", "b2", "c", "e"})
	is.Equal(unrevoked, all)

	_, err := s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: "b2"}, t0, "one")
	is.NoErr(err)
	_, unrevoked = pageIDs(s, "alice")
	is.Equal(unrevoked, []string{"a", "b1", "c", "e"})
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: "c"}, t0, "others")
	is.NoErr(err)
	all, unrevoked = pageIDs(s, "alice")
	is.Equal(unrevoked, []string{"c"})
	is.Equal(len(all), 5) // revoked sessions stay listed in the audit trail

	u := store.Update{UserID: "bob", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(time.Hour)}
	is.NoErr(s.Update(ctx, "c", u, t0))
	all, unrevoked = pageIDs(s, "alice")
	is.Equal(all, []string{"a", "b1", "b2", "e"})
	is.Equal(len(unrevoked), 0)
	all, unrevoked = pageIDs(s, "bob")
	is.Equal(all, []string{"c"})
	is.Equal(unrevoked, []string{"c"})

	n, err := s.DeleteBefore(ctx, t0.Add(2*time.Hour))
	is.NoErr(err)
	is.Equal(n, 5)
	is.Equal(len(s.pages), 0) // no user is left with an empty index
}

// TestPageIndexCleanupInOnePass checks that a cleanup deleting many of a
// user's sessions leaves the index right, the kept ones in order.
func TestPageIndexCleanupInOnePass(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	s := New()
	defer s.Close()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	var kept []string
	for i := range 1000 {
		sess := newSession("alice", string(rune(0x4e00+i)), t0.Add(time.Duration(i)*time.Second))
		if i%10 == 0 {
			sess.ExpiresAt, sess.IdleExpiresAt = t0.Add(48*time.Hour), t0.Add(48*time.Hour)
			kept = append(kept, sess.ID)
		}
		is.NoErr(s.Create(ctx, sess))
	}
	n, err := s.DeleteBefore(ctx, t0.Add(24*time.Hour))
	is.NoErr(err)
	is.Equal(n, 900)
	all, unrevoked := pageIDs(s, "alice")
	is.Equal(all, kept)
	is.Equal(unrevoked, kept)
	is.True(slices.IsSorted(kept))
}
