package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// adminCase is one request to an admin route and what it must do.
type adminCase struct {
	name    string
	cfg     envConfig
	headers func(e *env) []string
	path    func(e *env) string
	status  int
	code    string
	revoked []string
}

func ssws(*env) []string { return []string{"Authorization", "SSWS " + adminToken} }

// commonAdminAuthCases are the credential failures every admin route
// shares, for a request to path (which names alice and a2 unless the case
// is about something else).
func commonAdminAuthCases(path func(e *env) string, unsafe bool) []adminCase {
	cases := []adminCase{
		{name: "no credentials", headers: func(*env) []string { return nil }, path: path, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "unknown token", headers: func(*env) []string { return []string{"Authorization", "Bearer not-a-known-token-xyz"} },
			path: path, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "two Authorization headers", headers: func(*env) []string {
			return []string{"Authorization", "Bearer " + adminToken, "Authorization", "Bearer " + adminToken}
		}, path: path, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "revoked admin session", headers: func(e *env) []string {
			e.revokeNow(e.r1)
			return []string{"X-Session-Token", e.r1.token}
		}, path: path, status: 401, code: "ADMIN_SESSION_INVALID", revoked: []string{"r1"}},
		{name: "expired admin session", headers: func(e *env) []string {
			return []string{"X-Session-Token", e.expired(adminUser).token}
		}, path: path, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "credentials before validation", headers: func(*env) []string { return nil },
			path: func(*env) string { return strings.Replace(path(nil), "alice", "bad%20id", 1) }, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "credentials before existence", headers: func(*env) []string { return nil },
			path: func(e *env) string { return strings.Replace(path(e), "alice", "nobody", 1) }, status: 401, code: "ADMIN_SESSION_INVALID"},
		{name: "bearer not permitted", headers: func(*env) []string { return []string{"Authorization", "Bearer " + readOnlyBearer} },
			path: path, status: 403, code: "FORBIDDEN"},
		{name: "session of a non-admin", headers: tokenOf(func(e *env) session { return e.b1 }),
			path: path, status: 403, code: "FORBIDDEN"},
		{name: "app authorizer fails", cfg: envConfig{handlers: []handlers.Option{
			handlers.WithAuthorizer(handlers.AuthorizerFunc(func(r *http.Request) (handlers.Grant, error) {
				return handlers.Grant{}, errors.New(secret)
			}))}},
			headers: func(*env) []string { return nil }, path: path, status: 500, code: "INTERNAL_ERROR"},
	}
	if unsafe {
		cases = append(cases, adminCase{name: "admin cookie, cross-site", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "cross-site"}
		}, path: path, status: 403, code: "FORBIDDEN"},
			adminCase{name: "admin cookie, foreign Origin", headers: func(e *env) []string {
				return []string{"Cookie", e.cookie(e.r1.token), "Origin", "https://evil.example"}
			}, path: path, status: 403, code: "FORBIDDEN"})
	}
	return cases
}

