package revoke_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// loginCookie logs userID in through m and returns the session cookie set.
func loginCookie(t *testing.T, m *revoke.Manager, userID string) (*http.Cookie, *httptest.ResponseRecorder) {
	t.Helper()
	w := httptest.NewRecorder()
	if _, _, err := m.Login(w, httptest.NewRequest("POST", "/login", nil), userID); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == m.CookieName() {
			return c, w
		}
	}
	t.Fatal("no session cookie set")
	return nil, nil
}

// whoami runs r through m's middleware and reports the resolved session,
// the response, and why the request stayed anonymous (nil when it did not).
func whoami(m *revoke.Manager, r *http.Request) (revoke.Current, bool, *httptest.ResponseRecorder, error) {
	var (
		cur    revoke.Current
		ok     bool
		reason error
	)
	w := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		cur, ok = revoke.FromContext(r.Context())
		reason = revoke.FailureReason(r.Context())
	})).ServeHTTP(w, r)
	return cur, ok, w, reason
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	return r
}

func TestCookieDefaults(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	c, w := loginCookie(t, m, "alice")
	is.Equal(c.Name, revoke.HostCookieName) // Secure, host-only, Path=/: the __Host- prefix
	is.True(c.HttpOnly)
	is.True(c.Secure)
	is.Equal(c.SameSite, http.SameSiteLaxMode)
	is.Equal(c.Path, "/")
	is.True(c.MaxAge > 0)
	is.Equal(w.Header().Get("Cache-Control"), `no-cache="Set-Cookie"`)
}

func TestCookieKeyRotation(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	defer st.Close()
	oldKey := []byte("old-hash-key-old-hash-key-old-ha")
	newKey := []byte("new-hash-key-new-hash-key-new-ha")
	block := []byte("0123456789abcdef")
	before, err := revoke.New(st, revoke.WithCookieKeys(oldKey, block))
	is.NoErr(err)
	oldCookie, _ := loginCookie(t, before, "alice")

	after, err := revoke.New(st, revoke.WithCookieKeys(newKey, block, oldKey, block))
	is.NoErr(err)
	cur, ok, _, _ := whoami(after, withCookie(oldCookie))
	is.True(ok) // an old cookie still decodes after rotation
	is.Equal(cur.UserID, "alice")
	is.Equal(cur.Source, revoke.SourceCookie)

	newCookie, _ := loginCookie(t, after, "bob")
	_, ok, _, reason := whoami(before, withCookie(newCookie))
	is.True(!ok) // new cookies use the new key only
	is.True(errors.Is(reason, revoke.ErrMalformedToken))

	retired, err := revoke.New(st, revoke.WithCookieKeys(newKey, block))
	is.NoErr(err)
	_, ok, _, reason = whoami(retired, withCookie(oldCookie))
	is.True(!ok) // a retired key's cookie is rejected
	is.True(errors.Is(reason, revoke.ErrMalformedToken))
}

func TestCookieIsEncryptedWithBlockKey(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	defer st.Close()
	m, err := revoke.New(st, revoke.WithCookieKeys(testKey, []byte("0123456789abcdef0123456789abcdef")))
	is.NoErr(err)
	w := httptest.NewRecorder()
	_, token, err := m.Login(w, httptest.NewRequest("POST", "/", nil), "alice")
	is.NoErr(err)
	c := w.Result().Cookies()[0]
	is.True(!containsToken(c.Value, token))
}

func containsToken(value, token string) bool {
	for i := 0; i+len(token) <= len(value); i++ {
		if value[i:i+len(token)] == token {
			return true
		}
	}
	return false
}

// lookupCounter counts token lookups, to prove forged cookies never reach
// the store.
type lookupCounter struct {
	store.SessionStore
	lookups int
}

func (l *lookupCounter) GetByTokenHash(ctx context.Context, h [32]byte) (store.Session, error) {
	l.lookups++
	return l.SessionStore.GetByTokenHash(ctx, h)
}

func TestForgedCookieRejectedBeforeLookup(t *testing.T) {
	is := is.New(t)
	st := &lookupCounter{SessionStore: memstore.New()}
	defer st.Close()
	m, err := revoke.New(st, revoke.WithCookieKeys(testKey))
	is.NoErr(err)
	good, _ := loginCookie(t, m, "alice")

	for _, value := range []string{
		"garbage",
		good.Value[:len(good.Value)-2] + "xx", // tampered signature
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    // a bare token is not a cookie
	} {
		_, ok, w, reason := whoami(m, withCookie(&http.Cookie{Name: m.CookieName(), Value: value}))
		is.True(!ok)
		is.True(errors.Is(reason, revoke.ErrMalformedToken))
		is.True(expiresCookie(w, m.CookieName()))
	}
	is.Equal(st.lookups, 0)

	signedElsewhere, err := revoke.New(st, revoke.WithCookieKeys([]byte("another-key-another-key-another-")))
	is.NoErr(err)
	forged, _ := loginCookie(t, signedElsewhere, "mallory")
	before := st.lookups
	_, ok, _, _ := whoami(m, withCookie(forged))
	is.True(!ok)
	is.Equal(st.lookups, before)
}

