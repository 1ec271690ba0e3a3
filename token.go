package revoke

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// HeaderName is the request header that carries a session token for
// non-browser clients.
const HeaderName = "X-Session-Token"

// Token format: 24 random bytes (192 bits) as unpadded base64url, 32
// characters that are safe in headers, cookies and URLs. Tokens from other
// issuers (for example scs) are accepted when they use the same alphabet and
// a length within these bounds.
const (
	tokenBytes     = 24
	minTokenLength = 22  // 128 bits of base64url
	maxTokenLength = 256 // anything longer is not a token
)

// HashToken returns the SHA-256 digest under which a token is stored.
func HashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// ValidToken reports whether s has the form of a session token: base64url
// characters, of a plausible length. It says nothing about whether the token
// belongs to a session.
func ValidToken(s string) bool {
	if len(s) < minTokenLength || len(s) > maxTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
