package revoke

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// Cookie holds the attributes of the session cookie.
type Cookie struct {
	// Name is the cookie's name. Empty means the default: HostCookieName
	// for a Secure cookie without Domain on Path "/", whose "__Host-"
	// prefix makes browsers refuse the same name set by a sibling
	// subdomain, another port's page or for a narrower path, and
	// DefaultCookieName otherwise (a development server on plain HTTP,
	// where browsers drop Secure cookies). A name with the "__Host-" or
	// "__Secure-" prefix must have the attributes the prefix demands.
	Name     string
	Domain   string
	Path     string
	Secure   bool
	HttpOnly bool
	SameSite http.SameSite
	// Persist makes the cookie outlive the browser session (it carries
	// Expires and Max-Age set to the session's absolute expiry). When false
	// the cookie is a browser-session cookie.
	Persist bool
}

// The default names of the session cookie (see Cookie.Name).
const (
	DefaultCookieName = "revoke_session"
	HostCookieName    = "__Host-" + DefaultCookieName
)

// DefaultCookie returns the cookie attributes used unless WithCookie is given:
// HttpOnly, Secure, SameSite=Lax, Path=/, persistent, and the default name,
// which for these attributes is HostCookieName.
func DefaultCookie() Cookie {
	return Cookie{
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Persist:  true,
	}
}

// hostCookie is DefaultCookie with its name filled in.
var hostCookie, _ = DefaultCookie().named()

// named returns c with its default name filled in, or an error when the
// name's prefix asks for attributes c lacks.
func (c Cookie) named() (Cookie, error) {
	if c.Path == "" {
		c.Path = "/"
	}
	host := c.Secure && c.Domain == "" && c.Path == "/"
	switch {
	case c.Name == "" && host:
		c.Name = HostCookieName
	case c.Name == "":
		c.Name = DefaultCookieName
	case strings.HasPrefix(c.Name, "__Host-") && !host:
		return Cookie{}, fmt.Errorf("revoke: cookie %q: the __Host- prefix needs Secure, no Domain and Path \"/\"", c.Name)
	case strings.HasPrefix(c.Name, "__Secure-") && !c.Secure:
		return Cookie{}, fmt.Errorf("revoke: cookie %q: the __Secure- prefix needs Secure", c.Name)
	}
	return c, nil
}

// WithCookie sets the session cookie's attributes. Start from DefaultCookie
// and change what you need; an empty Name picks the default for the
// attributes (see Cookie.Name).
func WithCookie(c Cookie) Option {
	return func(m *Manager) error {
		named, err := c.named()
		if err != nil {
			return err
		}
		m.cookie = named
		return nil
	}
}

// WithTokenCookie makes the Manager also resolve sessions from a cookie that
// carries a bare token rather than a signed one, as scs's session cookie does
// (its default name is "session"). Use it with scsstore, so that an scs app's
// existing cookies work with the middleware and the handlers. A usable
// signed session cookie, when present, is preferred.
func WithTokenCookie(name string) Option {
	return func(m *Manager) error {
		if name == "" {
			return errors.New("revoke: token cookie name is empty")
		}
		m.tokenCookie = func() string { return name }
		return nil
	}
}

// WithTokenCookieFrom is WithTokenCookie with the name read on every use,
// for a library whose cookie name may still be set after the Manager is
// made: scsstore.ManagerOptions passes scs's sm.Cookie.Name this way. An
// empty name means no token cookie.
func WithTokenCookieFrom(name func() string) Option {
	return func(m *Manager) error {
		if name == nil {
			return errors.New("revoke: nil token cookie name func")
		}
		m.tokenCookie = name
		return nil
	}
}

// tokenCookieName is the name of the bare token cookie, or "".
func (m *Manager) tokenCookieName() string {
	if m.tokenCookie == nil {
		return ""
	}
	return m.tokenCookie()
}

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

