package handlers_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

func TestRateLimit(t *testing.T) {
	hour := handlers.RateLimit{Requests: 2, Window: time.Hour}

	t.Run("okta", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyOkta, hour))
		auth := []string{"Authorization", "SSWS " + adminToken}
		r := e.do("DELETE", "/api/v1/users/nobody/sessions", "", auth...)
		is.Equal(r.StatusCode, 404)
		is.Equal(r.Header.Get("X-Rate-Limit-Limit"), "2")
		is.Equal(r.Header.Get("X-Rate-Limit-Remaining"), "1")
		r = e.do("DELETE", "/api/v1/users/nobody/sessions", "", auth...)
		is.Equal(r.Header.Get("X-Rate-Limit-Remaining"), "0")

		r = e.do("DELETE", "/api/v1/users/alice/sessions", "", auth...)
		v := checkOkta(t, r, 429, "E0000047")
		is.Equal(v["errorSummary"], "API call exceeded rate limit due to too many requests.")
		is.Equal(r.Header.Get("X-Rate-Limit-Limit"), "2")
		is.Equal(r.Header.Get("X-Rate-Limit-Remaining"), "0")
		reset, err := strconv.ParseInt(r.Header.Get("X-Rate-Limit-Reset"), 10, 64)
		is.NoErr(err)
		date, err := http.ParseTime(r.Header.Get("Date"))
		is.NoErr(err)
		wait := reset - date.Unix()           // what Okta's SDKs wait
		is.True(wait > 0 && wait <= 2*3600+1) // up to the end of the next window
		is.True(e.active(e.a1.token))         // a refused request revokes nothing

		// Another caller has its own budget.
		r = e.do("POST", "/api/v1/users/me/lifecycle/delete_sessions", "", "Cookie", e.cookie(e.b1.token))
		is.Equal(r.StatusCode, 200)
	})

	t.Run("invented tokens share the address's budget", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyAdmin, hour))
		for i, want := range []int{401, 401, 429} {
			r := e.do("GET", "/auth/admin/api/users/alice/sessions", "",
				"Authorization", "Bearer invented-"+strconv.Itoa(i))
			is.Equal(r.StatusCode, want)
		}
	})

	t.Run("kratos", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyKratos, hour))
		for range 2 {
			r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
			is.Equal(r.StatusCode, 200)
		}
		r := e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		v := checkKratos(t, r, 429)
		is.Equal(v["code"], float64(429))
		is.Equal(r.Header.Get("X-RateLimit-Remaining"), "0")
		is.True(r.Header.Get("Retry-After") != "")
		is.True(e.active(e.a2.token)) // nothing revoked
		// Another session of the same user is another caller.
		r = e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a2.token)
		is.Equal(r.StatusCode, 200)
	})

	t.Run("admin", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyAdmin, hour))
		auth := []string{"Authorization", "SSWS " + adminToken}
		for range 2 {
			r := e.do("GET", "/auth/admin/api/users/alice/sessions", "", auth...)
			is.Equal(r.StatusCode, 200)
		}
		r := e.do("DELETE", "/auth/admin/api/users/alice/sessions", "", auth...)
		checkAdmin(t, r, 429, "RATE_LIMITED")
		is.True(e.active(e.a1.token))
	})

	t.Run("families are limited apart", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyKratos, handlers.RateLimit{Requests: 1, Window: time.Hour}))
		r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 200)
		r = e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 429)
		r = e.do("GET", "/auth/admin/api/users/alice/sessions", "", "X-Session-Token", e.r1.token)
		is.Equal(r.StatusCode, 200)
	})

	t.Run("off", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyOkta, hour), handlers.WithoutRateLimit())
		for range 4 {
			r := e.do("DELETE", "/api/v1/users/nobody/sessions", "", "Authorization", "SSWS "+adminToken)
			is.Equal(r.StatusCode, 404)
			is.Equal(r.Header.Get("X-Rate-Limit-Limit"), "")
		}
	})
}

