package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestMaxSessionsRefused: with -max-sessions 2 -refuse-over-limit, a third
// sign-in of one user over HTTP is answered 409 session_limit, in words a
// person understands.
func TestMaxSessionsRefused(t *testing.T) {
	is := is.New(t)
	srv, _ := newTestServer(t, func(c *config) { c.maxSessions, c.refuseOverLimit = 2, true })
	body := `{"username":"alice","password":"` + testPassword + `"}`
	for _, want := range []int{200, 200, 409} {
		res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(body))
		is.NoErr(err)
		if want == 409 {
			var e struct {
				Error, Message string
			}
			is.NoErr(json.NewDecoder(res.Body).Decode(&e))
			is.Equal(e.Error, "session_limit")
			is.True(strings.Contains(e.Message, "sign out"))
		}
		res.Body.Close()
		is.Equal(res.StatusCode, want)
	}
}

func TestMaxSessionsFlags(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig([]string{"-max-sessions", "3", "-refuse-over-limit"}, func(string) string { return "" }, new(strings.Builder))
	is.NoErr(err)
	is.Equal(cfg.maxSessions, 3)
	is.True(cfg.refuseOverLimit)
}
