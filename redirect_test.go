package revoke_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
)

func TestRedirectToLogin(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	page := m.Middleware(m.RedirectToLogin("/login")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("account"))
	})))
	srv := httptest.NewServer(page)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := client.Get(srv.URL + "/account?tab=2")
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusSeeOther)
	is.Equal(res.Header.Get("Location"), "/login?next=%2Faccount%3Ftab%3D2")
	is.Equal(revoke.SafeNext("/account?tab=2"), "/account?tab=2") // read back after sign-in

	c, _ := loginCookie(t, m, "alice")
	req, _ := http.NewRequest("GET", srv.URL+"/account", nil)
	req.AddCookie(c)
	res, err = client.Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, http.StatusOK)
}

// TestRedirectToLoginForm: a form posted without a valid session (its
// session expired while the page was open) goes to the sign-in page without
// a next parameter, since the browser would come back to it with a GET, which
// a POST-only route answers with 405.
func TestRedirectToLoginForm(t *testing.T) {
	is := is.New(t)
	m, _ := newManager(t)
	srv := httptest.NewServer(m.Middleware(m.RedirectToLogin("/login?lang=en")(http.NotFoundHandler())))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for method, want := range map[string]string{
		http.MethodPost:   "/login?lang=en",
		http.MethodDelete: "/login?lang=en",
		http.MethodHead:   "/login?lang=en&next=%2Fsessions%2Fx%2Frevoke",
	} {
		req, err := http.NewRequest(method, srv.URL+"/sessions/x/revoke", nil)
		is.NoErr(err)
		res, err := client.Do(req)
		is.NoErr(err)
		res.Body.Close()
		is.Equal(res.StatusCode, http.StatusSeeOther)
		is.Equal(res.Header.Get("Location"), want) // method
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/account":             "/account",
		"/a/b?c=d#e":           "/a/b?c=d#e",
		"":                     "/",
		"//evil.example/x":     "/",
		"https://evil.example": "/",
		"/\\evil.example":      "/",
		"account":              "/",
		"/a\r\nSet-Cookie: x":  "/",
		"javascript:alert(1)":  "/",
	} {
		if got := revoke.SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
