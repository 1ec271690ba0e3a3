package caep

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// The error codes of RFC 8935 section 2.4.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidKey           = "invalid_key"
	ErrInvalidIssuer        = "invalid_issuer"
	ErrInvalidAudience      = "invalid_audience"
	ErrAuthenticationFailed = "authentication_failed"
	ErrAccessDenied         = "access_denied"
)

// Error is why a SET was refused: an RFC 8935 error code and a description
// that tells the transmitter nothing it did not send.
type Error struct {
	Code        string `json:"err"`
	Description string `json:"description"`
}

func (e *Error) Error() string { return "caep: " + e.Code + ": " + e.Description }

func refuse(code, description string) *Error { return &Error{Code: code, Description: description} }

// Transmitter is a system whose SETs are accepted.
type Transmitter struct {
	Issuer string // its iss
	// JWKSURL is where its keys are fetched (and fetched again for an
	// unknown kid); Keys are used instead when set.
	JWKSURL string
	Keys    []crypto.PublicKey
	// Algorithms it signs with; default RS256 and ES256.
	Algorithms []jose.SignatureAlgorithm
}

// Verifier checks SETs addressed to one audience from configured
// transmitters.
type Verifier struct {
	audience     string
	transmitters map[string]*transmitter
	maxAge, skew time.Duration
	now          func() time.Time
}

type transmitter struct {
	Transmitter
	keys oidc.KeySet
}

// DefaultMaxAge is how old a SET's iat may be; DefaultClockSkew how far in
// the future.
const (
	DefaultMaxAge    = 10 * time.Minute
	DefaultClockSkew = time.Minute
)

// NewVerifier returns a Verifier of SETs addressed to audience.
func NewVerifier(audience string, ts []Transmitter) (*Verifier, error) {
	if audience == "" {
		return nil, errors.New("caep: a receiver needs its audience")
	}
	v := &Verifier{audience: audience, transmitters: map[string]*transmitter{},
		maxAge: DefaultMaxAge, skew: DefaultClockSkew, now: time.Now}
	for _, t := range ts {
		if t.Issuer == "" {
			return nil, errors.New("caep: a transmitter needs an issuer")
		}
		if _, dup := v.transmitters[t.Issuer]; dup {
			return nil, fmt.Errorf("caep: transmitter %q configured twice", t.Issuer)
		}
		if len(t.Algorithms) == 0 {
			t.Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}
		}
		tr := &transmitter{Transmitter: t}
		switch {
		case len(t.Keys) > 0:
			tr.keys = &oidc.StaticKeySet{PublicKeys: t.Keys}
		case t.JWKSURL != "":
			// The context is that of the fetches; the key set lives as
			// long as the Verifier.
			tr.keys = oidc.NewRemoteKeySet(context.Background(), t.JWKSURL)
		default:
			return nil, fmt.Errorf("caep: transmitter %q needs keys or a JWKS URL", t.Issuer)
		}
		v.transmitters[t.Issuer] = tr
	}
	if len(v.transmitters) == 0 {
		return nil, errors.New("caep: a receiver needs at least one transmitter")
	}
	return v, nil
}

// Verify checks raw as RFC 8417 and RFC 8935 say: a JWS with typ
// secevent+jwt, from a configured issuer, signed by one of its keys with
// one of its algorithms, addressed to the Verifier's audience, issued
// recently, with a jti and at least one event. A refusal is an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*SET, error) {
	obj, err := jose.ParseSignedCompact(raw, allAlgorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, refuse(ErrInvalidRequest, "The body is not a signed JWT.")
	}
	typ, _ := obj.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), Type) {
		return nil, refuse(ErrInvalidRequest, "The JWT's typ is not secevent+jwt.")
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(obj.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, refuse(ErrInvalidRequest, "The SET's claims are not a JSON object.")
	}
	t, ok := v.transmitters[unverified.Issuer]
	if !ok {
		return nil, refuse(ErrInvalidIssuer, "The SET's issuer is not a configured transmitter.")
	}
	alg := jose.SignatureAlgorithm(obj.Signatures[0].Protected.Algorithm)
	if !slices.Contains(t.Algorithms, alg) {
		return nil, refuse(ErrInvalidKey, "The SET is signed with an algorithm the transmitter does not use.")
	}
	payload, err := t.keys.VerifySignature(ctx, raw)
	if err != nil {
		return nil, refuse(ErrInvalidKey, "The SET's signature does not verify with the transmitter's keys.")
	}
	var set SET
	if err := json.Unmarshal(payload, &set); err != nil {
		return nil, refuse(ErrInvalidRequest, "The SET's claims are malformed.")
	}
	if set.Issuer != t.Issuer {
		return nil, refuse(ErrInvalidIssuer, "The SET's issuer is not a configured transmitter.")
	}
	if !set.Audience.Contains(v.audience) {
		return nil, refuse(ErrInvalidAudience, "The SET is not addressed to this receiver.")
	}
	now := v.now()
	switch {
	case set.ID == "":
		return nil, refuse(ErrInvalidRequest, "The SET has no jti.")
	case len(set.Events) == 0:
		return nil, refuse(ErrInvalidRequest, "The SET has no events.")
	case set.IssuedAt == nil:
		return nil, refuse(ErrInvalidRequest, "The SET has no iat.")
	case set.IssuedAt.Time().After(now.Add(v.skew)):
		return nil, refuse(ErrInvalidRequest, "The SET was issued in the future.")
	case now.Sub(set.IssuedAt.Time()) > v.maxAge:
		return nil, refuse(ErrInvalidRequest, "The SET is too old.")
	}
	return &set, nil
}

// remember is until when a SET's jti must be remembered: after that its
// iat is too old to be accepted anyway.
func (v *Verifier) remember(set *SET) time.Time {
	return set.IssuedAt.Time().Add(v.maxAge + v.skew)
}

// allAlgorithms bounds what is parsed; each transmitter's Algorithms bound
// what is verified. No symmetric algorithm and no "none".
var allAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}
