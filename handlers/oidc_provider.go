package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/revokehq/revoke/store"
)

// Defaults of an OIDCProvider.
const (
	// DefaultLogoutTokenMaxAge is how old a logout token may be (by its
	// iat) when it arrives. Providers send them at once, and retry for a
	// minute or two at most.
	DefaultLogoutTokenMaxAge = 5 * time.Minute
	// DefaultClockSkew is how far in the future a token's iat may be, for
	// clocks that disagree a little.
	DefaultClockSkew = time.Minute
	// KeyFetchTimeout bounds a fetch of a provider's keys (its JWKS), and
	// how long a request waits for one: a provider that does not answer
	// makes the token fail verification, not the request hang.
	KeyFetchTimeout = 10 * time.Second
)

// OIDCProvider is an OpenID provider whose back-channel logout tokens the
// BackChannelLogout handler accepts (see WithBackChannelLogout).
type OIDCProvider struct {
	// Issuer is the provider's issuer identifier, exactly as its tokens'
	// iss claim carries it.
	Issuer string
	// ClientID is this app's client id at the provider: a logout token
	// must name it in its aud claim.
	ClientID string
	// KeySet verifies the tokens' signatures against the provider's keys:
	// oidc.NewRemoteKeySet(ctx, jwksURI) fetches and caches its JWKS and
	// follows its key rotation. DiscoverOIDCProvider fills it in.
	KeySet oidc.KeySet
	// SigningAlgs lists the signature algorithms accepted (default RS256,
	// what providers use unless told otherwise).
	SigningAlgs []string
	// MaxAge is how old a token may be by its iat (default
	// DefaultLogoutTokenMaxAge). A token's jti is remembered until the
	// token can no longer be accepted, so a replay is refused.
	MaxAge time.Duration
	// ClockSkew is how far in the future a token's iat may be (default
	// DefaultClockSkew).
	ClockSkew time.Duration
	// ExpiryFromIssuedAt accepts a token without an exp claim as expiring
	// MaxAge after its iat. Back-Channel Logout 1.0 requires exp, but some
	// providers send none (Ory Hydra v2); with this off such tokens are
	// refused. The signature is verified all the same.
	ExpiryFromIssuedAt bool
	// UserID maps the provider's subject to the app's user, for a token
	// that names a subject without a sid. Default: the user that subject
	// last signed in as (revoke.FromProvider; Manager.ProviderUser).
	UserID func(ctx context.Context, issuer, subject string) (string, error)
}

// DiscoverOIDCProvider reads the provider's OpenID configuration from
// issuer (its /.well-known/openid-configuration) and returns an
// OIDCProvider for clientID whose KeySet fetches the provider's JWKS, and
// whose SigningAlgs are those the provider announces for ID tokens. Every
// fetch, of the configuration and later of the keys, is bounded by
// KeyFetchTimeout.
func DiscoverOIDCProvider(ctx context.Context, issuer, clientID string) (OIDCProvider, error) {
	ctx = oidc.ClientContext(ctx, &http.Client{Timeout: KeyFetchTimeout})
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return OIDCProvider{}, fmt.Errorf("handlers: discover %s: %w", issuer, err)
	}
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return OIDCProvider{}, fmt.Errorf("handlers: discover %s: %w", issuer, err)
	}
	if meta.JWKSURI == "" {
		return OIDCProvider{}, fmt.Errorf("handlers: discover %s: no jwks_uri", issuer)
	}
	// The key set outlives ctx, which may be a start-up deadline.
	ks := oidc.NewRemoteKeySet(context.WithoutCancel(ctx), meta.JWKSURI)
	return OIDCProvider{Issuer: issuer, ClientID: clientID, KeySet: ks, SigningAlgs: meta.Algs}, nil
}

// backChannelProvider is a configured OIDCProvider with its verifier.
type backChannelProvider struct {
	OIDCProvider
	verifier *oidc.IDTokenVerifier
}

