package main

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/matryer/is"
)

const (
	chromeOnMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxOnLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// browser is a client with a cookie jar, which keeps the device cookie
// between sign-ins as a browser does.
func browser(t *testing.T, base, userAgent string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, base)
	c.http = &http.Client{Jar: jar}
	c.header.Set("User-Agent", userAgent)
	return c
}

func (c *client) me() meResponse {
	c.t.Helper()
	res, b := c.do(http.MethodGet, "/me", "")
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET /me: %d %s", res.StatusCode, b)
	}
	return decode[meResponse](c.t, b)
}

// /me carries the user's last sign-in from a browser that had never signed
// them in before, with the device's readable name; a sign-in from a browser
// already seen leaves it as it was.
func TestMeShowsTheLastNewDevice(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	mac := browser(t, srv.URL, chromeOnMac)

	first, _ := mac.login("alice", testPassword)
	got := mac.me().LastNewDevice
	is.True(got != nil)
	is.Equal(got.Device, "Chrome 131 on macOS")
	is.Equal(got.SessionID, first.SessionID)
	is.Equal(got.IPAddress, "127.0.0.1")
	is.True(!got.At.IsZero())

	again, _ := mac.login("alice", testPassword) // the same browser: not new
	is.True(again.SessionID != first.SessionID)
	is.Equal(mac.me().LastNewDevice.SessionID, first.SessionID)

	linux := browser(t, srv.URL, firefoxOnLinux)
	third, _ := linux.login("alice", testPassword)
	is.Equal(linux.me().LastNewDevice.SessionID, third.SessionID)
	is.Equal(linux.me().LastNewDevice.Device, "Firefox 133 on Linux")
	is.Equal(mac.me().LastNewDevice.SessionID, third.SessionID) // per user, seen from every session

	// Another user's sign-ins are theirs: bob's browser is new to bob.
	bob := browser(t, srv.URL, chromeOnMac)
	bobs, _ := bob.login("bob", testPassword)
	is.Equal(bob.me().LastNewDevice.SessionID, bobs.SessionID)
	is.Equal(linux.me().LastNewDevice.SessionID, third.SessionID)
}

// /me names the session cap only when -max-sessions sets one.
func TestMeShowsTheSessionCap(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t)
	c := browser(t, srv.URL, chromeOnMac)
	c.login("alice", testPassword)
	_, b := c.do(http.MethodGet, "/me", "")
	is.True(!strings.Contains(string(b), "maxSessions")) // no cap, nothing said

	srv, _ = newTestServer(t, func(c *config) { c.maxSessions = 3 })
	c = browser(t, srv.URL, chromeOnMac)
	c.login("alice", testPassword)
	is.Equal(c.me().MaxSessions, 3)
}
