package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

// kratosCase is one request to a Kratos-family route and what it must do.
type kratosCase struct {
	name    string
	cfg     envConfig
	headers func(e *env) []string
	path    func(e *env) string // default: the route's path
	status  int
	id      string // error.id, when checked
	revoked []string
}

func cookieOf(s func(e *env) session) func(e *env) []string {
	return func(e *env) []string { return []string{"Cookie", e.cookie(s(e).token)} }
}

func tokenOf(s func(e *env) session) func(e *env) []string {
	return func(e *env) []string { return []string{"X-Session-Token", s(e).token} }
}

func a1(e *env) session { return e.a1 }

// commonKratosAuthCases are the credential failures every Kratos route
// shares.
func commonKratosAuthCases() []kratosCase {
	return []kratosCase{
		{name: "no credentials", headers: func(*env) []string { return nil }, status: 401, id: "session_inactive"},
		{name: "unknown token", headers: func(*env) []string {
			return []string{"X-Session-Token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
		}, status: 401},
		{name: "revoked token", headers: func(e *env) []string {
			e.revokeNow(e.a1)
			return []string{"X-Session-Token", e.a1.token}
		}, status: 401, revoked: []string{"a1"}},
		{name: "expired token", headers: func(e *env) []string {
			return []string{"X-Session-Token", e.expired("alice").token}
		}, status: 401},
		{name: "forged cookie", headers: func(e *env) []string { return []string{"Cookie", e.m.CookieName() + "=forged"} }, status: 401},
		{name: "malformed token", headers: func(*env) []string { return []string{"X-Session-Token", "not a token!"} }, status: 400},
		{name: "oversized token", headers: func(*env) []string {
			return []string{"X-Session-Token", strings.Repeat("A", 300)}
		}, status: 400},
		{name: "two token headers", headers: func(e *env) []string {
			return []string{"X-Session-Token", e.a1.token, "X-Session-Token", e.a1.token}
		}, status: 400},
	}
}

func runKratos(t *testing.T, method, path string, cases []kratosCase, check func(t *testing.T, e *env, r response)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnvWith(t, tc.cfg)
			hdr := tc.headers(e)
			p := path
			if tc.path != nil {
				p = tc.path(e)
			}
			r := e.do(method, p, "", hdr...)
			is.Equal(r.StatusCode, tc.status) // status
			if tc.status >= 400 {
				v := checkKratos(t, r, tc.status)
				if tc.id != "" {
					is.Equal(v["id"], tc.id)
				}
			} else if check != nil {
				check(t, e, r)
			}
			is.True(r.Header.Get("X-RateLimit-Limit") != "") // rate-limit headers
			want := map[string]bool{}
			for _, n := range tc.revoked {
				want[n] = true
			}
			for name, s := range map[string]session{"a1": e.a1, "a2": e.a2, "b1": e.b1, "r1": e.r1} {
				if !e.active(s.token) != want[name] {
					t.Errorf("session %s revoked = %v, want %v", name, !e.active(s.token), want[name])
				}
			}
		})
	}
}