func runAdmin(t *testing.T, method string, cases []adminCase, check func(t *testing.T, e *env, r response)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnvWith(t, tc.cfg)
			hdr := tc.headers(e)
			r := e.do(method, tc.path(e), "", hdr...)
			is.Equal(r.StatusCode, tc.status) // status
			is.True(r.Header.Get("X-RateLimit-Limit") != "")
			if tc.status >= 400 {
				checkAdmin(t, r, tc.status, tc.code)
			} else if check != nil {
				check(t, e, r)
			}
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

func TestAdminRevokeSession(t *testing.T) {
	path := func(e *env) string {
		if e == nil {
			return "/auth/admin/api/users/alice/sessions/x"
		}
		return "/auth/admin/api/users/alice/sessions/" + e.a2.ID
	}
	cases := append(commonAdminAuthCases(path, true),
		adminCase{name: "api token", headers: ssws, path: path, status: 200, revoked: []string{"a2"}},
		adminCase{name: "bearer admin token", headers: func(*env) []string { return []string{"Authorization", "Bearer " + adminToken} },
			path: path, status: 200, revoked: []string{"a2"}},
		adminCase{name: "app-validated bearer", headers: func(*env) []string { return []string{"Authorization", "Bearer " + goodBearer} },
			path: path, status: 200, revoked: []string{"a2"}},
		adminCase{name: "admin session token", headers: tokenOf(func(e *env) session { return e.r1 }),
			path: path, status: 200, revoked: []string{"a2"}},
		adminCase{name: "admin cookie, same origin", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "same-origin"}
		}, path: path, status: 200, revoked: []string{"a2"}},
		adminCase{name: "user id with bad characters", headers: ssws,
			path: func(e *env) string { return "/auth/admin/api/users/al%2Fice/sessions/" + e.a2.ID }, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "user id too long", headers: ssws,
			path: func(e *env) string {
				return "/auth/admin/api/users/" + strings.Repeat("u", 129) + "/sessions/" + e.a2.ID
			}, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "session id with bad characters", headers: ssws,
			path: func(e *env) string { return "/auth/admin/api/users/alice/sessions/x%20y" }, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "unknown user", headers: ssws,
			path: func(e *env) string { return "/auth/admin/api/users/nobody/sessions/" + e.a2.ID }, status: 404, code: "USER_NOT_FOUND"},
		adminCase{name: "unknown session", headers: ssws,
			path: func(e *env) string { return "/auth/admin/api/users/alice/sessions/no-such-session" }, status: 404, code: "SESSION_NOT_FOUND"},
		adminCase{name: "another user's session", headers: ssws,
			path: func(e *env) string { return "/auth/admin/api/users/alice/sessions/" + e.b1.ID }, status: 404, code: "SESSION_NOT_FOUND"},
		adminCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("Revoke")
			return ssws(e)
		}, path: path, status: 500, code: "INTERNAL_ERROR"},
	)
	runAdmin(t, "DELETE", cases, func(t *testing.T, e *env, r response) {
		is := is.New(t)
		v := r.json(t)
		is.Equal(v["id"], e.a2.ID)
		is.Equal(v["userId"], "alice")
		is.Equal(v["active"], false)
		_, err := time.Parse(time.RFC3339, v["revokedAt"].(string))
		is.NoErr(err) // revokedAt
		is.Equal(v["revokeReason"], revoke.ReasonAdminRevoked)
	})

	t.Run("idempotent with the original time", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		p := "/auth/admin/api/users/alice/sessions/" + e.a2.ID
		first := e.do("DELETE", p, "", "Authorization", "SSWS "+adminToken)
		is.Equal(first.StatusCode, 200)
		time.Sleep(5 * time.Millisecond)
		again := e.do("DELETE", p, "", "Authorization", "SSWS "+adminToken)
		is.Equal(again.StatusCode, 200)
		is.Equal(again.json(t)["revokedAt"], first.json(t)["revokedAt"])

		r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a2.token)
		checkKratos(t, r, 401) // the revoked token is anonymous at once
		r = e.do("GET", "/auth/sessions/whoami", "", "Cookie", e.cookie(e.a2.token))
		checkKratos(t, r, 401)
	})

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("GET", "/auth/admin/api/users/alice/sessions/"+e.a2.ID, "", "Authorization", "SSWS "+adminToken)
		checkAdmin(t, r, 405, "METHOD_NOT_ALLOWED")
		is.Equal(r.Header.Get("Allow"), "DELETE")
		is.True(e.active(e.a2.token))
	})

	t.Run("audit actor of an admin session", func(t *testing.T) {
		is := is.New(t)
		var got []revoke.Event
		e := newEnvWith(t, envConfig{manager: []revoke.Option{
			revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { got = append(got, ev) }),
		}})
		r := e.do("DELETE", "/auth/admin/api/users/alice/sessions/"+e.a2.ID, "", "X-Session-Token", e.r1.token)
		is.Equal(r.StatusCode, 200)
		is.Equal(len(got), 1)
		is.Equal(got[0].Actor, "admin:"+adminUser)
		is.Equal(got[0].SessionIDs, []string{e.a2.ID})
	})
}

