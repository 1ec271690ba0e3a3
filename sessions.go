// Package revoke gives a net/http application server-side sessions that it
// can revoke immediately: one session, all of a user's sessions, or all but
// the current one, by the user or by an administrator.
//
// A Manager issues sessions, hands out their tokens (in a signed cookie for
// browsers, as a bare token for other clients) and resolves them again on
// every request through its Middleware. The sessions themselves live in a
// store.SessionStore: store/memstore in memory, store/sqlitestore on SQLite,
// or any other backend that passes store/storetest. Tokens are random and are
// never stored: the store keeps their SHA-256 hash, so a leaked database
// gives no one a usable session.
//
// The handlers package mounts the HTTP endpoints (Okta-, Ory Kratos- and
// admin-style) on top of a Manager.
package revoke

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/revokehq/revoke/store"
)

// Session is the stored record of a session; see store.Session.
type Session = store.Session

// Errors returned when a token does not resolve to a usable session. The
// middleware treats all of them as "anonymous"; FailureReason reports which.
var (
	// ErrMalformedToken means the token is not of the token format (wrong
	// length or alphabet), or the cookie failed its signature check.
	ErrMalformedToken = errors.New("revoke: malformed session token")
	// ErrUnknownToken means no session has this token.
	ErrUnknownToken = errors.New("revoke: unknown session token")
	// ErrRevoked means the session was revoked.
	ErrRevoked = errors.New("revoke: session revoked")
	// ErrExpired means the session passed its lifetime or idle timeout.
	ErrExpired = errors.New("revoke: session expired")
	// ErrNoSession means the request carried no session token at all.
	ErrNoSession = errors.New("revoke: no session token")
	// ErrNotFound means a session named by id is unknown or belongs to
	// another user. It is the same value as store.ErrNotFound.
	ErrNotFound = store.ErrNotFound
	// ErrRenewElsewhere means Renew was asked to renew a session that
	// another library's cookie carries (WithTokenCookie); renew it there.
	ErrRenewElsewhere = errors.New("revoke: the session is in another library's token cookie: renew it there (scs: RenewToken)")
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

// hostCookie is DefaultCookie with its name filled in.
var hostCookie, _ = DefaultCookie().named()

// Defaults used when the corresponding option is not given.
const (
	DefaultLifetime      = 7 * 24 * time.Hour
	DefaultIdleTimeout   = 24 * time.Hour
	DefaultTouchInterval = time.Minute
)

// Device describes where a session was created from.
type Device struct {
	IP        string
	UserAgent string
}

// maxUserAgent bounds what is stored from a client-controlled header.
const maxUserAgent = 512

// Manager issues, resolves and revokes sessions. It is safe for concurrent
// use; create one per application and share it.
type Manager struct {
	store         store.SessionStore
	codecs        []securecookie.Codec
	cookie        Cookie
	tokenCookie   string
	lifetime      time.Duration
	idleTimeout   time.Duration
	touchInterval time.Duration
	now           func() time.Time
	logger        *slog.Logger
	errorFunc     func(http.ResponseWriter, *http.Request, error)
	unauthorized  http.Handler
	clientIP      func(*http.Request) string

	oauthRevoker    OAuthTokenRevoker
	deviceForgetter DeviceForgetter
	onRevoke        []func(context.Context, Event)
}

// Option configures a Manager.
type Option func(*Manager) error

// WithCookieKeys sets the keys of the session cookie as pairs of hash key
// (HMAC-SHA256, 32 or 64 bytes recommended) and block key (AES: 16, 24 or 32
// bytes, or nil for a signed but unencrypted cookie), as in
// securecookie.CodecsFromPairs. New cookies use the first pair; cookies made
// with any later pair still decode, which is how keys are rotated: put the
// new pair first and keep the old one until its cookies have expired.
//
// Without this option the Manager makes a random key at start-up, so cookies
// do not survive a restart and are not shared between instances.
func WithCookieKeys(keyPairs ...[]byte) Option {
	return func(m *Manager) error {
		if len(keyPairs) == 0 || len(keyPairs[0]) == 0 {
			return errors.New("revoke: WithCookieKeys needs at least one hash key")
		}
		for i := 0; i < len(keyPairs); i += 2 {
			if len(keyPairs[i]) < 32 {
				return fmt.Errorf("revoke: cookie hash key %d is %d bytes; use at least 32", i/2, len(keyPairs[i]))
			}
			if i+1 < len(keyPairs) {
				if n := len(keyPairs[i+1]); n != 0 && n != 16 && n != 24 && n != 32 {
					return fmt.Errorf("revoke: cookie block key %d is %d bytes; use 16, 24 or 32, or nil", i/2, n)
				}
			}
		}
		m.codecs = securecookie.CodecsFromPairs(keyPairs...)
		return nil
	}
}

// WithLifetime sets the absolute lifetime of a session (default 7 days).
func WithLifetime(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return fmt.Errorf("revoke: lifetime must be positive, got %v", d)
		}
		m.lifetime = d
		return nil
	}
}

// WithIdleTimeout sets how long a session lives without being used (default
// 24 hours). Zero turns the idle timeout off: only the lifetime applies.
func WithIdleTimeout(d time.Duration) Option {
	return func(m *Manager) error {
		if d < 0 {
			return fmt.Errorf("revoke: idle timeout must not be negative, got %v", d)
		}
		m.idleTimeout = d
		return nil
	}
}