func TestDisableMyOtherSessions(t *testing.T) {
	cases := append(commonKratosAuthCases(),
		kratosCase{name: "session token", headers: tokenOf(a1), status: 200, revoked: []string{"a2"}},
		kratosCase{name: "session token, cross-site needs no check", headers: func(e *env) []string {
			return []string{"X-Session-Token", e.a1.token, "Sec-Fetch-Site", "cross-site"}
		}, status: 200, revoked: []string{"a2"}},
		kratosCase{name: "cookie, same origin", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "same-origin"}
		}, status: 200, revoked: []string{"a2"}},
		kratosCase{name: "cookie, cross-site", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "cross-site"}
		}, status: 403, id: "security_csrf_violation"},
		kratosCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("Revoke")
			return []string{"X-Session-Token", e.a1.token}
		}, status: 500},
	)
	runKratos(t, "DELETE", "/auth/sessions", cases, func(t *testing.T, e *env, r response) {
		is := is.New(t)
		is.Equal(string(r.body), `{"count":1}`+"\n")
	})

	t.Run("count excludes already revoked and expired", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		a3 := e.login("alice")
		e.revokeNow(a3)
		r := e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 200)
		is.Equal(r.json(t)["count"], float64(1))
		r = e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		is.Equal(r.json(t)["count"], float64(0)) // nothing left to revoke
		is.True(e.active(e.a1.token))            // the current session stays
	})

	t.Run("500 hides the cause unless debugging", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.st.fail("Revoke")
		r := e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		v := checkKratos(t, r, 500)
		is.Equal(v["message"], "An internal server error occurred, please contact the system administrator")
		is.True(!strings.Contains(string(r.body), "hunter2"))

		e = newEnv(t, handlers.WithDebug(true))
		e.st.fail("Revoke")
		r = e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		v = checkKratos(t, r, 500)
		is.True(strings.Contains(v["debug"].(string), "hunter2")) // debug on: the cause is shown
	})

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("PUT", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		checkKratos(t, r, 405)
		is.Equal(r.Header.Get("Allow"), "DELETE, GET, HEAD")
		is.True(e.active(e.a2.token))
	})
}

func TestListMySessions(t *testing.T) {
	cases := append(commonKratosAuthCases(),
		kratosCase{name: "session token", headers: tokenOf(a1), status: 200},
		kratosCase{name: "cookie, cross-site read", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "cross-site"}
		}, status: 200},
		kratosCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("ListPage")
			return []string{"X-Session-Token", e.a1.token}
		}, status: 500},
	)
	runKratos(t, "GET", "/auth/sessions", cases, func(t *testing.T, e *env, r response) {
		is := is.New(t)
		var list []map[string]any
		is.NoErr(json.Unmarshal(r.body, &list))
		is.Equal(len(list), 1) // the other session only
		checkKratosSession(t, list[0], e.a2, false)
		is.Equal(r.Header.Get("Link"), `</auth/sessions?page_size=250&page_token=>; rel="first"`) // one page only
	})

	t.Run("revoked and other users' sessions are not listed", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.revokeNow(e.a2)
		r := e.do("GET", "/auth/sessions", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 200)
		is.Equal(strings.TrimSpace(string(r.body)), "[]") // an empty list, not null
	})
}

func TestDisableMySession(t *testing.T) {
	pathOf := func(s func(e *env) session) func(e *env) string {
		return func(e *env) string { return "/auth/sessions/" + s(e).ID }
	}
	a2 := func(e *env) session { return e.a2 }
	b1 := func(e *env) session { return e.b1 }
	cases := commonKratosAuthCases()
	for i := range cases {
		cases[i].path = pathOf(a2)
	}
	cases = append(cases,
		kratosCase{name: "another of mine", headers: tokenOf(a1), path: pathOf(a2), status: 204, revoked: []string{"a2"}},
		kratosCase{name: "already revoked", headers: func(e *env) []string {
			e.revokeNow(e.a2)
			return []string{"X-Session-Token", e.a1.token}
		}, path: pathOf(a2), status: 204, revoked: []string{"a2"}},
		kratosCase{name: "cookie, same origin", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "same-origin"}
		}, path: pathOf(a2), status: 204, revoked: []string{"a2"}},
		kratosCase{name: "cookie, cross-site", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "cross-site"}
		}, path: pathOf(a2), status: 403, id: "security_csrf_violation"},
		kratosCase{name: "the current one", headers: tokenOf(a1), path: pathOf(a1), status: 400},
		kratosCase{name: "someone else's", headers: tokenOf(a1), path: pathOf(b1), status: 404},
		kratosCase{name: "unknown", headers: tokenOf(a1), path: func(*env) string { return "/auth/sessions/3f1c1e9a-0000-4000-8000-000000000000" }, status: 404},
		kratosCase{name: "invalid id", headers: tokenOf(a1), path: func(*env) string { return "/auth/sessions/a%2Fb" }, status: 400},
		kratosCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("Revoke")
			return []string{"X-Session-Token", e.a1.token}
		}, path: pathOf(a2), status: 500},
	)
	runKratos(t, "DELETE", "", cases, func(t *testing.T, e *env, r response) {
		is.New(t).Equal(len(r.body), 0) // 204 has no body
	})

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("GET", "/auth/sessions/"+e.a2.ID, "", "X-Session-Token", e.a1.token)
		checkKratos(t, r, 405)
		is.Equal(r.Header.Get("Allow"), "DELETE")
	})
}

