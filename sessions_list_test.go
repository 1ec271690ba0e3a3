package revoke_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

func TestSessionsListsActiveNewestFirst(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	clk := newClock()
	m, _ := newManager(t, revoke.WithClock(clk.Now), revoke.WithIdleTimeout(time.Hour))

	create := func(user string) revoke.Session {
		s, _, err := m.Create(ctx, user, revoke.Device{IP: "192.0.2.1"})
		is.NoErr(err)
		clk.Advance(time.Minute)
		return s
	}
	idle := create("alice") // left to expire
	clk.Advance(time.Hour)
	var want []revoke.Session
	for range 5 {
		want = append([]revoke.Session{create("alice")}, want...)
	}
	revoked := create("alice")
	create("bob")
	_, err := m.RevokeSession(ctx, "alice", revoked.ID, revoke.Cause{Actor: "test", Reason: "test"})
	is.NoErr(err)

	var got []revoke.Session
	var after store.Cursor
	pages := 0
	for {
		page, err := m.Sessions(ctx, "alice", 2, after)
		is.NoErr(err)
		is.True(len(page.Sessions) <= 2)
		got = append(got, page.Sessions...)
		pages++
		if page.Next.IsZero() {
			break
		}
		after = page.Next
	}
	is.Equal(pages, 3) // 2 + 2 + 1
	is.Equal(len(got), len(want))
	for i := range want {
		is.Equal(got[i].ID, want[i].ID) // active ones only, newest first
		is.True(got[i].Active(m.Now()))
	}
	for _, s := range got {
		is.True(s.ID != idle.ID && s.ID != revoked.ID)
	}
}

func TestSessionsPageLimits(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, _ := newManager(t)
	for range revoke.MaxPageLimit + 1 {
		_, _, err := m.Create(ctx, "alice", revoke.Device{})
		is.NoErr(err)
	}
	page, err := m.Sessions(ctx, "alice", 0, store.Cursor{})
	is.NoErr(err)
	is.Equal(len(page.Sessions), revoke.DefaultPageLimit) // the default
	is.True(!page.Next.IsZero())

	page, err = m.Sessions(ctx, "alice", revoke.MaxPageLimit+500, store.Cursor{})
	is.NoErr(err)
	is.Equal(len(page.Sessions), revoke.MaxPageLimit) // capped
	page, err = m.Sessions(ctx, "alice", revoke.MaxPageLimit, page.Next)
	is.NoErr(err)
	is.Equal(len(page.Sessions), 1) // the rest
	is.True(page.Next.IsZero())
}

func TestSessionsErrors(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, st := newManager(t)
	_, err := m.Sessions(ctx, "", 10, store.Cursor{})
	is.True(err != nil) // no user

	page, err := m.Sessions(ctx, "nobody", 10, store.Cursor{})
	is.NoErr(err) // an unknown user has no sessions
	is.Equal(len(page.Sessions), 0)

	is.NoErr(st.Close())
	_, err = m.Sessions(ctx, "alice", 10, store.Cursor{})
	is.True(errors.Is(err, store.ErrClosed)) // the store's error, wrapped
}

// Sessions pages through a user's active sessions, newest first.
func ExampleManager_Sessions() {
	m, err := revoke.New(memstore.New())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, agent := range []string{"laptop", "phone", "tablet"} {
		if _, _, err := m.Create(ctx, "alice", revoke.Device{UserAgent: agent}); err != nil {
			panic(err)
		}
	}
	var after store.Cursor
	for {
		page, err := m.Sessions(ctx, "alice", 2, after)
		if err != nil {
			panic(err)
		}
		fmt.Println("page of", len(page.Sessions))
		if page.Next.IsZero() {
			break
		}
		after = page.Next
	}
	// Output:
	// page of 2
	// page of 1
}
