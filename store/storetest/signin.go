package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// Sign-in details are optional. When the store under test implements
// store.SignInStore, Run checks them; the suite pins:
//
//   - Create keeps AuthMethods and Labels, and Get, GetByTokenHash, List,
//     ListPage and CreateLimited hand them back as given; the store keeps
//     no reference to the slice or map passed in.
//   - Create refuses sign-in details out of store.CheckSignIn's bounds and
//     stores nothing.
//   - Reauthenticate replaces the token hash, AuthenticatedAt and
//     AuthMethods in one step and changes nothing else; it returns
//     ErrNotFound, ErrInactive, ErrNotBefore and ErrDuplicate as documented,
//     changing nothing, and ErrClosed after Close.
//
// A store that does not implement it must refuse, with ErrUnsupported, a
// session that has either, rather than drop them.
func runSignInTests(t *testing.T, open func(*testing.T) store.SessionStore) {
	probe := open(t)
	_, signIn := probe.(store.SignInStore)
	if err := probe.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
	t.Run("SignInUnsupported", func(t *testing.T) {
		if signIn {
			t.Skip("the store implements store.SignInStore")
		}
		testSignInUnsupported(t, openStore(t, open))
	})
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, store.SignInStore)
	}{
		{"SignInRoundTrip", testSignInRoundTrip},
		{"SignInBounds", testSignInBounds},
		{"Reauthenticate", testReauthenticate},
		{"ReauthenticateRefused", testReauthenticateRefused},
		{"ReauthenticateNotBefore", testReauthenticateNotBefore},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !signIn {
				t.Skip("the store does not implement store.SignInStore")
			}
			tt.fn(t, openStore(t, open).(store.SignInStore))
		})
	}
}

// signedIn gives a session a password sign-in a second before base and two
// labels.
func signedIn(s *store.Session) {
	s.AuthMethods = []store.AuthMethod{{Method: "password", AAL: store.AAL1, CompletedAt: s.Authenticated()}}
	s.Labels = map[string]string{"tenant": "acme", "device": "Alice’s laptop"}
}

func testSignInUnsupported(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	for _, edit := range []func(*store.Session){
		signedIn,
		func(s *store.Session) { s.Labels = map[string]string{"tenant": "acme"} },
	} {
		sess := NewSession("alice", base)
		edit(&sess)
		err := s.Create(t.Context(), sess)
		is.True(errors.Is(err, store.ErrUnsupported))
		_, err = s.Get(t.Context(), sess.ID)
		is.True(errors.Is(err, store.ErrNotFound)) // nothing stored
		if ls, ok := s.(store.LimitedStore); ok {
			_, err := ls.CreateLimited(t.Context(), sess, evict3, base)
			is.True(errors.Is(err, store.ErrUnsupported))
		}
	}
}

func testSignInRoundTrip(t *testing.T, s store.SignInStore) {
	is := is.New(t)
	sess := NewSession("alice", base)
	signedIn(&sess)
	sess.AuthMethods = append(sess.AuthMethods, store.AuthMethod{Method: "totp", AAL: store.AAL2, CompletedAt: base})
	want := sess
	want.AuthMethods = append([]store.AuthMethod{}, sess.AuthMethods...)
	want.Labels = map[string]string{"tenant": "acme", "device": "Alice’s laptop"}
	is.NoErr(s.Create(t.Context(), sess))
	sess.AuthMethods[0].Method = "changed" // the store keeps no reference
	sess.Labels["tenant"] = "changed"

	if d := diff(get(t, s, want.ID), want); d != "" {
		t.Errorf("Get: %s", d)
	}
	got, err := s.GetByTokenHash(t.Context(), want.TokenHash)
	is.NoErr(err)
	if d := diff(got, want); d != "" {
		t.Errorf("GetByTokenHash: %s", d)
	}
	list, err := s.List(t.Context(), "alice")
	is.NoErr(err)
	is.Equal(len(list), 1)
	if d := diff(list[0], want); d != "" {
		t.Errorf("List: %s", d)
	}
	for _, all := range []bool{false, true} {
		p, err := s.ListPage(t.Context(), "alice", store.PageQuery{Limit: 10, Now: base, All: all})
		is.NoErr(err)
		is.Equal(len(p.Sessions), 1)
		if d := diff(p.Sessions[0], want); d != "" {
			t.Errorf("ListPage(All %v): %s", all, d)
		}
	}
	stored := get(t, s, want.ID)
	is.Equal(stored.Assurance(), store.AAL2)

	// A session without them reads back without them.
	plain := create(t, s, "alice", base)
	stored = get(t, s, plain.ID)
	is.Equal(len(stored.AuthMethods), 0)
	is.Equal(len(stored.Labels), 0)
	is.Equal(stored.Assurance(), store.AAL1)

	if ls, ok := s.(store.LimitedStore); ok {
		capped := NewSession("alice", base)
		signedIn(&capped)
		_, err := ls.CreateLimited(t.Context(), capped, evict3, base)
		is.NoErr(err)
		if d := diff(get(t, s, capped.ID), capped); d != "" {
			t.Errorf("CreateLimited: %s", d)
		}
	}
}