func TestWhoAmI(t *testing.T) {
	cases := append(commonKratosAuthCases(),
		kratosCase{name: "session token", headers: tokenOf(a1), status: 200},
		kratosCase{name: "cookie", headers: cookieOf(a1), status: 200},
		kratosCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("GetByTokenHash")
			return []string{"X-Session-Token", e.a1.token}
		}, status: 500},
	)
	runKratos(t, "GET", "/auth/sessions/whoami", cases, func(t *testing.T, e *env, r response) {
		is := is.New(t)
		checkKratosSession(t, r.json(t), e.a1, true)
		is.Equal(r.Header.Get("X-Kratos-Authenticated-Identity-Id"), "alice")
	})

	t.Run("a revoked token is anonymous at once", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a2.token)
		is.Equal(r.StatusCode, 200)
		r = e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		checkKratos(t, r, 401)
	})

	t.Run("methods", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("POST", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		checkKratos(t, r, 405)
		is.Equal(r.Header.Get("Allow"), "GET, HEAD")
		r = e.do("HEAD", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 200)
		// As in Kratos, DELETE on whoami answers whoami rather than
		// revoking a session called "whoami".
		r = e.do("DELETE", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
		is.Equal(r.StatusCode, 200)
		is.True(e.active(e.a1.token))
	})
}

// checkKratosSession asserts the fields Ory's client requires, and the
// values of s.
func checkKratosSession(t *testing.T, v map[string]any, s session, current bool) {
	t.Helper()
	is := is.New(t)
	is.Equal(v["id"], s.ID)
	is.Equal(v["active"], true)
	is.Equal(v["current"], current)
	for _, k := range []string{"expires_at", "absolute_expires_at", "authenticated_at", "issued_at", "last_seen_at"} {
		_, err := time.Parse(time.RFC3339, v[k].(string))
		is.NoErr(err) // timestamps are RFC 3339
	}
	checkExpiries(t, v["expires_at"], v["absolute_expires_at"], s)
	id := v["identity"].(map[string]any)
	is.Equal(id["id"], s.UserID)
	for _, k := range []string{"schema_id", "schema_url", "traits"} {
		_, ok := id[k]
		is.True(ok) // Ory's Identity requires it
	}
	devs := v["devices"].([]any)
	is.Equal(len(devs), 1)
	d := devs[0].(map[string]any)
	is.True(d["id"].(string) != "")
	is.Equal(d["ip_address"], "203.0.113.7")
	is.Equal(d["user_agent"], "test-agent/1.0")
	_, hasToken := v["token"]
	is.True(!hasToken) // no secret in a session body
}

// checkExpiries asserts the two expiries of a session's JSON: the idle one
// under the name the family's clients read, and the absolute one.
func checkExpiries(t *testing.T, idle, absolute any, s session) {
	t.Helper()
	is := is.New(t)
	idleAt, err := time.Parse(time.RFC3339Nano, idle.(string))
	is.NoErr(err)
	absAt, err := time.Parse(time.RFC3339Nano, absolute.(string))
	is.NoErr(err)
	is.True(absAt.Equal(s.ExpiresAt))        // the absolute expiry, which never moves
	is.True(!idleAt.Before(s.IdleExpiresAt)) // the idle expiry, which use moves forward
	is.True(idleAt.Before(absAt))            // and is the earlier, a day against a week
	is.True(s.ExpiresAt.Sub(s.IdleExpiresAt) > 24*time.Hour)
}
