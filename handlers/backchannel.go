package handlers

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// maxLogoutBody bounds a back-channel logout request: one form field
// holding a signed JWT, a few KiB even with a large key.
const maxLogoutBody = 16 << 10

// asymmetricAlgs are the signature algorithms a provider's token can carry;
// symmetric ones (HS256) need a shared secret no JWKS holds. They bound
// what is parsed; each provider's SigningAlgs bound what is verified.
var asymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// BackChannelLogout returns the handler of POST
// /auth/oidc/backchannel-logout: OpenID Connect Back-Channel Logout 1.0,
// the relying party's side. The provider posts a signed logout token; a
// valid one revokes the sessions its sid started (see revoke.FromProvider),
// or, with a sub and no sid, every session of the user the subject maps to.
// 200 with Cache-Control: no-store on success, also when nothing matched;
// 400 {"error":"invalid_request"} for a token that fails verification or
// was used before. Providers are configured with WithBackChannelLogout.
func (h *Handlers) BackChannelLogout() http.Handler { return h.Endpoint(RouteBackChannelLogout) }

// logoutFailure is why a logout token was refused; its text is the
// error_description, so it says nothing the caller does not know.
type logoutFailure string

func (f logoutFailure) Error() string { return string(f) }

func (h *Handlers) backChannelLogout(w http.ResponseWriter, r *http.Request, rq *request) {
	raw, fail := logoutTokenOf(w, r)
	if fail != "" {
		rq.oauth(w, http.StatusBadRequest, oauthInvalidRequest, fail)
		return
	}
	ctx := r.Context()
	p, tok, err := h.verifyLogoutToken(ctx, raw)
	if err != nil {
		var lf logoutFailure
		if !errors.As(err, &lf) {
			lf = "The logout token could not be verified."
		}
		rq.log.WarnContext(ctx, "handlers: logout token refused", "err", err)
		rq.oauth(w, http.StatusBadRequest, oauthInvalidRequest, string(lf))
		return
	}

	// A token seen before is refused. Its jti is recorded only once the
	// revocation has succeeded, so that a provider retrying after a
	// failure (503) is not refused as a replay. Two deliveries at once may
	// both act, which ends the same sessions at the same moment.
	now := h.m.Now()
	st := h.m.Store()
	switch used, err := store.TokenIDUsed(ctx, st, tok.Issuer, tok.TokenID, now); {
	case err != nil:
		rq.internal(w, err)
		return
	case used:
		rq.log.WarnContext(ctx, "handlers: logout token replayed", "issuer", tok.Issuer, "jti", tok.TokenID)
		rq.oauth(w, http.StatusBadRequest, oauthInvalidRequest, "The logout token was already used.")
		return
	}

	cause := revoke.Cause{Actor: revoke.ProviderActor(tok.Issuer), Reason: revoke.ReasonProviderLogout}
	var n int
	if tok.SessionID != "" {
		n, err = h.m.RevokeProviderSession(ctx, tok.Issuer, tok.SessionID, tok.Subject, cause)
	} else {
		n, err = h.revokeProviderSubject(ctx, p, tok.Subject, cause)
	}
	if err != nil {
		rq.log.ErrorContext(ctx, "handlers: logout token valid but the revocation failed",
			"issuer", tok.Issuer, "jti", tok.TokenID, "sid", tok.SessionID, "sub", tok.Subject, "err", err)
		rq.internal(w, err)
		return
	}
	until := tok.IssuedAt.Add(p.MaxAge)
	if tok.Expiry.After(until) {
		until = tok.Expiry
	}
	err = store.UseTokenID(ctx, st, tok.Issuer, tok.TokenID, now, until.Add(p.ClockSkew))
	if err != nil && !errors.Is(err, store.ErrReplayed) { // replayed: a delivery at the same time recorded it
		// Revoked, but a replay would not be refused: the provider's
		// retry records it (and revokes nothing new).
		rq.log.ErrorContext(ctx, "handlers: logout token acted on but not recorded", "issuer", tok.Issuer, "jti", tok.TokenID, "err", err)
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(ctx, "handlers: back-channel logout", "issuer", tok.Issuer,
		"sid", tok.SessionID, "sub", tok.Subject, "revoked", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// logoutTokenOf reads the logout_token of a form-encoded body; fail says
// what is wrong with the request otherwise.
func logoutTokenOf(w http.ResponseWriter, r *http.Request) (token, fail string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", "The body must be application/x-www-form-urlencoded."
	}
	body, tooLarge, err := readLimited(w, r, maxLogoutBody)
	switch {
	case tooLarge:
		return "", "The request body is too large."
	case err != nil:
		return "", "The request body could not be read."
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", "The request body is not a valid form."
	}
	switch v := form["logout_token"]; {
	case len(v) == 0 || v[0] == "":
		return "", "The logout_token parameter is missing."
	case len(v) > 1:
		return "", "The logout_token parameter is given more than once."
	default:
		return v[0], ""
	}
}

// verifyLogoutToken finds the provider that issued raw and verifies the
// token as Back-Channel Logout 1.0 says: go-oidc's VerifyLogout checks the
// signature against the provider's keys, iss, aud, exp, the events member,
// sub or sid, and that there is no nonce; the iat is checked here.
func (h *Handlers) verifyLogoutToken(ctx context.Context, raw string) (*backChannelProvider, *oidc.LogoutToken, error) {
	// The issuer picks the provider, whose verifier then checks it again.
	parsed, err := jwt.ParseSigned(raw, asymmetricAlgs)
	if err != nil {
		return nil, nil, logoutFailure("The logout token is not a signed JWT.")
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, nil, logoutFailure("The logout token's claims are not valid JSON.")
	}
	p, ok := h.idp.backChannel[unverified.Issuer]
	if !ok {
		return nil, nil, logoutFailure("The logout token's issuer is not a configured provider.")
	}
	vctx, cancel := context.WithTimeout(ctx, KeyFetchTimeout)
	defer cancel()
	tok, err := p.verifier.VerifyLogout(vctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, nil, logoutFailure("The logout token has expired.")
		}
		return nil, nil, err
	}
	now := h.m.Now()
	switch {
	case tok.IssuedAt.IsZero():
		return nil, nil, logoutFailure("The logout token has no iat claim.")
	case tok.IssuedAt.After(now.Add(p.ClockSkew)):
		return nil, nil, logoutFailure("The logout token was issued in the future.")
	case now.Sub(tok.IssuedAt) > p.MaxAge:
		return nil, nil, logoutFailure("The logout token is too old.")
	}
	return p, tok, nil
}

// revokeProviderSubject revokes every session of the user that subject of
// p maps to; an unknown subject has nothing to revoke.
func (h *Handlers) revokeProviderSubject(ctx context.Context, p *backChannelProvider, subject string, c revoke.Cause) (int, error) {
	lookup := p.UserID
	if lookup == nil {
		lookup = h.m.ProviderUser
	}
	user, err := lookup(ctx, p.Issuer, subject)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && user == ""):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return h.m.RevokeAll(ctx, user, c)
}

// readLimited reads at most limit bytes of the body.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, true, err
	}
	return body, false, err
}