func expiresCookie(w *httptest.ResponseRecorder, name string) bool {
	for _, c := range w.Result().Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestHeaderWinsOverCookie(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	aliceCookie, _ := loginCookie(t, m, "alice")
	_, bobToken, err := m.Create(context.Background(), "bob", revoke.Device{})
	is.NoErr(err)

	r := withCookie(aliceCookie)
	r.Header.Set(revoke.HeaderName, bobToken)
	cur, ok, _, _ := whoami(m, r)
	is.True(ok)
	is.Equal(cur.UserID, "bob")
	is.Equal(cur.Source, revoke.SourceHeader)

	// A header that does not resolve does not fall back to the cookie.
	r = withCookie(aliceCookie)
	r.Header.Set(revoke.HeaderName, "not-a-token")
	_, ok, w, reason := whoami(m, r)
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrMalformedToken))
	is.True(!expiresCookie(w, m.CookieName())) // the cookie was not what failed

	// Two header values are ambiguous, so neither is used.
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Add(revoke.HeaderName, bobToken)
	r.Header.Add(revoke.HeaderName, bobToken)
	_, ok, _, reason = whoami(m, r)
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrMalformedToken))

	_, ok, _, reason = whoami(m, httptest.NewRequest("GET", "/", nil))
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrNoSession))
}

// failingStore fails every call with an error whose text must never reach
// a client.
type failingStore struct{ store.SessionStore }

var errDriver = errors.New("driver: connection refused to db-7.internal")

func (failingStore) GetByTokenHash(context.Context, [32]byte) (store.Session, error) {
	return store.Session{}, errDriver
}

func TestStoreFailureIsAnErrorNotALogout(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	defer st.Close()
	good, err := revoke.New(st, revoke.WithCookieKeys(testKey))
	is.NoErr(err)
	c, _ := loginCookie(t, good, "alice")

	var got error
	m, err := revoke.New(failingStore{st}, revoke.WithCookieKeys(testKey))
	is.NoErr(err)
	_, _, w, _ := whoami(m, withCookie(c))
	is.Equal(w.Code, 500)
	is.True(!containsToken(w.Body.String(), "db-7"))
	is.True(!expiresCookie(w, m.CookieName()))

	m, err = revoke.New(failingStore{st}, revoke.WithCookieKeys(testKey), revoke.WithErrorFunc(func(w http.ResponseWriter, _ *http.Request, err error) {
		got = err
		w.WriteHeader(503)
	}))
	is.NoErr(err)
	_, _, w, _ = whoami(m, withCookie(c))
	is.Equal(w.Code, 503)
	is.True(errors.Is(got, errDriver))
}

func TestOptionsValidate(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	for name, opt := range map[string]revoke.Option{
		"short hash key":                           revoke.WithCookieKeys([]byte("short")),
		"bad block key":                            revoke.WithCookieKeys(testKey, []byte("123")),
		"no keys":                                  revoke.WithCookieKeys(),
		"zero lifetime":                            revoke.WithLifetime(0),
		"negative idle":                            revoke.WithIdleTimeout(-time.Second),
		"touch beyond idle":                        revoke.WithTouchInterval(48 * time.Hour),
		"__Host- not secure":                       revoke.WithCookie(revoke.Cookie{Name: "__Host-s", Path: "/"}),
		"__Host- with domain":                      revoke.WithCookie(revoke.Cookie{Name: "__Host-s", Secure: true, Domain: "example.com"}),
		"__Host- on a path":                        revoke.WithCookie(revoke.Cookie{Name: "__Host-s", Secure: true, Path: "/app"}),
		"__Secure- plain":                          revoke.WithCookie(revoke.Cookie{Name: "__Secure-s"}),
		"idle beyond lifetime":                     revoke.WithIdleTimeout(8 * 24 * time.Hour),
		"SameSite=None plain":                      revoke.WithCookie(revoke.Cookie{Name: "s", SameSite: http.SameSiteNoneMode, HttpOnly: true}),
		"token cookie named as the session cookie": revoke.WithTokenCookie(revoke.HostCookieName),
		"nil option":                               nil,
		"nil clock":                                revoke.WithClock(nil),
		"nil error func":                           revoke.WithErrorFunc(nil),
		"nil revocation hook":                      revoke.OnRevoke(nil),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := revoke.New(st, opt); err == nil {
				t.Fatalf("New accepted %s", name)
			}
		})
	}
	if _, err := revoke.New(nil); err == nil {
		t.Fatal("New accepted a nil store")
	}
}

func TestTossedCookieDoesNotHideTheRealOne(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	real, _ := loginCookie(t, m, "alice")
	// A sibling subdomain or a longer path can plant a cookie of the same
	// name that the browser sends first.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", m.CookieName()+"=planted-by-a-sibling; "+real.String())
	cur, ok, w, _ := whoami(m, r)
	is.True(ok)
	is.Equal(cur.UserID, "alice")
	is.True(!expiresCookie(w, m.CookieName())) // the real cookie is kept
}

func TestTokenCookieIsLeftToItsOwner(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t, revoke.WithTokenCookie("session"))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) // an anonymous or unknown scs session
	_, ok, w, reason := whoami(m, r)
	is.True(!ok)
	is.True(errors.Is(reason, revoke.ErrUnknownToken))
	is.Equal(len(w.Result().Cookies()), 0) // neither cookie is touched

	// An explicit expiry (sign-out) drops both.
	w = httptest.NewRecorder()
	m.ExpireCookie(w)
	names := map[string]bool{}
	for _, c := range w.Result().Cookies() {
		is.True(c.MaxAge < 0)
		names[c.Name] = true
	}
	is.True(names["session"] && names[m.CookieName()])
}

func TestLogoutAndRenewOutsideTheMiddleware(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	c, _ := loginCookie(t, m, "alice")

	token, err := m.Renew(httptest.NewRecorder(), withCookie(c))
	is.NoErr(err)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(revoke.HeaderName, token)
	is.NoErr(m.Logout(httptest.NewRecorder(), r)) // no Middleware around either call
	_, err = m.Resolve(context.Background(), token)
	is.True(errors.Is(err, revoke.ErrRevoked))

	// Without any session, Logout is not an error.
	is.NoErr(m.Logout(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)))
}
