package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestMinimal(t *testing.T) {
	is := is.New(t)
	h, err := newServer()
	is.NoErr(err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	do := func(method, path, token string, body io.Reader) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		is.NoErr(err)
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if token != "" {
			req.Header.Set("X-Session-Token", token)
		}
		res, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		is.NoErr(err)
		return res.StatusCode, string(b)
	}
	login := func(user, password string) (int, string) {
		t.Helper()
		form := url.Values{"user": {user}, "password": {password}}
		code, body := do(http.MethodPost, "/login", "", strings.NewReader(form.Encode()))
		return code, strings.TrimSpace(body)
	}

	code, _ := login("alice", "wrong")
	is.Equal(code, http.StatusUnauthorized) // wrong password
	code, laptop := login("alice", "secret")
	is.Equal(code, http.StatusOK)
	_, phone := login("alice", "secret")

	code, body := do(http.MethodGet, "/", laptop, nil)
	is.Equal(code, http.StatusOK)
	is.Equal(body, "hello alice\n")
	code, _ = do(http.MethodGet, "/", "", nil)
	is.Equal(code, http.StatusUnauthorized) // no session

	// The mounted Kratos endpoint: sign out everywhere else.
	code, body = do(http.MethodDelete, "/auth/sessions", laptop, nil)
	is.Equal(code, http.StatusOK)
	var res struct{ Count int }
	is.NoErr(json.Unmarshal([]byte(body), &res))
	is.Equal(res.Count, 1)
	code, _ = do(http.MethodGet, "/", phone, nil)
	is.Equal(code, http.StatusUnauthorized) // revoked at once
	code, _ = do(http.MethodGet, "/", laptop, nil)
	is.Equal(code, http.StatusOK) // the current session stays

	// A cross-site form post is refused before it signs anyone in.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader("user=alice&password=secret"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	r.Body.Close()
	is.Equal(r.StatusCode, http.StatusForbidden)
}
