package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store/memstore"
)

const adminToken = "test-admin-token-0123456789"

type client struct {
	t   *testing.T
	c   *http.Client
	srv *httptest.Server
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, c: &http.Client{Jar: jar}, srv: srv}
}

func (c *client) do(method, path string, body url.Values, header ...string) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

func TestScsAppGainsRevocation(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	defer st.Close()
	app, err := newApp(st, adminToken)
	is.NoErr(err)
	srv := httptest.NewServer(app)
	defer srv.Close()

	phone, laptop, bob := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	for _, c := range []*client{phone, laptop} {
		code, _ := c.do("POST", "/login", url.Values{"user": {"alice"}})
		is.Equal(code, 200)
	}
	_, _ = bob.do("POST", "/login", url.Values{"user": {"bob"}})
	_, body := phone.do("GET", "/", nil)
	is.Equal(body, "hello, alice")
	_, body = phone.do("GET", "/any/page", nil)
	is.Equal(body, "hello, alice") // the app's GET / beside the mounted routes

	// "Sign out other devices" from the phone, with scs's own cookie.
	code, body := phone.do("DELETE", "/auth/sessions", nil)
	is.Equal(code, 200)
	var count struct{ Count int }
	is.NoErr(json.Unmarshal([]byte(body), &count))
	is.Equal(count.Count, 1)
	_, body = laptop.do("GET", "/", nil)
	is.Equal(body, "not signed in")
	_, body = phone.do("GET", "/", nil)
	is.Equal(body, "hello, alice")

	// An administrator signs alice out everywhere (Okta's API).
	code, _ = newClient(t, srv).do("DELETE", "/api/v1/users/alice/sessions", nil, "Authorization", "SSWS "+adminToken)
	is.Equal(code, 204)
	_, body = phone.do("GET", "/", nil)
	is.Equal(body, "not signed in")
	_, body = bob.do("GET", "/", nil)
	is.Equal(body, "hello, bob")

	// Unknown users are 404, bad credentials 401, as the contract says.
	code, _ = newClient(t, srv).do("DELETE", "/api/v1/users/mallory/sessions", nil, "Authorization", "SSWS "+adminToken)
	is.Equal(code, 404)
	code, _ = newClient(t, srv).do("DELETE", "/api/v1/users/bob/sessions", nil, "Authorization", "SSWS wrong-token-wrong-token")
	is.Equal(code, 401)
	_, body = bob.do("GET", "/", nil)
	is.Equal(body, "hello, bob")
}
