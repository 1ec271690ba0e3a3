package revoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/internal/otelstore"
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
	tokenCookie   func() string // nil: none
	lifetime      time.Duration
	idleTimeout   time.Duration
	touchInterval time.Duration
	now           func() time.Time
	logger        *slog.Logger
	errorFunc     func(http.ResponseWriter, *http.Request, error)
	unauthorized  http.Handler
	clientIP      func(*http.Request) string

	plainHTTP          bool        // WithInsecureDevelopmentCookie
	insecureWarned     atomic.Bool // the Secure-over-HTTP warning was logged
	noMiddlewareWarned atomic.Bool // the guard-without-Middleware error was logged

	oauthRevoker    OAuthTokenRevoker
	deviceForgetter DeviceForgetter
	onRevoke        []func(context.Context, Event)
	onLogin         []func(context.Context, LoginEvent)

	limit  *store.Limit // WithMaxSessions; nil: no cap
	outbox []OutboxFunc // WithOutbox; see outbox.go

	meterProvider  metric.MeterProvider // nil: the global one
	tracerProvider trace.TracerProvider // nil: the global one
	tel            *telemetry
	calls          *otelstore.Store // store, measured; see telemetry.go
	closeOnce      sync.Once
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
	if err := option.Apply("revoke", m, opts); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	if err := m.setupTelemetry(); err != nil {
		return nil, err
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

// check refuses settings that cannot work together, and warns about a
// cookie that scripts can read.
func (m *Manager) check() error {
	if m.plainHTTP {
		m.cookie.Secure = false
		if m.cookie.Name == HostCookieName {
			m.cookie.Name = DefaultCookieName // browsers refuse __Host- without Secure
		}
	}
	switch c := m.cookie; {
	case m.idleTimeout > 0 && m.touchInterval >= m.idleTimeout:
		return fmt.Errorf("revoke: touch interval %v must be shorter than the idle timeout %v", m.touchInterval, m.idleTimeout)
	case m.idleTimeout > m.lifetime:
		return fmt.Errorf("revoke: idle timeout %v is longer than the lifetime %v, so it would never apply", m.idleTimeout, m.lifetime)
	case c.SameSite == http.SameSiteNoneMode && !c.Secure:
		return errors.New("revoke: a SameSite=None cookie must be Secure: browsers drop it otherwise")
	case m.tokenCookieName() == c.Name:
		return fmt.Errorf("revoke: the token cookie and the session cookie are both named %q", c.Name)
	case strings.HasPrefix(c.Name, "__Host-") && (!c.Secure || c.Domain != "" || c.Path != "/"):
		return fmt.Errorf("revoke: cookie %q: the __Host- prefix needs Secure, no Domain and Path \"/\"", c.Name)
	}
	if !m.cookie.HttpOnly {
		m.logger.Warn("revoke: the session cookie is not HttpOnly: any script on the page can read and send it (start from revoke.DefaultCookie())",
			"cookie", m.cookie.Name)
	}
	return nil
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
	return m.renew(w, r, cur)
}

// renew gives cur a new token, setting the cookie when cur came from it.
func (m *Manager) renew(w http.ResponseWriter, r *http.Request, cur Current) (string, error) {
	token := newToken()
	err := m.calls.ReplaceToken(r.Context(), cur.ID, HashToken(token), m.now())
	switch {
	case errors.Is(err, store.ErrInactive), errors.Is(err, store.ErrNotFound):
		return "", ErrRevoked
	case err != nil:
		return "", fmt.Errorf("revoke: renew token: %w", err)
	}
	if cur.Source == SourceCookie {
		m.warnDroppedCookie(r)
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
	_, err = m.RevokeSession(r.Context(), cur.UserID, cur.ID, Cause{Actor: UserActor(cur.UserID), Reason: ReasonLogout})
	return err
}

func (m *Manager) idleDeadline(now time.Time) time.Time {
	if m.idleTimeout == 0 {
		return now.Add(m.lifetime)
	}
	return now.Add(m.idleTimeout)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