func testSignInBounds(t *testing.T, s store.SignInStore) {
	many := map[string]string{}
	for i := range store.MaxLabels + 1 {
		many[string(rune('a'+i))] = "x"
	}
	methods := func(m ...store.AuthMethod) func(*store.Session) {
		return func(s *store.Session) { s.AuthMethods = m }
	}
	labels := func(l map[string]string) func(*store.Session) {
		return func(s *store.Session) { s.Labels = l }
	}
	password := store.AuthMethod{Method: "password", AAL: store.AAL1, CompletedAt: base}
	for name, edit := range map[string]func(*store.Session){
		"too many methods": methods(password, password, password, password, password, password, password, password, password),
		"no method name":   methods(store.AuthMethod{AAL: store.AAL1, CompletedAt: base}),
		"bad method name":  methods(store.AuthMethod{Method: "Pass word", AAL: store.AAL1, CompletedAt: base}),
		"long method name": methods(store.AuthMethod{Method: strings.Repeat("a", 33), AAL: store.AAL1, CompletedAt: base}),
		"bad level":        methods(store.AuthMethod{Method: "password", AAL: "aal9", CompletedAt: base}),
		"no completion":    methods(store.AuthMethod{Method: "password", AAL: store.AAL1}),
		"too many labels":  labels(many),
		"bad key":          labels(map[string]string{"Tenant": "acme"}),
		"empty key":        labels(map[string]string{"": "acme"}),
		"long key":         labels(map[string]string{strings.Repeat("k", store.MaxLabelKey+1): "acme"}),
		"empty value":      labels(map[string]string{"tenant": ""}),
		"long value":       labels(map[string]string{"tenant": strings.Repeat("v", store.MaxLabelValue+1)}),
		"control value":    labels(map[string]string{"tenant": "ac\nme"}),
		"invalid UTF-8":    labels(map[string]string{"tenant": "ac\xffme"}),
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			sess := NewSession("alice", base)
			edit(&sess)
			is.True(s.Create(t.Context(), sess) != nil)
			_, err := s.Get(t.Context(), sess.ID)
			is.True(errors.Is(err, store.ErrNotFound)) // nothing stored
		})
	}
	// The bounds themselves are allowed.
	is := is.New(t)
	sess := NewSession("alice", base)
	full := map[string]string{}
	for i := range store.MaxLabels {
		full[strings.Repeat(string(rune('a'+i)), store.MaxLabelKey)] = strings.Repeat("é", store.MaxLabelValue/2)
	}
	sess.Labels = full
	sess.AuthMethods = []store.AuthMethod{{Method: strings.Repeat("a", 32), AAL: store.AAL3, CompletedAt: base}}
	is.NoErr(s.Create(t.Context(), sess))
	if d := diff(get(t, s, sess.ID), sess); d != "" {
		t.Error(d)
	}
}

