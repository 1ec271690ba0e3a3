package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// DefaultUniversalLogoutMaxLife bounds how far in the future a Universal
// Logout token's exp may lie: its jti is remembered until then.
const DefaultUniversalLogoutMaxLife = 15 * time.Minute

// UniversalLogoutIssuer is an identity provider whose signed JWTs the
// GlobalTokenRevocation handler accepts as the caller's credential, as
// Okta's Universal Logout sends them (see WithUniversalLogout).
type UniversalLogoutIssuer struct {
	// Issuer is the provider's issuer identifier, as its JWT's iss claim
	// carries it (for Okta, the org's URL).
	Issuer string
	// Audience is what the JWT's aud claim must hold: the URL of this
	// endpoint as it is configured at the provider (Okta: the app's
	// "Logout endpoint URL").
	Audience string
	// KeySet verifies signatures against the provider's keys, such as
	// oidc.NewRemoteKeySet(ctx, "https://{org}/oauth2/v1/keys").
	KeySet oidc.KeySet
	// SigningAlgs lists the signature algorithms accepted (default RS256).
	SigningAlgs []string
	// ClockSkew is how far the provider's clock may be ahead or behind for
	// exp, nbf and iat (default DefaultClockSkew).
	ClockSkew time.Duration
	// MaxLife bounds exp from now (default DefaultUniversalLogoutMaxLife).
	MaxLife time.Duration
}

type universalIssuer struct {
	UniversalLogoutIssuer
	algs []jose.SignatureAlgorithm
}

// WithUniversalLogout makes the GlobalTokenRevocation handler accept a
// bearer JWT signed by one of these issuers, beside the admin credentials of
// the other admin routes. It needs a store that implements
// store.TokenIDStore (to refuse a replayed jti) and store.ProviderStore.
func WithUniversalLogout(issuers ...UniversalLogoutIssuer) Option {
	return func(h *Handlers) error {
		if len(issuers) == 0 {
			return errors.New("handlers: WithUniversalLogout needs an issuer")
		}
		if err := needsIDPStore(h); err != nil {
			return err
		}
		if h.idp.universal == nil {
			h.idp.universal = make(map[string]*universalIssuer)
		}
		for _, u := range issuers {
			switch {
			case u.Issuer == "" || u.Audience == "":
				return errors.New("handlers: a UniversalLogoutIssuer needs an Issuer and an Audience")
			case u.KeySet == nil:
				return fmt.Errorf("handlers: UniversalLogoutIssuer %s has no KeySet", u.Issuer)
			case u.ClockSkew < 0 || u.MaxLife < 0:
				return fmt.Errorf("handlers: UniversalLogoutIssuer %s: ClockSkew and MaxLife must not be negative", u.Issuer)
			}
			if _, dup := h.idp.universal[u.Issuer]; dup {
				return fmt.Errorf("handlers: UniversalLogoutIssuer %s configured twice", u.Issuer)
			}
			if u.ClockSkew == 0 {
				u.ClockSkew = DefaultClockSkew
			}
			if u.MaxLife == 0 {
				u.MaxLife = DefaultUniversalLogoutMaxLife
			}
			ui := &universalIssuer{UniversalLogoutIssuer: u, algs: []jose.SignatureAlgorithm{jose.RS256}}
			if len(u.SigningAlgs) > 0 {
				ui.algs = nil
				for _, a := range u.SigningAlgs {
					ui.algs = append(ui.algs, jose.SignatureAlgorithm(a))
				}
			}
			h.idp.universal[u.Issuer] = ui
		}
		return nil
	}
}

// SubjectID is a Security Event Subject Identifier (RFC 9493), as the
// sub_id of a global token revocation request names the user.
type SubjectID struct {
	Format  string `json:"format"`          // "email", "iss_sub" or "opaque"
	Email   string `json:"email,omitempty"` // format email
	Issuer  string `json:"iss,omitempty"`   // format iss_sub
	Subject string `json:"sub,omitempty"`   // format iss_sub
	ID      string `json:"id,omitempty"`    // format opaque
	Phone   string `json:"phone_number,omitempty"`
}

// Errors a SubjectResolver returns.
var (
	// ErrUnknownSubject means no user of the app matches: 404.
	ErrUnknownSubject = errors.New("handlers: unknown subject")
	// ErrUnsupportedSubject means the resolver does not handle the
	// identifier's format: the built-in resolution is tried, and failing
	// that the request is refused with 400.
	ErrUnsupportedSubject = errors.New("handlers: unsupported subject identifier format")
	// ErrCannotSignOut means the user exists but must not be signed out
	// this way (a break-glass account, say): 422, and nothing is revoked.
	ErrCannotSignOut = errors.New("handlers: the user cannot be signed out")
)

