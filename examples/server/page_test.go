package main

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestPage(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)

	res, b := c.do(http.MethodGet, "/", "")
	is.Equal(res.StatusCode, http.StatusOK)
	is.True(strings.HasPrefix(res.Header.Get("Content-Type"), "text/html"))
	is.True(strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'"))
	is.Equal(res.Header.Get("X-Content-Type-Options"), "nosniff")
	page := string(b)
	for _, id := range []string{"login-form", "sessions-table", "revoke-others", "revoke-all", "admin-view", "admin-user", "audit-table"} {
		is.True(strings.Contains(page, `id="`+id+`"`)) // the page has its controls
	}

	for path, ctype := range map[string]string{"/assets/app.js": "text/javascript", "/assets/app.css": "text/css"} {
		res, b := c.do(http.MethodGet, path, "")
		is.Equal(res.StatusCode, http.StatusOK)
		is.True(strings.HasPrefix(res.Header.Get("Content-Type"), ctype))
		is.True(len(b) > 0)
	}
	res, _ = c.do(http.MethodGet, "/no-such-page", "")
	is.Equal(res.StatusCode, http.StatusNotFound)
	res, _ = c.do(http.MethodPost, "/", "")
	is.Equal(res.StatusCode, http.StatusMethodNotAllowed)
}

// TestPageScriptMatchesMarkup keeps the script and the markup in step: every
// element the script looks up by id exists in the page, and every endpoint
// it calls is served.
func TestPageScriptMatchesMarkup(t *testing.T) {
	is := is.New(t)
	js, err := os.ReadFile("static/app.js")
	is.NoErr(err)
	html, err := os.ReadFile("static/index.html")
	is.NoErr(err)

	ids := regexp.MustCompile(`\$\("([a-z-]+)"\)`).FindAllStringSubmatch(string(js), -1)
	is.True(len(ids) > 10)
	for _, m := range ids {
		if !strings.Contains(string(html), `id="`+m[1]+`"`) {
			t.Errorf("app.js uses #%s, which index.html lacks", m[1])
		}
	}
	actions := regexp.MustCompile(`data-action="([a-z-]+)"|"data-action": "([a-z-]+)"`).FindAllStringSubmatch(string(html)+string(js), -1)
	for _, m := range actions {
		a := m[1] + m[2]
		if !strings.Contains(string(js), `"`+a+`": `) {
			t.Errorf("data-action %q has no handler in app.js", a)
		}
	}

	srv, _ := newTestServer(t)
	c := newClient(t, srv.URL)
	// Calls look like api("DELETE", `/auth/sessions/${encodeURIComponent(id)}`).
	calls := regexp.MustCompile(`api\("(GET|POST|DELETE)", [\x60"](/[^\x60"?]*)`).FindAllStringSubmatch(string(js), -1)
	is.True(len(calls) > 8)
	param := regexp.MustCompile(`\$\{[^}]*\}`)
	for _, m := range calls {
		path := param.ReplaceAllString(m[2], "alice")
		res, _ := c.do(m[1], path, "")
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, the route is missing", m[1], path, res.StatusCode)
		}
	}
}
