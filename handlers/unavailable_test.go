package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

// unavailableCodes are the codes of a 503 in each family's shape (Kratos
// gives no error id).
var unavailableCodes = map[handlers.Family]string{
	handlers.FamilyOkta:  "E0000010",
	handlers.FamilyAdmin: "STORE_UNAVAILABLE",
}

// TestStoreUnavailable: a store call that fails with store.ErrUnavailable
// (its deadline passed) is answered 503 in the route's family shape, with
// Retry-After and, on Okta routes, the Date and single integer
// X-Rate-Limit-Reset that the SDKs' retry logic needs; never with the
// store's text, and never with anything revoked.
func TestStoreUnavailable(t *testing.T) {
	type attempt struct {
		name    string
		ops     []string // the store calls that fail
		headers func(e *env) []string
	}
	adminCookie := func(e *env) []string {
		return []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "same-origin"}
	}
	everyCall := []string{"Get", "GetByTokenHash", "ListPage", "Revoke"}
	afterLookup := []string{"Get", "ListPage", "Revoke"}
	for _, rt := range handlers.Routes() {
		if rt.Family == handlers.FamilyOIDC || rt.Family == handlers.FamilySSF || rt.Name == handlers.RouteGlobalTokenRevocation {
			continue // a signed token in the body: backchannel_test.go, ssf_test.go and universal_logout_test.go cover 503
		}
		creds := credentialsFor(rt)
		var attempts []attempt
		switch {
		case rt.Family == handlers.FamilyKratos || rt.Name == "EndUserSessions":
			attempts = append(attempts, attempt{"resolving the session", []string{"GetByTokenHash"}, creds})
			if rt.Name != "WhoAmI" { // whoami calls the store for the session alone
				attempts = append(attempts, attempt{"the route's own call", afterLookup, creds})
			}
		default:
			attempts = append(attempts,
				attempt{"api token", everyCall, creds},
				attempt{"resolving an admin session", []string{"GetByTokenHash"}, adminCookie},
				attempt{"admin session, the route's own call", afterLookup, adminCookie})
		}
		for _, limited := range []bool{true, false} {
			for _, at := range attempts {
				name := string(rt.Name) + ", " + at.name
				var hopts []handlers.Option
				if !limited {
					name += ", rate limiting off"
					hopts = append(hopts, handlers.WithoutRateLimit())
				}
				t.Run(name, func(t *testing.T) {
					is := is.New(t)
					e := newEnv(t, hopts...)
					path := strings.NewReplacer("{userId}", "alice", "{id}", "alice", "{sessionId}", e.a2.ID).Replace(rt.Pattern)
					if strings.HasPrefix(rt.Pattern, "/auth/sessions/{id}") {
						path = "/auth/sessions/" + e.a2.ID
					}
					headers := at.headers(e)
					e.st.failUnavailable(at.ops...)
					r := e.do(rt.Method, path, "", append(headers, "X-Request-Id", "trace-503")...)

					checkFamilyError(t, rt.Family, rt.Method, r, http.StatusServiceUnavailable, unavailableCodes[rt.Family])
					is.Equal(r.Header.Get("Retry-After"), "2")
					if rt.Family == handlers.FamilyOkta {
						checkRetryHeaders(t, r)
					}
					logs := e.logs.String()
					is.True(strings.Contains(logs, "store unavailable"))    // logged
					is.True(strings.Contains(logs, "request_id=trace-503")) // with the request id
					for _, s := range []session{e.a1, e.a2, e.b1, e.r1} {
						is.True(e.active(s.token)) // nothing revoked
					}
				})
			}
		}
	}
}

// checkRetryHeaders asserts what Okta's SDKs need to retry a 429, 503 or
// 504: an IMF-fixdate Date ending in GMT, and exactly one
// X-Rate-Limit-Reset, an integer epoch second not before it.
func checkRetryHeaders(t *testing.T, r response) {
	t.Helper()
	is := is.New(t)
	dates := r.Header.Values("Date")
	is.Equal(len(dates), 1) // one Date
	date, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", dates[0])
	is.NoErr(err) // Date as Go's SDK parses it
	resets := r.Header.Values("X-Rate-Limit-Reset")
	is.Equal(len(resets), 1) // exactly one X-Rate-Limit-Reset
	reset, err := strconv.Atoi(resets[0])
	is.NoErr(err)                             // an integer
	is.True(int64(reset) >= date.Unix())      // not in the past
	is.True(int64(reset) <= date.Unix()+3600) // and not far off
}

// TestRateLimitedRetryHeaders: a 429 carries the same retry headers, on
// both the per-caller and the per-address limit.
func TestRateLimitedRetryHeaders(t *testing.T) {
	for _, rl := range []handlers.RateLimit{
		{Requests: 1, Window: time.Minute, AddressRequests: -1},
		{Requests: 100, Window: time.Minute, AddressRequests: 1},
	} {
		t.Run(strconv.Itoa(rl.Requests), func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t, handlers.WithRateLimit(handlers.FamilyOkta, rl))
			auth := []string{"Authorization", "SSWS " + adminToken}
			is.Equal(e.do("DELETE", "/api/v1/users/nobody/sessions", "", auth...).StatusCode, 404)
			r := e.do("DELETE", "/api/v1/users/alice/sessions", "", auth...)
			checkOkta(t, r, 429, "E0000047")
			checkRetryHeaders(t, r)
			is.True(r.Header.Get("Retry-After") != "")
			is.True(e.active(e.a1.token))
		})
	}
}