// WithTouchInterval sets how often, at most, a session's last-seen time is
// written to the store (default 1 minute). Requests in between cost no
// write. It must be shorter than the idle timeout.
func WithTouchInterval(d time.Duration) Option {
	return func(m *Manager) error {
		if d < 0 {
			return fmt.Errorf("revoke: touch interval must not be negative, got %v", d)
		}
		m.touchInterval = d
		return nil
	}
}

// WithLogger sets the logger for store failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) error {
		if l == nil {
			return errors.New("revoke: nil logger")
		}
		m.logger = l
		return nil
	}
}

// WithErrorFunc sets what the middleware does when the store fails while
// resolving a session. The default logs the error and answers 500 with a
// generic body, or 503 with Retry-After when the store did not answer
// within its deadline (store.ErrUnavailable); the request does not reach
// the next handler, because treating an outage as "logged out" would
// expire every user's cookie.
func WithErrorFunc(f func(http.ResponseWriter, *http.Request, error)) Option {
	return func(m *Manager) error {
		if f == nil {
			return errors.New("revoke: nil error func")
		}
		m.errorFunc = f
		return nil
	}
}

// WithUnauthorizedHandler sets what RequireSession serves to a request
// without a valid session (default: 401 with a short JSON body).
func WithUnauthorizedHandler(h http.Handler) Option {
	return func(m *Manager) error {
		if h == nil {
			return errors.New("revoke: nil unauthorized handler")
		}
		m.unauthorized = h
		return nil
	}
}

// WithClientIP sets how the client's address is read from a request, for
// example from X-Forwarded-For behind a trusted proxy. The default is the
// host part of r.RemoteAddr.
func WithClientIP(f func(*http.Request) string) Option {
	return func(m *Manager) error {
		if f == nil {
			return errors.New("revoke: nil client IP func")
		}
		m.clientIP = f
		return nil
	}
}

// WithClock sets the Manager's clock, for tests and simulations.
func WithClock(now func() time.Time) Option {
	return func(m *Manager) error {
		if now == nil {
			return errors.New("revoke: nil clock")
		}
		m.now = now
		return nil
	}
}

// New returns a Manager working on the given store.
func New(st store.SessionStore, opts ...Option) (*Manager, error) {
	if st == nil {
		return nil, errors.New("revoke: nil store")
	}
	m := &Manager{
		store:         st,
		cookie:        hostCookie,
		lifetime:      DefaultLifetime,
		idleTimeout:   DefaultIdleTimeout,
		touchInterval: DefaultTouchInterval,
		now:           time.Now,
		logger:        slog.Default(),
		clientIP:      remoteIP,
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if m.idleTimeout > 0 && m.touchInterval >= m.idleTimeout {
		return nil, fmt.Errorf("revoke: touch interval %v must be shorter than the idle timeout %v", m.touchInterval, m.idleTimeout)
	}
	if m.codecs == nil {
		m.codecs = securecookie.CodecsFromPairs(securecookie.GenerateRandomKey(32))
	}
	for _, c := range m.codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			// Raw bytes instead of gob: the value is a token, and gob
			// would cost most of the decode time.
			sc.SetSerializer(securecookie.NopEncoder{})
			sc.MaxAge(int(m.lifetime / time.Second))
		}
	}
	if m.errorFunc == nil {
		m.errorFunc = m.defaultErrorFunc
	}
	if m.unauthorized == nil {
		m.unauthorized = http.HandlerFunc(defaultUnauthorized)
	}
	return m, nil
}

// Store returns the store the Manager works on.
func (m *Manager) Store() store.SessionStore { return m.store }

// Now returns the current time on the Manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// DeviceOf returns the device a request comes from.
func (m *Manager) DeviceOf(r *http.Request) Device {
	return Device{IP: m.clientIP(r), UserAgent: r.UserAgent()}
}

// Renew gives the current session of r a new token, against session
// fixation after a login or a change of privilege. The old token stops
// working at once. When the session came from the cookie, a new cookie is
// set on w. The new token is returned.
//
// A session presented by a bare token cookie (an scs session, see
// WithTokenCookie) is not renewed here, since that library would write its
// old token back: it fails with ErrRenewElsewhere, and is renewed with that
// library's own call (scs's RenewToken).
func (m *Manager) Renew(w http.ResponseWriter, r *http.Request) (string, error) {
	cur, err := m.current(r)
	if err != nil {
		return "", err
	}
	if cur.bare {
		return "", ErrRenewElsewhere
	}
	token := newToken()
	err = m.store.ReplaceToken(r.Context(), cur.ID, HashToken(token), m.now())
	switch {
	case errors.Is(err, store.ErrInactive):
		return "", ErrRevoked
	case err != nil:
		return "", fmt.Errorf("revoke: renew token: %w", err)
	}
	if cur.Source == SourceCookie {
		if err := m.SetCookie(w, token, cur.ExpiresAt); err != nil {
			return "", err
		}
	}
	return token, nil
}

// Logout revokes the current session of r and expires the session cookie.
// A request without a session is not an error.
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) error {
	m.ExpireCookie(w)
	cur, err := m.current(r)
	if Anonymous(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = m.RevokeSession(r.Context(), cur.UserID, cur.ID, Cause{Actor: "user:" + cur.UserID, Reason: ReasonLogout})
	return err
}

func (m *Manager) idleDeadline(now time.Time) time.Time {
	if m.idleTimeout == 0 {
		return now.Add(m.lifetime)
	}
	return now.Add(m.idleTimeout)
}

// HashToken returns the SHA-256 digest under which a token is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

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

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
