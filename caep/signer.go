package caep

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-jose/go-jose/v4"
)

// Signer signs SETs with one of the app's keys: ES256 for a P-256 key,
// RS256 for an RSA key of 2048 bits or more.
type Signer struct {
	alg     jose.SignatureAlgorithm
	private crypto.Signer
	signer  jose.Signer
	public  jose.JSONWebKey
}

// NewSigner returns a Signer of key, named keyID in its JWKS (the kid).
func NewSigner(key crypto.Signer, keyID string) (*Signer, error) {
	if keyID == "" {
		return nil, errors.New("caep: a signing key needs a key id")
	}
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("caep: an ECDSA signing key must be on P-256 (ES256)")
		}
		alg = jose.ES256
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("caep: an RSA signing key must have at least 2048 bits")
		}
		alg = jose.RS256
	default:
		return nil, fmt.Errorf("caep: unsupported signing key %T (want ECDSA P-256 or RSA)", key)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: keyID}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return nil, fmt.Errorf("caep: %w", err)
	}
	return &Signer{alg: alg, private: key, signer: sig, public: jose.JSONWebKey{
		Key: key.Public(), KeyID: keyID, Algorithm: string(alg), Use: "sig",
	}}, nil
}

// Sign returns set as a compact JWS with typ secevent+jwt.
func (s *Signer) Sign(set SET) (string, error) {
	payload, err := json.Marshal(set)
	if err != nil {
		return "", fmt.Errorf("caep: encode SET: %w", err)
	}
	obj, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("caep: sign SET: %w", err)
	}
	return obj.CompactSerialize()
}

// JWKS returns the public key of the Signer as a JSON Web Key Set.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.public}}
}

// JWKSHandler serves the Signer's JWKS to GET and HEAD, for receivers to
// verify its SETs.
func (s *Signer) JWKSHandler() http.Handler {
	body, err := json.Marshal(s.JWKS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err != nil { // a public key always encodes; never serve half a set
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(body)
	})
}
