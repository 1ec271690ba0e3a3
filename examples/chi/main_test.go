package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

const adminToken = "an-admin-token-of-the-test"

// TestChi: on chi, the app's pages, the handlers' routes (their 405 too),
// r.PathValue and a revocation behave as on net/http's ServeMux.
func TestChi(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	r, err := newRouter(m, adminToken)
	is.NoErr(err)
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := func() *http.Client {
		jar, err := cookiejar.New(nil)
		is.NoErr(err)
		return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	do := func(c *http.Client, method, path string, form url.Values, header ...string) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		is.NoErr(err)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := c.Do(req)
		is.NoErr(err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		is.NoErr(err)
		return res.StatusCode, res.Header.Get("Location"), string(b)
	}

	laptop, phone := browser(), browser()
	code, loc, _ := do(laptop, http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther)
	is.Equal(loc, "/login?next=%2F")
	code, _, _ = do(laptop, http.MethodPost, "/login", url.Values{"user": {"alice"}, "password": {"wrong"}})
	is.Equal(code, http.StatusUnauthorized)
	for _, c := range []*http.Client{laptop, phone} {
		code, loc, _ = do(c, http.MethodPost, "/login", url.Values{"user": {"alice"}, "password": {"secret"}, "next": {"/"}})
		is.Equal(code, http.StatusSeeOther)
		is.Equal(loc, "/")
	}
	code, _, page := do(laptop, http.MethodGet, "/", nil)
	is.Equal(code, http.StatusOK)
	is.True(strings.HasPrefix(page, "hello alice"))

	// The handlers' routes through chi: Kratos' list, and its 405.
	code, _, list := do(laptop, http.MethodGet, "/auth/sessions", nil)
	is.Equal(code, http.StatusOK)
	_, _, phonePage := do(phone, http.MethodGet, "/", nil)
	phoneID := strings.TrimSpace(phonePage[strings.LastIndex(phonePage, " ")+1:])
	is.True(strings.Contains(list, phoneID)) // the phone is among the laptop's other sessions
	code, _, _ = do(laptop, http.MethodPut, "/auth/sessions", nil)
	is.Equal(code, http.StatusMethodNotAllowed)

	// The app's route reads {id} with r.PathValue.
	code, _, _ = do(laptop, http.MethodDelete, "/api/sessions/"+phoneID, nil)
	is.Equal(code, http.StatusNoContent)
	code, _, _ = do(phone, http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther) // signed out
	code, _, _ = do(laptop, http.MethodDelete, "/api/sessions/"+phoneID, nil)
	is.Equal(code, http.StatusNoContent) // idempotent
	code, _, _ = do(laptop, http.MethodDelete, "/api/sessions/unknown", nil)
	is.Equal(code, http.StatusNotFound)

	// An administrator, through Okta's route.
	code, _, _ = do(browser(), http.MethodDelete, "/api/v1/users/alice/sessions", nil, "Authorization", "SSWS "+adminToken)
	is.Equal(code, http.StatusNoContent)
	code, _, _ = do(laptop, http.MethodGet, "/", nil)
	is.Equal(code, http.StatusSeeOther)

	// A cross-site form changes nothing.
	code, _, _ = do(phone, http.MethodPost, "/login", url.Values{"user": {"alice"}, "password": {"secret"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	is.Equal(code, http.StatusForbidden)
}

func TestShortAdminToken(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	_, err = newRouter(m, "short")
	is.True(err != nil)
}
