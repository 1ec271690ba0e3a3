package revoke

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Manager.
type Option func(*Manager) error

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

// WithInsecureDevelopmentCookie is for developing over plain HTTP on a host
// that is not loopback (a LAN address, a container's name): the session
// cookie loses its Secure flag, which browsers would otherwise drop on such
// a connection, and is named DefaultCookieName. Browsers keep Secure
// cookies from http://localhost, so loopback needs no option. Never use it
// in production: the cookie then travels unencrypted.
func WithInsecureDevelopmentCookie() Option {
	return func(m *Manager) error {
		m.plainHTTP = true
		return nil
	}
}