func testReauthenticate(t *testing.T, s store.SignInStore) {
	is := is.New(t)
	sess := create(t, s, "alice", base, signedIn)
	now := base.Add(time.Hour / 2)
	methods := append(sess.AuthMethods, store.AuthMethod{Method: "webauthn", AAL: store.AAL2, CompletedAt: now})
	hash := NewTokenHash()
	is.NoErr(s.Reauthenticate(t.Context(), sess.ID, hash, now, methods, now))
	_, err := s.GetByTokenHash(t.Context(), sess.TokenHash)
	is.True(errors.Is(err, store.ErrNotFound)) // the old token is gone
	got, err := s.GetByTokenHash(t.Context(), hash)
	is.NoErr(err)
	want := sess
	want.TokenHash = hash
	want.AuthenticatedAt = now
	want.AuthMethods = methods
	if d := diff(got, want); d != "" {
		t.Error(d)
	}
	is.Equal(got.Assurance(), store.AAL2)
}

func testReauthenticateRefused(t *testing.T, s store.SignInStore) {
	is := is.New(t)
	now := base.Add(time.Minute)
	password := []store.AuthMethod{{Method: "password", AAL: store.AAL1, CompletedAt: now}}
	live := create(t, s, "alice", base, signedIn)
	revoked := create(t, s, "alice", base, signedIn)
	_, err := s.Revoke(t.Context(), store.Selection{UserID: "alice", SessionID: revoked.ID}, base, "logout")
	is.NoErr(err)
	expired := create(t, s, "alice", base.Add(-2*time.Hour))

	err = s.Reauthenticate(t.Context(), store.NewID(), NewTokenHash(), now, password, now)
	is.True(errors.Is(err, store.ErrNotFound))
	err = s.Reauthenticate(t.Context(), revoked.ID, NewTokenHash(), now, password, now)
	is.True(errors.Is(err, store.ErrInactive))
	err = s.Reauthenticate(t.Context(), expired.ID, NewTokenHash(), now, password, now)
	is.True(errors.Is(err, store.ErrInactive))
	err = s.Reauthenticate(t.Context(), live.ID, expired.TokenHash, now, password, now)
	is.True(errors.Is(err, store.ErrDuplicate))
	err = s.Reauthenticate(t.Context(), live.ID, NewTokenHash(), now, []store.AuthMethod{{Method: "password", AAL: "aal0", CompletedAt: now}}, now)
	is.True(err != nil)
	for _, x := range []store.Session{live, revoked} {
		got := get(t, s, x.ID)
		is.Equal(got.TokenHash, x.TokenHash) // nothing changed
		is.True(got.AuthenticatedAt.Equal(x.AuthenticatedAt))
		is.Equal(len(got.AuthMethods), 1)
	}

	is.NoErr(s.Close())
	err = s.Reauthenticate(t.Context(), live.ID, NewTokenHash(), now, password, now)
	is.True(errors.Is(err, store.ErrClosed))
}

func testReauthenticateNotBefore(t *testing.T, s store.SignInStore) {
	is := is.New(t)
	now := base.Add(time.Minute)
	kept := create(t, s, "alice", base, signedIn)
	// Sign out everywhere else, with a not-before time now: the session
	// kept cannot be given an authentication from before it.
	_, err := s.Revoke(t.Context(), store.Selection{UserID: "alice", ExceptID: kept.ID, NotBefore: now}, now, "logout_all")
	is.NoErr(err)
	password := []store.AuthMethod{{Method: "password", AAL: store.AAL1, CompletedAt: now}}
	err = s.Reauthenticate(t.Context(), kept.ID, NewTokenHash(), now.Add(-time.Second), password, now)
	is.True(errors.Is(err, store.ErrNotBefore))
	is.Equal(get(t, s, kept.ID).TokenHash, kept.TokenHash)
	is.NoErr(s.Reauthenticate(t.Context(), kept.ID, NewTokenHash(), now, password, now))
}
