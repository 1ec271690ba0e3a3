package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

const (
	testPassword   = "correct horse battery staple"
	testAdminToken = "test-admin-token-0123456789"
)

// newTestServer serves a demo app on a memory store.
func newTestServer(t *testing.T, change ...func(*config)) (*httptest.Server, *app) {
	t.Helper()
	cfg := config{addr: "127.0.0.1:0", memory: true, password: testPassword, adminToken: testAdminToken,
		loginAttempts: defaultLoginAttempts, loginFailures: defaultLoginFailures, routeRequests: defaultRouteRequests}
	for _, f := range change {
		f(&cfg)
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	return serveApp(t, cfg, st)
}

// newServerOn serves a second demo app on the store of a, as a restarted
// server or a second instance would.
func newServerOn(t *testing.T, a *app, change ...func(*config)) *httptest.Server {
	t.Helper()
	cfg := a.cfg
	for _, f := range change {
		f(&cfg)
	}
	srv, _ := serveApp(t, cfg, a.m.Store())
	return srv
}

func serveApp(t *testing.T, cfg config, st store.SessionStore) (*httptest.Server, *app) {
	t.Helper()
	a, err := newApp(cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv, a
}

// client sends requests to one server, optionally as one session: with an
// explicit cookie or token, or through the cookie jar of its http.Client.
type client struct {
	t      *testing.T
	http   *http.Client
	base   string
	cookie *http.Cookie // sent when set
	token  string       // sent as X-Session-Token when set
	header http.Header  // sent with every request
}

func newClient(t *testing.T, base string) *client {
	return &client{t: t, http: http.DefaultClient, base: base, header: http.Header{}}
}

// do sends a request and returns the response with its body read. extra
// holds header names and values, Host among them.
func (c *client) do(method, path, body string, extra ...string) (*http.Response, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if http.CanonicalHeaderKey(extra[i]) == "Host" {
			req.Host = extra[i+1] // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(extra[i], extra[i+1])
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.token != "" {
		req.Header.Set("X-Session-Token", c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, b
}

// login signs username in and returns the response body and the cookie.
func (c *client) login(username, password string) (loginResponse, *http.Cookie) {
	c.t.Helper()
	is := is.NewRelaxed(c.t)
	body, _ := json.Marshal(loginRequest{Username: username, Password: password})
	res, b := c.do(http.MethodPost, "/login", string(body))
	is.Equal(res.StatusCode, http.StatusOK) // login
	var lr loginResponse
	is.NoErr(json.Unmarshal(b, &lr))
	return lr, sessionCookie(res)
}

// withCookie returns a client presenting the cookie.
func (c *client) withCookie(ck *http.Cookie) *client {
	d := *c
	d.cookie, d.token = ck, ""
	return &d
}

// withToken returns a client presenting the token in X-Session-Token.
func (c *client) withToken(token string) *client {
	d := *c
	d.cookie, d.token = nil, token
	return &d
}

// meStatus returns the status of GET /me.
func (c *client) meStatus() int {
	c.t.Helper()
	res, _ := c.do(http.MethodGet, "/me", "")
	return res.StatusCode
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, ck := range res.Cookies() {
		if ck.Name == revoke.DefaultCookieName || ck.Name == revoke.HostCookieName {
			return ck
		}
	}
	return nil
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
