package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

func TestRevokeUserSessions(t *testing.T) {
	type request struct {
		path    string
		headers []string
	}
	sso := func(tok string) []string { return []string{"Authorization", "SSWS " + tok} }
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	cases := []struct {
		name    string
		cfg     envConfig
		req     func(e *env) request
		status  int
		code    string // Okta errorCode, for errors
		summary string // expected errorSummary, when checked
		revoked bool   // alice's sessions are revoked afterwards
	}{
		{name: "api token", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", sso(adminToken)} },
			status: 204, revoked: true},
		{name: "admin token as bearer", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", bearer(adminToken)} },
			status: 204, revoked: true},
		{name: "app-validated bearer", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", bearer(goodBearer)} },
			status: 204, revoked: true},
		{name: "admin session cookie, same origin", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "same-origin"}}
		}, status: 204, revoked: true},
		// Okta's Python SDK v3 joins scheme and token without a space.
		{name: "api token without the space", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "SSWS" + adminToken}}
		}, status: 204, revoked: true},
		{name: "bearer without the space", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "Bearer" + goodBearer}}
		}, status: 204, revoked: true},
		{name: "scheme in lower case", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "ssws " + adminToken}}
		}, status: 204, revoked: true},
		{name: "scheme in upper case, no space", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "BEARER" + adminToken}}
		}, status: 204, revoked: true},
		{name: "tab and spaces before the token", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "SSWS\t  " + adminToken}}
		}, status: 204, revoked: true},
		{name: "booleans in any case", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions?forgetDevices=FALSE&oauthTokens=False", sso(adminToken)}
		}, status: 204, revoked: true},
		{name: "no credentials", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", nil} },
			status: 401, code: "E0000011", summary: "Invalid token provided"},
		{name: "unknown api token", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", sso("not-the-admin-token-at-all")}
		},
			status: 401, code: "E0000011"},
		{name: "unknown bearer", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", bearer("expired-access-token")} },
			status: 401, code: "E0000011"},
		{name: "revoked admin session", req: func(e *env) request {
			e.revokeNow(e.r1)
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.r1.token)}}
		}, status: 401, code: "E0000011"},
		{name: "credentials before existence", req: func(e *env) request { return request{"/api/v1/users/nobody/sessions", nil} },
			status: 401, code: "E0000011"},
		{name: "credentials before validation", req: func(e *env) request { return request{"/api/v1/users/alice/sessions?oauthTokens=x", nil} },
			status: 401, code: "E0000011"},
		{name: "unknown api token without the space", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "SSWSnot-the-admin-token-at-all"}}
		}, status: 401, code: "E0000011"},
		{name: "admin token glued to another scheme", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "Basic" + adminToken}}
		}, status: 401, code: "E0000011"},
		{name: "admin token with a character after the scheme", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Authorization", "SSWS:" + adminToken}}
		}, status: 401, code: "E0000011"},
		{name: "bearer not permitted", req: func(e *env) request { return request{"/api/v1/users/alice/sessions", bearer(readOnlyBearer)} },
			status: 403, code: "E0000006", summary: "You do not have permission to perform the requested action"},
		{name: "session of a non-admin", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.b1.token)}}
		}, status: 403, code: "E0000006"},
		{name: "admin session cookie, cross-site", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "cross-site"}}
		}, status: 403, code: "E0000006"},
		{name: "admin session cookie, foreign Origin", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.r1.token), "Origin", "https://evil.example"}}
		}, status: 403, code: "E0000006"},
		{name: "bad oauthTokens", req: func(e *env) request { return request{"/api/v1/users/alice/sessions?oauthTokens=yes", sso(adminToken)} },
			status: 400, code: "E0000001", summary: "Api validation failed: oauthTokens"},
		{name: "empty forgetDevices", req: func(e *env) request { return request{"/api/v1/users/alice/sessions?forgetDevices=", sso(adminToken)} },
			status: 400, code: "E0000001", summary: "Api validation failed: forgetDevices"},
		{name: "repeated forgetDevices", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions?forgetDevices=true&forgetDevices=false", sso(adminToken)}
		}, status: 400, code: "E0000001", summary: "Api validation failed: forgetDevices"},
		{name: "oauthTokens without a revoker", req: func(e *env) request {
			return request{"/api/v1/users/alice/sessions?oauthTokens=true", sso(adminToken)}
		}, status: 400, code: "E0000001", summary: "Api validation failed: oauthTokens"},
		{name: "unknown user", req: func(e *env) request { return request{"/api/v1/users/nobody/sessions", sso(adminToken)} },
			status: 404, code: "E0000007", summary: "Not found: Resource not found: nobody (User)"},
		{name: "user unknown to the app's lookup", cfg: envConfig{handlers: []handlers.Option{
			handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return id == "bob", nil })}},
			req:    func(e *env) request { return request{"/api/v1/users/alice/sessions", sso(adminToken)} },
			status: 404, code: "E0000007"},
		{name: "user id that cannot exist", req: func(e *env) request { return request{"/api/v1/users/a%20b/sessions", sso(adminToken)} },
			status: 404, code: "E0000007"},
		{name: "store failure", req: func(e *env) request {
			e.st.fail("Revoke")
			return request{"/api/v1/users/alice/sessions", sso(adminToken)}
		}, status: 500, code: "E0000009", summary: "Internal Server Error"},
		{name: "store failure resolving the session", req: func(e *env) request {
			e.st.fail("GetByTokenHash")
			return request{"/api/v1/users/alice/sessions", []string{"Cookie", e.cookie(e.r1.token)}}
		}, status: 500, code: "E0000009"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnvWith(t, tc.cfg)
			rq := tc.req(e)
			r := e.do("DELETE", rq.path, "", rq.headers...)
			is.Equal(r.StatusCode, tc.status) // status
			checkRateHeaders(t, r)
			if tc.status == 204 {
				is.Equal(len(r.body), 0) // 204 has no body
			} else {
				v := checkOkta(t, r, tc.status, tc.code)
				if tc.summary != "" {
					is.Equal(v["errorSummary"], tc.summary)
				}
				if tc.code == "E0000001" {
					cause := v["errorCauses"].([]any)[0].(map[string]any)["errorSummary"].(string)
					param := strings.TrimPrefix(tc.summary, "Api validation failed: ")
					is.True(strings.HasPrefix(cause, param+":")) // the cause names the parameter
				}
			}
			is.Equal(!e.active(e.a1.token), tc.revoked) // a1
			is.Equal(!e.active(e.a2.token), tc.revoked) // a2
			is.True(e.active(e.b1.token))               // nobody else is touched
		})
	}
}