// SubjectResolver returns the app's user that a subject identifier names,
// or one of ErrUnknownSubject, ErrUnsupportedSubject or ErrCannotSignOut.
// See WithSubjectResolver.
type SubjectResolver func(ctx context.Context, id SubjectID) (userID string, err error)

// WithSubjectResolver sets how the GlobalTokenRevocation handler finds the
// user a sub_id names: an app whose users have email addresses resolves
// the email format here. When it returns ErrUnsupportedSubject, or without
// one, the built-in resolution applies: iss_sub is the user that subject
// last signed in as through revoke.FromProvider, and opaque is the app's
// user id itself when the user exists (WithUserLookup); email is
// unsupported.
func WithSubjectResolver(f SubjectResolver) Option {
	return func(h *Handlers) error {
		if f == nil {
			return errors.New("handlers: nil subject resolver")
		}
		h.idp.resolve = f
		return nil
	}
}

// GlobalTokenRevocation returns the handler of POST
// /oauth2/v1/global-token-revocation (draft-parecki-oauth-global-token-
// revocation, Okta Universal Logout): the caller, a provider with a signed
// bearer JWT (WithUniversalLogout) or an administrator, names a user by a
// sub_id, and every session of the user is revoked (with the OAuth token
// revoker too, when the Manager has one); 204 on success. Errors are in the
// Okta family's shape: 400 for a malformed request or an unsupported
// format, 401/403 as on the admin routes, 404 for an unknown user, 422 when
// the user cannot be signed out.
func (h *Handlers) GlobalTokenRevocation() http.Handler {
	return h.Endpoint(RouteGlobalTokenRevocation)
}

