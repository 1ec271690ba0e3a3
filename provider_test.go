package revoke_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

const testIssuer = "https://idp.example"

func TestRevokeProviderSession(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	var rec recorder
	m, _ := newManager(t, rec.options()...)

	_, a1, err := m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-1"))
	is.NoErr(err)
	_, a2, err := m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-1"))
	is.NoErr(err)
	_, other, err := m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-2"))
	is.NoErr(err)
	_, local, err := m.Create(ctx, "ann", revoke.Device{}) // a password sign-in
	is.NoErr(err)
	_, elsewhere, err := m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider("https://other.example", "sub-ann", "sid-1"))
	is.NoErr(err)

	cause := revoke.Cause{Actor: "oidc:" + testIssuer, Reason: revoke.ReasonProviderLogout}
	n, err := m.RevokeProviderSession(ctx, testIssuer, "sid-1", "", cause)
	is.NoErr(err)
	is.Equal(n, 2)
	is.Equal(active(m, []string{a1, a2}), 0)
	is.Equal(active(m, []string{other, local, elsewhere}), 3) // other provider sessions, and other sign-ins, stay

	is.Equal(len(rec.events), 1)
	is.Equal(rec.events[0].Actor, "oidc:"+testIssuer)
	is.Equal(rec.events[0].UserID, "ann")
	is.Equal(len(rec.events[0].SessionIDs), 2)

	// Again: nothing left to revoke, no event.
	n, err = m.RevokeProviderSession(ctx, testIssuer, "sid-1", "", cause)
	is.NoErr(err)
	is.Equal(n, 0)
	is.Equal(len(rec.events), 1)

	// With a subject, another subject's sessions in that sid stay.
	n, err = m.RevokeProviderSession(ctx, testIssuer, "sid-2", "sub-someone-else", cause)
	is.NoErr(err)
	is.Equal(n, 0)
	is.Equal(active(m, []string{other}), 1)

	user, err := m.ProviderUser(ctx, testIssuer, "sub-ann")
	is.NoErr(err)
	is.Equal(user, "ann")
	_, err = m.ProviderUser(ctx, testIssuer, "sub-nobody")
	is.True(errors.Is(err, revoke.ErrNotFound))
}

// A sign-in whose provider session was logged out before it finished
// leaves no usable session.
func TestSignInOvertakenByProviderLogout(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	m, st := newManager(t)
	_, err := m.RevokeProviderSession(ctx, testIssuer, "sid-1", "", revoke.Cause{Reason: revoke.ReasonProviderLogout})
	is.NoErr(err)

	_, _, err = m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-1"))
	is.True(errors.Is(err, revoke.ErrProviderSessionEnded))
	list, err := st.List(ctx, "ann")
	is.NoErr(err)
	is.Equal(len(list), 1)
	is.True(list[0].Revoked()) // created, then revoked: never usable
	is.Equal(list[0].RevokeReason, revoke.ReasonProviderLogout)

	// Another provider session of the same user signs in as usual.
	_, tok, err := m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-2"))
	is.NoErr(err)
	is.Equal(active(m, []string{tok}), 1)
}

// plainStore hides every optional extension of the store it wraps.
type plainStore struct{ store.SessionStore }

func TestFromProviderNeedsAProviderStore(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	_, st := newManager(t)
	m, err := revoke.New(plainStore{st})
	is.NoErr(err)
	_, _, err = m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider(testIssuer, "sub-ann", "sid-1"))
	is.True(errors.Is(err, errors.ErrUnsupported))
	list, err := st.List(ctx, "ann")
	is.NoErr(err)
	is.Equal(len(list), 0) // nothing created

	_, _, err = m.Create(ctx, "ann", revoke.Device{}, revoke.FromProvider("", "sub", "sid"))
	is.True(err != nil) // an issuer is needed
	_, err = m.RevokeProviderSession(ctx, testIssuer, "sid-1", "", revoke.Cause{})
	is.True(errors.Is(err, errors.ErrUnsupported))
}
