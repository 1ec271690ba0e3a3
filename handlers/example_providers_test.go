package handlers_test

import (
	"context"
	"log"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// userDirectory is the app's own user store.
type userDirectory interface {
	IDByEmail(ctx context.Context, email string) (string, error)
}

// providerHandlers mounts an OpenID provider's back-channel logout and
// Okta's Universal Logout.
func providerHandlers(ctx context.Context, m *revoke.Manager, clientID string, users userDirectory) (*handlers.Handlers, error) {
	bcl, err := handlers.DiscoverOIDCProvider(ctx, "https://idp.example.com", clientID) // JWKS from the discovery document
	if err != nil {
		return nil, err
	}
	h, err := handlers.New(m,
		handlers.WithBackChannelLogout(bcl /*, another provider, ... */),
		handlers.WithUniversalLogout(handlers.UniversalLogoutIssuer{
			Issuer:   "https://acme.okta.com",
			Audience: "https://app.example.com/oauth2/v1/global-token-revocation",
			KeySet:   oidc.NewRemoteKeySet(ctx, "https://acme.okta.com/oauth2/v1/keys"),
		}),
		handlers.WithSubjectResolver(func(ctx context.Context, id handlers.SubjectID) (string, error) {
			if id.Format != "email" {
				return "", handlers.ErrUnsupportedSubject // iss_sub and opaque are resolved for you
			}
			return users.IDByEmail(ctx, id.Email) // or handlers.ErrUnknownSubject
		}),
	)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// ExampleWithBackChannelLogout: the provider routes beside the others.
func ExampleWithBackChannelLogout() {
	var (
		m     *revoke.Manager
		users userDirectory
	)
	h, err := providerHandlers(context.Background(), m, "my-client-id", users)
	if err != nil {
		log.Print(err)
		return
	}
	log.Print(h != nil)
}