func (h *Handlers) globalTokenRevocation(w http.ResponseWriter, r *http.Request, rq *request) {
	grant, ok := h.authorizeUniversalLogout(w, r, rq)
	if !ok {
		return
	}
	body, tooLarge, err := readBody(w, r)
	if tooLarge || err != nil {
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.")
		return
	}
	var req struct {
		SubID *SubjectID `json:"sub_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			rq.oktaValidation(w, "sub_id", "sub_id: must be an object with a format")
			return
		}
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.")
		return
	}
	if req.SubID == nil {
		rq.oktaValidation(w, "sub_id", "sub_id: is required")
		return
	}
	sub := *req.SubID
	if field, ok := missingSubjectMember(sub); !ok {
		rq.oktaValidation(w, "sub_id."+field, "sub_id."+field+": is required for format "+quote(sub.Format))
		return
	}

	ctx := r.Context()
	user, err := h.resolveSubject(ctx, sub)
	switch {
	case errors.Is(err, ErrUnsupportedSubject):
		rq.oktaValidation(w, "sub_id.format", "sub_id.format: "+quote(sub.Format)+" is not supported")
		return
	case errors.Is(err, ErrUnknownSubject):
		rq.oktaUserNotFound(w, shorten(subjectName(sub)))
		return
	case errors.Is(err, ErrCannotSignOut):
		rq.okta(w, http.StatusUnprocessableEntity, oktaValidation, "Api validation failed: sub_id",
			"The user cannot be signed out.")
		return
	case err != nil:
		rq.internal(w, err)
		return
	}

	var opts []revoke.RevokeAllOption
	if h.m.HasOAuthTokenRevoker() {
		opts = append(opts, revoke.AlsoOAuthTokens())
	}
	n, err := h.m.RevokeAll(ctx, user, revoke.Cause{Actor: grant.Actor, Reason: revoke.ReasonProviderLogout}, opts...)
	switch {
	case errors.Is(err, revoke.ErrSessionsRevokedHookFailed):
		rq.log.Error("handlers: internal error", "family", string(rq.family), "err", err, "revoked", n)
		rq.okta(w, http.StatusInternalServerError, oktaInternal, "Internal Server Error",
			"The user's sessions were revoked, but revoking OAuth tokens failed; retry the request")
		return
	case err != nil:
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(ctx, "handlers: global token revocation", "actor", grant.Actor, "user", user, "revoked", n)
	w.WriteHeader(http.StatusNoContent)
}

// missingSubjectMember names the member that sub's format needs and sub
// lacks. An unknown format needs nothing here: the resolver refuses it.
func missingSubjectMember(sub SubjectID) (string, bool) {
	switch sub.Format {
	case "":
		return "format", false
	case "email":
		return "email", sub.Email != ""
	case "iss_sub":
		if sub.Issuer == "" {
			return "iss", false
		}
		return "sub", sub.Subject != ""
	case "opaque":
		return "id", sub.ID != ""
	}
	return "", true
}

// subjectName is what a 404 names the user by.
func subjectName(sub SubjectID) string {
	switch sub.Format {
	case "email":
		return sub.Email
	case "iss_sub":
		return sub.Subject
	case "opaque":
		return sub.ID
	}
	return sub.Format
}

// resolveSubject asks the app's resolver, then the built-in resolution.
func (h *Handlers) resolveSubject(ctx context.Context, sub SubjectID) (string, error) {
	if h.idp.resolve != nil {
		user, err := h.idp.resolve(ctx, sub)
		if err == nil && user == "" {
			return "", ErrUnknownSubject
		}
		if !errors.Is(err, ErrUnsupportedSubject) {
			return user, err
		}
	}
	switch sub.Format {
	case "iss_sub":
		user, err := h.m.ProviderUser(ctx, sub.Issuer, sub.Subject)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnsupported) {
			return "", ErrUnknownSubject
		}
		return user, err
	case "opaque":
		if !validID(sub.ID) {
			return "", ErrUnknownSubject
		}
		exists, err := h.userExists(ctx, sub.ID)
		if err != nil {
			return "", err
		}
		if !exists {
			return "", ErrUnknownSubject
		}
		return sub.ID, nil
	}
	return "", ErrUnsupportedSubject
}

// errForeignIssuer means a bearer JWT is not from a Universal Logout
// issuer, so it is left to the other authorizers (an access token that
// WithBearerAuthorizer accepts may be a JWT too).
var errForeignIssuer = errors.New("handlers: not a universal logout issuer")

// authorizeUniversalLogout accepts a bearer JWT of a configured issuer, or
// else asks the admin authorizers. On failure it has answered.
func (h *Handlers) authorizeUniversalLogout(w http.ResponseWriter, r *http.Request, rq *request) (Grant, bool) {
	scheme, cred, present, ok := authorization(r)
	if !present || !ok || !strings.EqualFold(scheme, "Bearer") || len(h.idp.universal) == 0 || strings.Count(cred, ".") != 2 {
		return rq.authorizeAdmin(w, r)
	}
	g, err := h.verifyUniversalLogoutJWT(r.Context(), cred)
	switch {
	case err == nil:
		return g, true // a bearer header: no cross-origin check needed
	case errors.Is(err, errForeignIssuer):
		return rq.authorizeAdmin(w, r)
	case errors.Is(err, store.ErrUnavailable):
		rq.internal(w, err)
		return Grant{}, false
	}
	rq.log.WarnContext(r.Context(), "handlers: universal logout token refused", "err", err)
	rq.fail(w, probUnauthenticated)
	return Grant{}, false
}

// verifyUniversalLogoutJWT verifies raw with go-jose: the signature against
// the issuer's keys, iss, aud, exp (required, and not too far ahead), nbf
// and iat, and records its jti (required) so that a replay is refused.
func (h *Handlers) verifyUniversalLogoutJWT(ctx context.Context, raw string) (Grant, error) {
	tok, err := jwt.ParseSigned(raw, asymmetricAlgs)
	if err != nil {
		return Grant{}, errForeignIssuer // not a JWS at all: maybe an opaque admin token
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Grant{}, errForeignIssuer
	}
	u, ok := h.idp.universal[unverified.Issuer]
	if !ok {
		return Grant{}, errForeignIssuer
	}
	if _, err := jwt.ParseSigned(raw, u.algs); err != nil {
		return Grant{}, fmt.Errorf("algorithm not accepted: %w", err)
	}
	vctx, cancel := context.WithTimeout(ctx, KeyFetchTimeout)
	defer cancel()
	payload, err := u.KeySet.VerifySignature(vctx, raw)
	if err != nil {
		return Grant{}, fmt.Errorf("signature: %w", err)
	}
	var c jwt.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Grant{}, fmt.Errorf("claims: %w", err)
	}
	now := h.m.Now()
	if err := c.ValidateWithLeeway(jwt.Expected{
		Issuer:      u.Issuer,
		AnyAudience: jwt.Audience{u.Audience},
		Time:        now,
	}, u.ClockSkew); err != nil {
		return Grant{}, err
	}
	switch {
	case c.Expiry == nil:
		return Grant{}, errors.New("no exp claim")
	case c.Expiry.Time().After(now.Add(u.MaxLife)):
		return Grant{}, errors.New("exp is too far in the future")
	case c.ID == "":
		return Grant{}, errors.New("no jti claim")
	}
	err = store.UseTokenID(ctx, h.m.Store(), u.Issuer, c.ID, now, c.Expiry.Time().Add(u.ClockSkew))
	if err != nil {
		return Grant{}, fmt.Errorf("jti: %w", err)
	}
	return Grant{Actor: revoke.ProviderActor(u.Issuer)}, nil
}
