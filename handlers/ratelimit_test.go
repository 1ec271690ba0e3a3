package handlers_test

import (
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
		wait := reset - date.Unix() // what Okta's SDKs wait
		is.True(wait > 0 && wait <= 3600)
		is.True(e.active(e.a1.token)) // a refused request revokes nothing

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