// idpConfig holds what the identity-provider routes (back-channel logout,
// global token revocation) are configured with.
type idpConfig struct {
	backChannel map[string]*backChannelProvider // by issuer
	universal   map[string]*universalIssuer     // by issuer
	resolve     SubjectResolver
}

// WithBackChannelLogout makes the BackChannelLogout handler accept logout
// tokens from these providers; it may be given several times. It needs a
// store that implements store.ProviderStore and store.TokenIDStore (every
// store of this module does). Without any provider the handler refuses
// every token.
func WithBackChannelLogout(providers ...OIDCProvider) Option {
	return func(h *Handlers) error {
		if len(providers) == 0 {
			return errors.New("handlers: WithBackChannelLogout needs a provider")
		}
		if err := needsIDPStore(h); err != nil {
			return err
		}
		if h.idp.backChannel == nil {
			h.idp.backChannel = make(map[string]*backChannelProvider)
		}
		for _, p := range providers {
			switch {
			case p.Issuer == "" || p.ClientID == "":
				return errors.New("handlers: an OIDCProvider needs an Issuer and a ClientID")
			case p.KeySet == nil:
				return fmt.Errorf("handlers: OIDCProvider %s has no KeySet", p.Issuer)
			case p.MaxAge < 0 || p.ClockSkew < 0:
				return fmt.Errorf("handlers: OIDCProvider %s: MaxAge and ClockSkew must not be negative", p.Issuer)
			}
			if _, dup := h.idp.backChannel[p.Issuer]; dup {
				return fmt.Errorf("handlers: OIDCProvider %s configured twice", p.Issuer)
			}
			if p.MaxAge == 0 {
				p.MaxAge = DefaultLogoutTokenMaxAge
			}
			if p.ClockSkew == 0 {
				p.ClockSkew = DefaultClockSkew
			}
			ks := p.KeySet
			if p.ExpiryFromIssuedAt {
				ks = expiryFromIssuedAt{ks, p.MaxAge}
			}
			v := oidc.NewVerifier(p.Issuer, ks, &oidc.Config{
				ClientID:             p.ClientID,
				SupportedSigningAlgs: p.SigningAlgs,
				Now:                  h.m.Now,
			})
			h.idp.backChannel[p.Issuer] = &backChannelProvider{OIDCProvider: p, verifier: v}
		}
		return nil
	}
}

// needsIDPStore refuses the identity-provider routes on a store that cannot
// index provider sessions or remember token ids, at start-up rather than on
// the first logout.
func needsIDPStore(h *Handlers) error {
	st := h.m.Store()
	if _, ok := st.(store.ProviderStore); !ok {
		return fmt.Errorf("handlers: the store (%T) does not implement store.ProviderStore", st)
	}
	if _, ok := st.(store.TokenIDStore); !ok {
		return fmt.Errorf("handlers: the store (%T) does not implement store.TokenIDStore", st)
	}
	return nil
}

// expiryFromIssuedAt is a key set whose verified payloads gain an exp of
// iat + maxAge when they have none (see OIDCProvider.ExpiryFromIssuedAt).
// It changes only what the signature already vouched for, after checking
// it.
type expiryFromIssuedAt struct {
	oidc.KeySet
	maxAge time.Duration
}

func (k expiryFromIssuedAt) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.KeySet.VerifySignature(ctx, jwt)
	if err != nil {
		return nil, err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return payload, nil // the verifier reports the malformed payload
	}
	if _, ok := claims["exp"]; ok {
		return payload, nil
	}
	var iat json.Number
	if err := json.Unmarshal(claims["iat"], &iat); err != nil {
		return payload, nil // no iat: refused for its missing exp
	}
	f, err := iat.Float64()
	if err != nil {
		return payload, nil
	}
	exp, err := json.Marshal(int64(f) + int64(k.maxAge/time.Second))
	if err != nil {
		return payload, nil
	}
	claims["exp"] = exp
	out, err := json.Marshal(claims)
	if err != nil {
		return payload, nil
	}
	return out, nil
}