// inventedToken returns a well-formed session token that no session has.
func inventedToken(t *testing.T) string {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestAddressRateLimitBeforeLookup: the per-address budget is counted
// before the session is looked up, so once it is spent, invented session
// tokens from that address cost no store read.
func TestAddressRateLimitBeforeLookup(t *testing.T) {
	t.Run("kratos", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyKratos,
			handlers.RateLimit{Requests: 100, Window: time.Hour, AddressRequests: 3}))
		for range 3 {
			before := e.st.lookups.Load()
			r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", inventedToken(t))
			checkKratos(t, r, 401)
			is.Equal(e.st.lookups.Load()-before, int64(1)) // looked up while under the budget
		}
		before := e.st.lookups.Load()
		r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", inventedToken(t))
		checkKratos(t, r, 429)
		is.Equal(r.Header.Get("X-RateLimit-Limit"), "3")
		is.Equal(r.Header.Get("X-RateLimit-Remaining"), "0")
		is.True(r.Header.Get("Retry-After") != "")
		is.Equal(e.st.lookups.Load(), before) // refused before the store was asked

		// The budget is the address's: a valid session from it waits too.
		r = e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		checkKratos(t, r, 429)
		is.Equal(e.st.lookups.Load(), before)
		is.True(e.active(e.a2.token)) // nothing revoked
		// Other families keep their own budgets.
		r = e.do("GET", "/auth/admin/api/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 200)
	})

	t.Run("okta headers", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyOkta,
			handlers.RateLimit{Requests: 100, Window: time.Hour, AddressRequests: 1}))
		r := e.do("DELETE", "/api/v1/users/alice/sessions", "", "X-Session-Token", inventedToken(t))
		checkOkta(t, r, 401, "E0000011")
		is.Equal(r.Header.Get("X-Rate-Limit-Limit"), "100") // a request that passes shows the caller's budget
		before := e.st.lookups.Load()
		r = e.do("DELETE", "/api/v1/users/alice/sessions", "", "X-Session-Token", inventedToken(t))
		checkOkta(t, r, 429, "E0000047")
		checkRateHeaders(t, r)
		is.Equal(r.Header.Get("X-Rate-Limit-Limit"), "1")
		is.Equal(r.Header.Get("X-Rate-Limit-Remaining"), "0")
		is.Equal(e.st.lookups.Load(), before)
	})

	t.Run("default is ten times the caller's budget", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyKratos, handlers.RateLimit{Requests: 1, Window: time.Hour}))
		before := e.st.lookups.Load()
		for i := range 10 {
			r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", inventedToken(t))
			// One per caller: invented tokens share the address's budget.
			is.Equal(r.StatusCode, map[bool]int{true: 401, false: 429}[i == 0])
		}
		is.Equal(e.st.lookups.Load()-before, int64(10))
		r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", inventedToken(t))
		is.Equal(r.StatusCode, 429)
		is.Equal(e.st.lookups.Load()-before, int64(10)) // the 11th is refused before the lookup
	})

	t.Run("off", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithRateLimit(handlers.FamilyKratos,
			handlers.RateLimit{Requests: 1, Window: time.Hour, AddressRequests: -1}))
		// More callers from one address than ten times the caller's
		// budget: each within its own budget, and none refused.
		for range 12 {
			r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.login("bob").token)
			is.Equal(r.StatusCode, 200)
		}
	})
}

func TestRouteRateLimit(t *testing.T) {
	is := is.New(t)
	e := newEnv(t,
		handlers.WithRouteRateLimit("WhoAmI", handlers.RateLimit{Requests: 1, Window: time.Hour}),
		handlers.WithRouteRateLimit("AdminListSessions", handlers.RateLimit{}))
	me := []string{"X-Session-Token", e.a1.token}

	r := e.do("GET", "/auth/sessions/whoami", "", me...)
	is.Equal(r.StatusCode, 200)
	is.Equal(r.Header.Get("X-RateLimit-Limit"), "1") // the route's own limit
	r = e.do("GET", "/auth/sessions/whoami", "", me...)
	is.Equal(r.StatusCode, 429)
	r = e.do("GET", "/auth/sessions", "", me...)
	is.Equal(r.StatusCode, 200) // the rest of the family keeps its limit
	is.Equal(r.Header.Get("X-RateLimit-Limit"), strconv.Itoa(handlers.DefaultRateLimitRequests))

	r = e.do("GET", "/auth/admin/api/users/alice/sessions", "", "Authorization", "Bearer "+adminToken)
	is.Equal(r.StatusCode, 200)
	is.Equal(r.Header.Get("X-RateLimit-Limit"), "") // off for this route alone
	r = e.do("DELETE", "/auth/admin/api/users/bob/sessions", "", "Authorization", "Bearer "+adminToken)
	is.Equal(r.StatusCode, 200)
	is.Equal(r.Header.Get("X-RateLimit-Limit"), strconv.Itoa(handlers.DefaultRateLimitRequests))

	_, err := handlers.New(e.m, handlers.WithRouteRateLimit("NoSuchRoute", handlers.RateLimit{}))
	is.True(err != nil)
}

// TestRateLimitedResetIsServed: a request sent at the X-Rate-Limit-Reset of
// a 429 (what Okta's SDKs wait for) is served, though the limiter counts
// over a sliding window that weighs the refused window into the next one.
func TestRateLimitedResetIsServed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a rate-limit window to pass")
	}
	is := is.New(t)
	e := newEnv(t, handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: 1, Window: time.Second}))
	auth := []string{"Authorization", "SSWS " + adminToken}
	var r response
	for range 3 { // until one is refused: the first may open a window of its own
		if r = e.do("DELETE", "/api/v1/users/nobody/sessions", "", auth...); r.StatusCode == 429 {
			break
		}
	}
	is.Equal(r.StatusCode, 429)
	reset, err := strconv.ParseInt(r.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	is.NoErr(err)
	after, err := strconv.Atoi(r.Header.Get("Retry-After"))
	is.NoErr(err)
	is.True(after >= 1 && time.Now().Unix()+int64(after) >= reset-1) // Retry-After says the same
	time.Sleep(time.Until(time.Unix(reset, 0)))
	r = e.do("DELETE", "/api/v1/users/nobody/sessions", "", auth...)
	is.Equal(r.StatusCode, 404) // served: the user is unknown
}
