package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestHeaderLimit: headers larger than maxHeaderBytes are refused with 431
// rather than buffered up to net/http's 1 MiB default; headers the size real
// clients send pass.
func TestHeaderLimit(t *testing.T) {
	is := is.New(t)
	r := startRun(t, []string{"-memory"}, env(envPassword, testPassword))
	c := newClient(t, r.base)

	res, _ := c.do(http.MethodGet, "/", "", "X-Pad", strings.Repeat("a", 64<<10))
	is.Equal(res.StatusCode, http.StatusRequestHeaderFieldsTooLarge)

	lr, ck := c.login("alice", testPassword)
	res, _ = c.withCookie(ck).do(http.MethodGet, "/me", "", "X-Pad", strings.Repeat("a", 8<<10))
	is.Equal(res.StatusCode, http.StatusOK) // a cookie and 8 KiB more
	is.Equal(c.withToken(lr.Token).meStatus(), http.StatusOK)
}
