package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

const adminToken = "an-admin-token-of-the-test"

// browser is an HTTP client with a cookie jar that follows no redirect.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
	ua  string
}

func newBrowser(t *testing.T, srv *httptest.Server, userAgent string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, c: c, url: srv.URL, ua: userAgent}
}

// do sends a request and returns its status, Location and body.
func (b *browser) do(method, path string, form url.Values, header ...string) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("User-Agent", b.ua)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Location"), string(text)
}

func (b *browser) login(user, password, next string) (int, string, string) {
	return b.do(http.MethodPost, "/login", url.Values{"user": {user}, "password": {password}, "next": {next}})
}

var revokeForm = regexp.MustCompile(`action="/sessions/([^/"]+)/revoke"`)

// otherSessions returns the ids of the sessions the page offers to end.
func otherSessions(page string) []string {
	var ids []string
	for _, m := range revokeForm.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

const (
	chrome  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

func newTestServer(t *testing.T) (*httptest.Server, *revoke.Manager) {
	m, err := revoke.New(memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	h, err := newServer(m, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, m
}

// TestSessionsPage walks the README's app as two browsers of one user do.
func TestSessionsPage(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	laptop, phone := newBrowser(t, srv, chrome), newBrowser(t, srv, firefox)

	code, loc, _ := laptop.do(http.MethodGet, "/?tab=1", nil)
	is.Equal(code, http.StatusSeeOther) // a page without a session: to the form
	is.Equal(loc, "/login?next=%2F%3Ftab%3D1")
	code, _, page := laptop.do(http.MethodGet, "/login?next=%2F%3Ftab%3D1", nil)
	is.Equal(code, http.StatusOK)
	is.True(strings.Contains(page, `name="next" value="/?tab=1"`))

	code, _, page = laptop.login("alice", "wrong", "/")
	is.Equal(code, http.StatusUnauthorized)
	is.True(strings.Contains(page, "Wrong user or password."))
	code, loc, _ = laptop.login("alice", "secret", "/?tab=1")
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/?tab=1") // back where the user was going
	code, loc, _ = phone.login("alice", "secret", "https://evil.example/")
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/") // never to another site

	code, _, page = laptop.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)
	is.True(strings.Contains(page, "Your sessions, alice"))
	is.True(strings.Contains(page, "Chrome 131 on macOS"))
	is.True(strings.Contains(page, "Firefox 133 on Linux"))
	is.True(strings.Contains(page, "this browser"))
	others := otherSessions(page)
	is.Equal(len(others), 1) // the phone's

	// Another user's session cannot be ended from here.
	bob := newBrowser(t, srv, chrome)
	bob.login("bob", "secret", "/")
	code, _, _ = bob.do(http.MethodPost, "/sessions/"+others[0]+"/revoke", url.Values{})
	is.Equal(code, http.StatusNotFound)
	code, _, _ = phone.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)

	// The laptop ends the phone's session: the phone's next request is out.
	code, loc, _ = laptop.do(http.MethodPost, "/sessions/"+others[0]+"/revoke", url.Values{})
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/")
	code, loc, _ = phone.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/login?next=%2F")

	// "Sign out everywhere else" ends every session but the laptop's.
	phone.login("alice", "secret", "/")
	tablet := newBrowser(t, srv, firefox)
	tablet.login("alice", "secret", "/")
	_, _, page = laptop.do(http.MethodGet, "/", nil)
	is.Equal(len(otherSessions(page)), 2)
	code, _, _ = laptop.do(http.MethodPost, "/sessions/revoke-others", url.Values{})
	is.Equal(code, http.StatusSeeOther)
	for _, b := range []*browser{phone, tablet} {
		code, _, _ = b.do(http.MethodGet, "/", nil)
		is.Equal(code, http.StatusSeeOther)
	}
	code, _, page = laptop.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)
	is.Equal(len(otherSessions(page)), 0)

	// Signing out ends the laptop's session too.
	code, loc, _ = laptop.do(http.MethodPost, "/logout", url.Values{})
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/login")
	code, _, _ = laptop.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther)
	// A form of the page, posted once signed out, leads to the form alone:
	// coming back to a POST-only route with a GET would be a 405.
	code, loc, _ = laptop.do(http.MethodPost, "/sessions/revoke-others", url.Values{})
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/login")
}