func TestRevokeUserSessionsExtras(t *testing.T) {
	t.Run("oauth tokens and devices", func(t *testing.T) {
		is := is.New(t)
		var e *env
		e = newEnvWith(t, envConfig{manager: []revoke.Option{
			revoke.WithOAuthTokenRevoker(func(_ context.Context, userID string) error {
				if userID == "alice" {
					e.oauth.Add(1)
				}
				return nil
			}),
		}})
		r := e.do("DELETE", "/api/v1/users/alice/sessions?oauthTokens=TRUE", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
		is.Equal(e.oauth.Load(), int64(1)) // OAuth tokens revoked
		is.Equal(e.forgt.Load(), int64(1)) // forgetDevices defaults to true

		r = e.do("DELETE", "/api/v1/users/bob/sessions?forgetDevices=false", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
		is.Equal(e.forgt.Load(), int64(1)) // not asked to forget this time
	})

	// The log line says what was done, not what was asked: without a
	// device forgetter, forgetDevices=true (the default) forgets nothing.
	t.Run("the log says what was done", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			forgetter bool
			query     string
			want      string
		}{
			{"no forgetter", false, "", "oauth_tokens_revoked=false devices_forgotten=false"},
			{"a forgetter", true, "", "oauth_tokens_revoked=false devices_forgotten=true"},
			{"a forgetter, not asked", true, "?forgetDevices=false", "oauth_tokens_revoked=false devices_forgotten=false"},
			{"oauth tokens", true, "?oauthTokens=true", "oauth_tokens_revoked=true devices_forgotten=true"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				is := is.New(t)
				opts := []revoke.Option{revoke.WithOAuthTokenRevoker(func(context.Context, string) error { return nil })}
				if !tc.forgetter {
					opts = append(opts, revoke.WithDeviceForgetter(nil))
				}
				e := newEnvWith(t, envConfig{manager: opts})
				r := e.do("DELETE", "/api/v1/users/alice/sessions"+tc.query, "", "Authorization", "SSWS "+adminToken)
				is.Equal(r.StatusCode, 204)
				logs := e.logs.String()
				is.True(strings.Contains(logs, "user sessions revoked"))
				is.True(strings.Contains(logs, tc.want)) // what happened
				is.True(!strings.Contains(logs, "forget_devices=true") || tc.forgetter)
				is.Equal(e.forgt.Load() == 1, strings.Contains(tc.want, "devices_forgotten=true"))
			})
		}
	})

	// Okta's Python SDK 2.x puts a slash before the query and spells
	// Python's booleans: the same route, the same parameters.
	t.Run("trailing slash before the query", func(t *testing.T) {
		is := is.New(t)
		var e *env
		e = newEnvWith(t, envConfig{manager: []revoke.Option{
			revoke.WithOAuthTokenRevoker(func(context.Context, string) error { e.oauth.Add(1); return nil }),
		}})
		r := e.do("DELETE", "/api/v1/users/alice/sessions/?oauthTokens=True&forgetDevices=False", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
		is.Equal(len(r.body), 0)
		checkRateHeaders(t, r)
		is.Equal(e.oauth.Load(), int64(1)) // oauthTokens=True
		is.Equal(e.forgt.Load(), int64(0)) // forgetDevices=False
		is.True(!e.active(e.a1.token))
		is.True(!e.active(e.a2.token))
		is.True(e.active(e.b1.token))

		r = e.do("DELETE", "/api/v1/users/bob/sessions/", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
		is.True(!e.active(e.b1.token))

		r = e.do("DELETE", "/api/v1/users/nobody/sessions/?oauthTokens=True", "", "Authorization", "SSWS "+adminToken)
		checkOkta(t, r, 404, "E0000007") // still the user's 404, not the prefix's
		is.Equal(r.json(t)["errorSummary"], "Not found: Resource not found: nobody (User)")
		r = e.do("DELETE", "/api/v1/users/alice/sessions/?oauthTokens=yes", "", "Authorization", "SSWS "+adminToken)
		checkOkta(t, r, 400, "E0000001")
		r = e.do("DELETE", "/api/v1/users/alice/sessions/", "")
		checkOkta(t, r, 401, "E0000011")
	})

	// Okta's SDKs escape a login's '+' and '@' (Go's and Python 2.x's
	// leave them raw); either way it names the same user, and a '+' is
	// never read as a space.
	t.Run("a login with + and @", func(t *testing.T) {
		for _, p := range []string{"a.b%2Bc%40example.com", "a.b+c@example.com", "a.b%2Bc@example.com"} {
			t.Run(p, func(t *testing.T) {
				is := is.New(t)
				e := newEnvWith(t, envConfig{handlers: []handlers.Option{handlers.WithUserLookup(
					func(_ context.Context, id string) (bool, error) { return id == "a.b+c@example.com", nil })}})
				s := e.login("a.b+c@example.com")
				spaced := e.login("a.b c@example.com")
				r := e.do("DELETE", "/api/v1/users/"+p+"/sessions", "", "Authorization", "SSWS "+adminToken)
				is.Equal(r.StatusCode, 204)
				is.True(!e.active(s.token))
				is.True(e.active(spaced.token))
				is.True(e.active(e.a1.token))
			})
		}
	})

	t.Run("a failing OAuth revoker is a 500 that says the sessions are gone", func(t *testing.T) {
		is := is.New(t)
		e := newEnvWith(t, envConfig{manager: []revoke.Option{
			revoke.WithOAuthTokenRevoker(func(context.Context, string) error {
				return errors.New("idp: connection refused, password=hunter2")
			}),
		}})
		r := e.do("DELETE", "/api/v1/users/alice/sessions?oauthTokens=true", "", "Authorization", "SSWS "+adminToken)
		v := checkOkta(t, r, 500, "E0000009") // the idp's text never reaches the client
		cause := v["errorCauses"].([]any)[0].(map[string]any)["errorSummary"].(string)
		is.True(strings.Contains(cause, "sessions were revoked"))
		is.True(!e.active(e.a1.token)) // the sessions went first
		is.True(!e.active(e.a2.token))
		is.True(strings.Contains(e.logs.String(), "connection refused")) // logged for the operator
	})

	t.Run("no active session left is still 204", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.revokeNow(e.a1)
		e.revokeNow(e.a2)
		r := e.do("DELETE", "/api/v1/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
	})

	t.Run("audit actor and reason", func(t *testing.T) {
		is := is.New(t)
		var got []revoke.Event
		e := newEnvWith(t, envConfig{manager: []revoke.Option{
			revoke.OnRevoke(func(_ context.Context, ev revoke.Event) { got = append(got, ev) }),
		}})
		r := e.do("DELETE", "/api/v1/users/alice/sessions", "", "Authorization", "Bearer "+goodBearer)
		is.Equal(r.StatusCode, 204)
		is.Equal(len(got), 1)
		is.Equal(got[0].Actor, "bearer:ops-service")
		is.Equal(got[0].Reason, revoke.ReasonAdminRevoked)
		is.Equal(len(got[0].SessionIDs), 2)

		r = e.do("DELETE", "/api/v1/users/bob/sessions", "", "Authorization", "SSWS "+adminToken)
		is.Equal(r.StatusCode, 204)
		is.True(strings.HasPrefix(got[1].Actor, "admin-token:"))
		is.Equal(len(got[1].Actor), len("admin-token:")+8)
		is.True(!strings.Contains(got[1].Actor, adminToken)) // the token itself is never recorded
	})

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("GET", "/api/v1/users/alice/sessions", "", "Authorization", "SSWS "+adminToken)
		checkOkta(t, r, 405, "E0000022")
		is.Equal(r.Header.Get("Allow"), "DELETE")
		checkRateHeaders(t, r)
		is.True(e.active(e.a1.token))
	})
}

