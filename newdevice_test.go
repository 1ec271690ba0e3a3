package revoke_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
)

// TestOnLoginTellsNewDevices: over real HTTP, the OnLogin hook hears each
// sign-in with whether the browser had signed that user in before.
func TestOnLoginTellsNewDevices(t *testing.T) {
	is := is.New(t)
	var (
		mu     sync.Mutex
		events []revoke.LoginEvent
	)
	m, _ := newManager(t, revoke.OnLogin(func(_ context.Context, ev revoke.LoginEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := m.Login(w, r, r.URL.Query().Get("user")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	newBrowser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	signIn := func(b *http.Client, user string) revoke.LoginEvent {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/login?user="+user, nil)
		req.Header.Set("User-Agent", chrome)
		res, err := b.Do(req)
		is.NoErr(err)
		res.Body.Close()
		is.Equal(res.StatusCode, 200)
		mu.Lock()
		defer mu.Unlock()
		return events[len(events)-1]
	}

	laptop := newBrowser()
	first := signIn(laptop, "alice")
	is.True(first.NewDevice)
	is.Equal(first.Session.UserID, "alice")
	is.Equal(first.Device.Name, "Chrome 131 on macOS")
	is.True(!signIn(laptop, "alice").NewDevice) // the same browser again
	is.True(signIn(laptop, "bob").NewDevice)    // another user on it
	is.True(!signIn(laptop, "alice").NewDevice) // still remembered
	is.True(signIn(newBrowser(), "alice").NewDevice)

	// A forged device cookie is a new device, not an error.
	forged := newBrowser()
	u, _ := url.Parse(srv.URL)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: m.CookieName() + "_device", Value: "forged"}})
	is.True(signIn(forged, "alice").NewDevice)

	// The browser keeps the device cookie.
	for _, c := range laptop.Jar.Cookies(u) {
		if c.Name == m.CookieName()+"_device" {
			return
		}
	}
	t.Fatal("no device cookie kept")
}