// TestAdmin: an administrator signs a user out from the page or through the
// admin API; no one else can.
func TestAdmin(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	alice, bob, admin := newBrowser(t, srv, chrome), newBrowser(t, srv, chrome), newBrowser(t, srv, firefox)
	alice.login("alice", "secret", "/")
	bob.login("bob", "secret", "/")
	admin.login("admin", "secret", "/")

	_, _, page := admin.do(http.MethodGet, "/", nil)
	is.True(strings.Contains(page, "Sign this user out everywhere"))
	_, _, page = bob.do(http.MethodGet, "/", nil)
	is.True(!strings.Contains(page, "Sign this user out everywhere"))

	code, _, _ := bob.do(http.MethodPost, "/admin/sign-out-user", url.Values{"user": {"alice"}})
	is.Equal(code, http.StatusForbidden)
	code, _, _ = alice.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)

	code, _, _ = admin.do(http.MethodPost, "/admin/sign-out-user", url.Values{"user": {"alice"}})
	is.Equal(code, http.StatusSeeOther)
	code, _, _ = alice.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther) // signed out

	// The admin API, with the token.
	curl := newBrowser(t, srv, "curl/8")
	code, _, _ = curl.do(http.MethodDelete, "/api/v1/users/bob/sessions", nil, "Authorization", "SSWS wrong-token-of-16-chars")
	is.Equal(code, http.StatusUnauthorized)
	code, _, _ = bob.do(http.MethodDelete, "/api/v1/users/bob/sessions", nil)
	is.Equal(code, http.StatusForbidden) // a session, but not an administrator's
	code, _, _ = curl.do(http.MethodDelete, "/api/v1/users/bob/sessions", nil, "Authorization", "SSWS "+adminToken)
	is.Equal(code, http.StatusNoContent)
	code, _, _ = bob.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther)
	code, _, _ = curl.do(http.MethodDelete, "/api/v1/users/mallory/sessions", nil, "Authorization", "SSWS "+adminToken)
	is.Equal(code, http.StatusNotFound) // not a user of the app
}

// TestCrossSiteForm: a form posted from another site ends no session.
func TestCrossSiteForm(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	alice, phone := newBrowser(t, srv, chrome), newBrowser(t, srv, firefox)
	alice.login("alice", "secret", "/")
	phone.login("alice", "secret", "/")
	code, _, _ := alice.do(http.MethodPost, "/sessions/revoke-others", url.Values{}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	is.Equal(code, http.StatusForbidden)
	code, _, _ = phone.do(http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)
}

// TestMisconfiguration: a short admin token or a missing key stops the app
// with an error that says what to do.
func TestMisconfiguration(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	_, err = newServer(m, "short")
	is.True(err != nil && strings.Contains(err.Error(), "at least 16 bytes"))
	_, err = newServer(m, "")
	is.True(err != nil)

	t.Setenv("SESSION_HASH_KEY", "")
	_, err = keyFromEnv("SESSION_HASH_KEY")
	is.True(err != nil && strings.Contains(err.Error(), "openssl rand -hex 32"))
	err = run() // the app does not start without its keys
	is.True(err != nil && strings.Contains(err.Error(), "SESSION_HASH_KEY"))
	t.Setenv("SESSION_HASH_KEY", strings.Repeat("ab", 16)) // 16 bytes: too short
	_, err = keyFromEnv("SESSION_HASH_KEY")
	is.True(err != nil)
	t.Setenv("SESSION_HASH_KEY", strings.Repeat("ab", 32))
	key, err := keyFromEnv("SESSION_HASH_KEY")
	is.NoErr(err)
	is.Equal(len(key), 32)
}