func TestEndUserSessions(t *testing.T) {
	const path = "/api/v1/users/me/lifecycle/delete_sessions"
	type request struct {
		body    string
		headers []string
	}
	cases := []struct {
		name   string
		cfg    envConfig
		req    func(e *env) request
		status int
		code   string
		// which of alice's sessions are revoked afterwards
		a1Revoked, a2Revoked bool
		expiresCookie        bool
	}{
		{name: "default keeps current", req: func(e *env) request { return request{"", []string{"Cookie", e.cookie(e.a1.token)}} },
			status: 200, a2Revoked: true},
		{name: "keepCurrent true", req: func(e *env) request {
			return request{`{"keepCurrent": true}`, []string{"Cookie", e.cookie(e.a1.token), "Content-Type", "application/json"}}
		}, status: 200, a2Revoked: true},
		{name: "null body", req: func(e *env) request { return request{`null`, []string{"Cookie", e.cookie(e.a1.token)}} },
			status: 200, a2Revoked: true},
		{name: "keepCurrent false", req: func(e *env) request {
			return request{`{"keepCurrent":false}`, []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "same-origin"}}
		}, status: 200, a1Revoked: true, a2Revoked: true, expiresCookie: true},
		{name: "api token", req: func(e *env) request {
			return request{"", []string{"Cookie", e.cookie(e.a1.token), "Authorization", "SSWS " + adminToken}}
		}, status: 403, code: "E0000006"},
		{name: "bearer token", req: func(e *env) request { return request{"", []string{"Authorization", "Bearer " + goodBearer}} },
			status: 403, code: "E0000006"},
		{name: "api token without the space", req: func(e *env) request {
			return request{"", []string{"Cookie", e.cookie(e.a1.token), "Authorization", "SSWS" + adminToken}}
		}, status: 403, code: "E0000006"},
		{name: "session token header", req: func(e *env) request { return request{"", []string{"X-Session-Token", e.a1.token}} },
			status: 403, code: "E0000006"},
		{name: "no session", req: func(e *env) request { return request{"", nil} },
			status: 403, code: "E0000005"},
		{name: "revoked session", req: func(e *env) request {
			e.revokeNow(e.a1)
			return request{"", []string{"Cookie", e.cookie(e.a1.token)}}
		}, status: 403, code: "E0000005", a1Revoked: true, expiresCookie: true},
		{name: "forged cookie", req: func(e *env) request { return request{"", []string{"Cookie", e.m.CookieName() + "=forged"}} },
			status: 403, code: "E0000005", expiresCookie: true},
		{name: "cross-site", req: func(e *env) request {
			return request{"", []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "cross-site"}}
		}, status: 403, code: "E0000006"},
		{name: "trusted origin", cfg: envConfig{handlers: []handlers.Option{handlers.WithTrustedOrigins("https://app.example")}},
			req: func(e *env) request {
				return request{"", []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "cross-site", "Origin", "https://app.example"}}
			}, status: 200, a2Revoked: true},
		{name: "malformed JSON", req: func(e *env) request { return request{`{"keepCurrent":`, []string{"Cookie", e.cookie(e.a1.token)}} },
			status: 400, code: "E0000003"},
		{name: "not an object", req: func(e *env) request { return request{`[true]`, []string{"Cookie", e.cookie(e.a1.token)}} },
			status: 400, code: "E0000003"},
		{name: "body too large", req: func(e *env) request {
			return request{`{"keepCurrent":false,"pad":"` + strings.Repeat("x", 8<<10) + `"}`, []string{"Cookie", e.cookie(e.a1.token)}}
		}, status: 400, code: "E0000003"},
		{name: "keepCurrent not a boolean", req: func(e *env) request {
			return request{`{"keepCurrent":"false"}`, []string{"Cookie", e.cookie(e.a1.token)}}
		}, status: 400, code: "E0000001"},
		{name: "user gone", cfg: envConfig{handlers: []handlers.Option{
			handlers.WithUserLookup(func(context.Context, string) (bool, error) { return false, nil })}},
			req:    func(e *env) request { return request{"", []string{"Cookie", e.cookie(e.a1.token)}} },
			status: 404, code: "E0000007"},
		{name: "store failure", req: func(e *env) request {
			e.st.fail("Revoke")
			return request{"", []string{"Cookie", e.cookie(e.a1.token)}}
		}, status: 500, code: "E0000009"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnvWith(t, tc.cfg)
			rq := tc.req(e)
			r := e.do("POST", path, rq.body, rq.headers...)
			is.Equal(r.StatusCode, tc.status) // status
			checkRateHeaders(t, r)
			if tc.status == 200 {
				is.Equal(len(r.body), 0) // 200 with an empty body
			} else {
				v := checkOkta(t, r, tc.status, tc.code)
				if tc.code == "E0000001" {
					is.Equal(v["errorSummary"], "Api validation failed: keepCurrent")
				}
			}
			is.Equal(!e.active(e.a1.token), tc.a1Revoked) // current session
			is.Equal(!e.active(e.a2.token), tc.a2Revoked) // other session
			is.True(e.active(e.b1.token))                 // other users untouched
			expired := false
			for _, c := range r.Cookies() {
				if c.Name == e.m.CookieName() && c.MaxAge < 0 {
					expired = true
				}
			}
			is.Equal(expired, tc.expiresCookie) // cookie expired
		})
	}

	t.Run("wrong method", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("DELETE", path, "", "Cookie", e.cookie(e.a1.token))
		checkOkta(t, r, 405, "E0000022")
		is.Equal(r.Header.Get("Allow"), "POST")
	})

	t.Run("trailing slash", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		r := e.do("POST", path+"/", `{"keepCurrent":true}`, "Cookie", e.cookie(e.a1.token), "Content-Type", "application/json")
		is.Equal(r.StatusCode, 200)
		is.Equal(len(r.body), 0)
		is.True(e.active(e.a1.token))
		is.True(!e.active(e.a2.token))
		r = e.do("GET", path+"/", "", "Cookie", e.cookie(e.a1.token))
		checkOkta(t, r, 405, "E0000022")
		is.Equal(r.Header.Get("Allow"), "POST")
	})
}