func TestAdminListSessions(t *testing.T) {
	path := func(*env) string { return "/auth/admin/api/users/alice/sessions" }
	cases := append(commonAdminAuthCases(path, false),
		adminCase{name: "api token", headers: ssws, path: path, status: 200},
		adminCase{name: "admin cookie, cross-site read", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "cross-site"}
		}, path: path, status: 200},
		adminCase{name: "bad active filter", headers: ssws,
			path: func(*env) string { return "/auth/admin/api/users/alice/sessions?active=maybe" }, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "bad user id", headers: ssws,
			path: func(*env) string { return "/auth/admin/api/users/a%3Cb%3E/sessions" }, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "unknown user", headers: ssws,
			path: func(*env) string { return "/auth/admin/api/users/nobody/sessions" }, status: 404, code: "USER_NOT_FOUND"},
		adminCase{name: "unknown to the app's lookup", headers: ssws, path: path, status: 404, code: "USER_NOT_FOUND",
			cfg: envConfig{handlers: []handlers.Option{handlers.WithUserLookup(func(context.Context, string) (bool, error) { return false, nil })}}},
		adminCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("ListPage")
			return ssws(e)
		}, path: path, status: 500, code: "INTERNAL_ERROR"},
	)
	runAdmin(t, "GET", cases, func(t *testing.T, e *env, r response) {
		is := is.New(t)
		v := r.json(t)
		is.Equal(keys(v), []string{"sessions"})
		list := v["sessions"].([]any)
		is.Equal(len(list), 2)
		ids := map[string]bool{}
		for _, x := range list {
			s := x.(map[string]any)
			ids[s["id"].(string)] = true
			is.Equal(s["userId"], "alice")
			is.Equal(s["active"], true)
			is.Equal(s["revokedAt"], nil)
			is.Equal(s["ipAddress"], "203.0.113.7")
			is.Equal(s["userAgent"], "test-agent/1.0")
			for _, k := range []string{"createdAt", "lastSeenAt", "expiresAt", "absoluteExpiresAt"} {
				_, err := time.Parse(time.RFC3339, s[k].(string))
				is.NoErr(err) // camelCase timestamps
			}
			fixture := e.a1
			if s["id"] == e.a2.ID {
				fixture = e.a2
			}
			checkExpiries(t, s["expiresAt"], s["absoluteExpiresAt"], fixture)
		}
		is.True(ids[e.a1.ID] && ids[e.a2.ID])
	})

	t.Run("active filter", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.revokeNow(e.a2)
		// active=false is the audit trail: revoked sessions too, newest first.
		r := e.do("GET", "/auth/admin/api/users/alice/sessions?active=FALSE", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 200)
		list := r.json(t)["sessions"].([]any)
		is.Equal(len(list), 2)
		is.Equal(list[0].(map[string]any)["id"], e.a2.ID)
		is.True(list[0].(map[string]any)["revokedAt"] != nil)
		is.Equal(list[1].(map[string]any)["id"], e.a1.ID)

		r = e.do("GET", "/auth/admin/api/users/alice/sessions?active=true", "", "Authorization", "SSWS "+adminToken)
		list = r.json(t)["sessions"].([]any)
		is.Equal(len(list), 1)
		is.Equal(list[0].(map[string]any)["id"], e.a1.ID)
	})

	t.Run("known user without sessions", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return id == "carol", nil }))
		r := e.do("GET", "/auth/admin/api/users/carol/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 200)
		is.Equal(strings.TrimSpace(string(r.body)), `{"sessions":[]}`)
	})

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("POST", "/auth/admin/api/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		checkAdmin(t, r, 405, "METHOD_NOT_ALLOWED")
		is.Equal(r.Header.Get("Allow"), "GET, HEAD, DELETE")
	})
}

func TestAdminRevokeAllSessions(t *testing.T) {
	path := func(*env) string { return "/auth/admin/api/users/alice/sessions" }
	cases := append(commonAdminAuthCases(path, true),
		adminCase{name: "api token", headers: ssws, path: path, status: 200, revoked: []string{"a1", "a2"}},
		adminCase{name: "admin cookie, same origin", headers: func(e *env) []string {
			return []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "same-origin"}
		}, path: path, status: 200, revoked: []string{"a1", "a2"}},
		adminCase{name: "bad user id", headers: ssws,
			path: func(*env) string { return "/auth/admin/api/users/" + strings.Repeat("x", 200) + "/sessions" }, status: 400, code: "VALIDATION_FAILED"},
		adminCase{name: "unknown user", headers: ssws,
			path: func(*env) string { return "/auth/admin/api/users/nobody/sessions" }, status: 404, code: "USER_NOT_FOUND"},
		adminCase{name: "lookup failure", headers: ssws, path: path, status: 500, code: "INTERNAL_ERROR",
			cfg: envConfig{handlers: []handlers.Option{handlers.WithUserLookup(func(context.Context, string) (bool, error) {
				return false, errors.New(secret)
			})}}},
		adminCase{name: "store failure", headers: func(e *env) []string {
			e.st.fail("Revoke")
			return ssws(e)
		}, path: path, status: 500, code: "INTERNAL_ERROR"},
	)
	runAdmin(t, "DELETE", cases, func(t *testing.T, e *env, r response) {
		is.New(t).Equal(string(r.body), `{"count":2}`+"\n")
	})

	t.Run("again counts nothing", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("DELETE", "/auth/admin/api/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.json(t)["count"], float64(2))
		r = e.do("DELETE", "/auth/admin/api/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 200)
		is.Equal(r.json(t)["count"], float64(0))
	})
}