// ErrAmbiguousSession means the request carried several session cookies
// that resolve to different usable sessions. One of them may have been
// planted by a page of another port or a sibling subdomain (cookie
// tossing), so none is picked: the request is anonymous.
var ErrAmbiguousSession = errors.New("revoke: several session cookies name different sessions")

// cookieTokens returns the distinct tokens in r's session cookies, signed
// ones first: every signed cookie of the name that passes the signature
// check, then every bare token cookie (WithTokenCookie). signedSeen reports
// that r had a signed cookie of the name at all, valid or not.
func (m *Manager) cookieTokens(r *http.Request) (signed, bare []string, signedSeen bool) {
	for _, c := range r.CookiesNamed(m.cookie.Name) {
		signedSeen = true
		var raw []byte
		if securecookie.DecodeMulti(m.cookie.Name, c.Value, &raw, m.codecs...) == nil {
			signed = appendNew(signed, string(raw))
		}
	}
	if name := m.tokenCookieName(); name != "" && name != m.cookie.Name {
		for _, c := range r.CookiesNamed(name) {
			bare = appendNew(bare, c.Value)
		}
	}
	return signed, bare, signedSeen
}

func appendNew(list []string, v string) []string {
	for _, have := range list {
		if have == v {
			return list
		}
	}
	return append(list, v)
}

// SetCookie sets the session cookie carrying token on w. expires is the
// session's absolute expiry, used when the cookie persists.
func (m *Manager) SetCookie(w http.ResponseWriter, token string, expires time.Time) error {
	value, err := securecookie.EncodeMulti(m.cookie.Name, []byte(token), m.codecs...)
	if err != nil {
		return fmt.Errorf("revoke: encode cookie: %w", err)
	}
	c := m.newCookie(value)
	if m.cookie.Persist {
		c.Expires = expires.UTC()
		c.MaxAge = max(1, int(expires.Sub(m.now()).Seconds()))
	}
	http.SetCookie(w, c)
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
	return nil
}

// ExpireCookie tells the browser to drop the session cookie.
// With WithTokenCookie it drops the token cookie too.
func (m *Manager) ExpireCookie(w http.ResponseWriter) {
	m.expireSignedCookie(w)
	if name := m.tokenCookieName(); name != "" && name != m.cookie.Name {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", Expires: time.Unix(1, 0), MaxAge: -1,
			Secure: m.cookie.Secure, HttpOnly: true, SameSite: m.cookie.SameSite})
	}
}

// expireSignedCookie drops only the signed session cookie: resolution uses
// it for a stale cookie of its own, and leaves a token cookie to the
// library that set it.
func (m *Manager) expireSignedCookie(w http.ResponseWriter) {
	c := m.newCookie("")
	c.Expires = time.Unix(1, 0)
	c.MaxAge = -1
	http.SetCookie(w, c)
}

func (m *Manager) newCookie(value string) *http.Cookie {
	return &http.Cookie{
		Name:     m.cookie.Name,
		Value:    value,
		Domain:   m.cookie.Domain,
		Path:     m.cookie.Path,
		Secure:   m.cookie.Secure,
		HttpOnly: m.cookie.HttpOnly,
		SameSite: m.cookie.SameSite,
	}
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.cookie.Name }

// warnDroppedCookie logs, once per Manager, that a Secure cookie is being
// set on a plain HTTP request from another machine, which the browser will
// drop: the sign-in seems to work and the next page is anonymous.
func (m *Manager) warnDroppedCookie(r *http.Request) {
	if !m.cookie.Secure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return
	}
	if ip := net.ParseIP(remoteIP(r)); ip != nil && ip.IsLoopback() {
		return // browsers keep Secure cookies from http://localhost
	}
	if m.insecureWarned.CompareAndSwap(false, true) {
		m.logger.WarnContext(r.Context(), "revoke: a Secure session cookie is set over plain HTTP; the browser will drop it. "+
			"Serve HTTPS (or send X-Forwarded-Proto: https from the proxy), or for development use revoke.WithInsecureDevelopmentCookie()",
			"host", r.Host, "remote", r.RemoteAddr)
	}
}