// TestNoRoute: a path under a family's prefix that is no route is answered
// 404 in the family's shape, whatever the method and credentials, and one
// outside every prefix is left to the app's ServeMux.
func TestNoRoute(t *testing.T) {
	e := newEnv(t)
	t.Run("okta", func(t *testing.T) {
		r := e.do("GET", "/api/v1/users/alice", "", "Authorization", "SSWS "+adminToken)
		v := checkOkta(t, r, 404, "E0000007")
		is.New(t).Equal(v["errorSummary"], "Not found: Resource not found: /api/v1/users/alice")
		checkRateHeaders(t, r)
		checkOkta(t, e.do("BREW", "/api/v1/", ""), 404, "E0000007")
	})
	t.Run("kratos", func(t *testing.T) {
		is := is.New(t)
		v := checkKratos(t, e.do("GET", "/auth/sessions/whoami/x", "", "X-Session-Token", e.a1.token), 404)
		is.Equal(v["message"], "The requested resource could not be found")
		checkKratos(t, e.do("PUT", "/auth/administrator", ""), 404) // not under /auth/admin/
	})
	t.Run("admin", func(t *testing.T) {
		is := is.New(t)
		r := e.do("PATCH", "/auth/admin/api/users", "", "Authorization", "SSWS "+adminToken)
		checkAdmin(t, r, 404, "ROUTE_NOT_FOUND")
		is.Equal(r.json(t)["message"], "Cannot PATCH /auth/admin/api/users")
	})
	t.Run("oidc", func(t *testing.T) {
		is := is.New(t)
		r := e.do("POST", "/auth/oidc/logout", "")
		v := checkOAuth(t, r, 404, "invalid_request")
		is.Equal(v["error_description"], "No endpoint matches the path /auth/oidc/logout.")
		is.True(r.Header.Get("X-RateLimit-Limit") != "") // the family's rate limit
	})
	t.Run("outside the prefixes", func(t *testing.T) {
		is := is.New(t)
		r := e.do("GET", "/api/v2/users", "")
		is.Equal(r.StatusCode, 404)
		is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain")) // the ServeMux's own
	})
	t.Run("the app's own routes under a prefix win", func(t *testing.T) {
		is := is.New(t)
		mux := http.NewServeMux()
		e.h.Mount(mux)
		mux.HandleFunc("GET /auth/login", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
		mux.HandleFunc("/api/v1/widgets/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
		for _, p := range []string{"/auth/login", "/api/v1/widgets/w1"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			is.Equal(rec.Code, http.StatusTeapot)
		}
	})
}

// checkRateHeaders asserts the rate-limit headers Okta's SDKs read.
func checkRateHeaders(t *testing.T, r response) {
	t.Helper()
	is := is.New(t)
	is.True(r.Header.Get("X-Rate-Limit-Limit") != "")     // limit
	is.True(r.Header.Get("X-Rate-Limit-Remaining") != "") // remaining
	reset, err := strconv.ParseInt(r.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	is.NoErr(err) // reset is epoch seconds
	now := time.Now().Unix()
	// Up to two windows ahead on a 429 (see TestRateLimitedResetIsServed);
	// the tests' windows are at most an hour.
	is.True(reset >= now-1 && reset <= now+int64(handlers.DefaultRateLimitWindow/time.Second)+2*3600+1)
	_, err = http.ParseTime(r.Header.Get("Date"))
	is.NoErr(err)                                                             // Date
	is.Equal(r.Header.Get("X-Okta-Request-Id"), r.Header.Get("X-Request-Id")) // Okta's name for the request id
}

// TestEndUserSessionsCookieNotHeader: the route acts on the session
// cookie's session alone. An X-Session-Token sent along with a valid cookie
// is ignored, so the header cannot pick the session; without a session
// cookie the header is refused, as before.
func TestEndUserSessionsCookieNotHeader(t *testing.T) {
	const path = "/api/v1/users/me/lifecycle/delete_sessions"
	cases := []struct {
		name    string
		wrap    bool // the whole mux in the Manager's Middleware, which reads the header first
		body    string
		headers func(e *env) []string
		status  int
		code    string
		revoked []string
		expires bool // the session cookie is expired
	}{
		{name: "cookie and the token of another of the user's sessions",
			headers: func(e *env) []string { return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", e.a2.token} },
			status:  200, revoked: []string{"a2"}},
		{name: "cookie and the token of another user's session",
			headers: func(e *env) []string { return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", e.b1.token} },
			status:  200, revoked: []string{"a2"}},
		{name: "cookie and another user's token, keepCurrent false", body: `{"keepCurrent":false}`,
			headers: func(e *env) []string { return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", e.b1.token} },
			status:  200, revoked: []string{"a1", "a2"}, expires: true},
		{name: "cookie and an invented token",
			headers: func(e *env) []string {
				return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", inventedToken(t)}
			},
			status: 200, revoked: []string{"a2"}},
		{name: "cookie and a malformed token",
			headers: func(e *env) []string {
				return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", "not a token!"}
			},
			status: 200, revoked: []string{"a2"}},
		{name: "under the Middleware, cookie and the token of another session", wrap: true,
			headers: func(e *env) []string { return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", e.b1.token} },
			status:  200, revoked: []string{"a2"}},
		{name: "token alone", headers: func(e *env) []string { return []string{"X-Session-Token", e.a1.token} },
			status: 403, code: "E0000006"},
		{name: "under the Middleware, token alone", wrap: true,
			headers: func(e *env) []string { return []string{"X-Session-Token", e.a1.token} },
			status:  403, code: "E0000006"},
		{name: "token and a forged cookie",
			headers: func(e *env) []string {
				return []string{"Cookie", e.m.CookieName() + "=forged", "X-Session-Token", e.a1.token}
			},
			status: 403, code: "E0000005", expires: true},
		{name: "token and a revoked cookie",
			headers: func(e *env) []string {
				e.revokeNow(e.a2)
				return []string{"Cookie", e.cookie(e.a2.token), "X-Session-Token", e.a1.token}
			},
			status: 403, code: "E0000005", revoked: []string{"a2"}, expires: true},
		{name: "cookie and token, cross-site",
			headers: func(e *env) []string {
				return []string{"Cookie", e.cookie(e.a1.token), "X-Session-Token", e.a1.token, "Sec-Fetch-Site", "cross-site"}
			},
			status: 403, code: "E0000006"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			cfg := envConfig{}
			if tc.wrap {
				cfg.wrap = func(e *env, h http.Handler) http.Handler { return e.m.Middleware(h) }
			}
			e := newEnvWith(t, cfg)
			r := e.do("POST", path, tc.body, tc.headers(e)...)
			if tc.status == 200 {
				is.Equal(r.StatusCode, 200)
				is.Equal(len(r.body), 0)
			} else {
				checkOkta(t, r, tc.status, tc.code)
			}
			var revoked []string
			for _, s := range []struct {
				name string
				session
			}{{"a1", e.a1}, {"a2", e.a2}, {"b1", e.b1}, {"r1", e.r1}} {
				if !e.active(s.token) {
					revoked = append(revoked, s.name)
				}
			}
			is.Equal(revoked, tc.revoked) // revoked sessions
			expired := false
			for _, c := range r.Cookies() {
				if c.Name == e.m.CookieName() && c.MaxAge < 0 {
					expired = true
				}
			}
			is.Equal(expired, tc.expires) // cookie expired
		})
	}
}
