package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// TestCrossOriginMatrix sends every write that a session cookie can
// authorize with every combination of the browser's origin signals. The
// per-route tables check a few of these; this is the whole matrix, so that
// a route added later cannot miss one.
func TestCrossOriginMatrix(t *testing.T) {
	type write struct {
		name    string
		method  string
		path    string // {a2} stands for that session's id
		fam     handlers.Family
		user    func(e *env) session // whose cookie authorizes it
		status  int                  // on success
		revokes []string             // on success
	}
	alice := func(e *env) session { return e.a1 }
	root := func(e *env) session { return e.r1 }
	writes := []write{
		{"end my sessions", "POST", "/api/v1/users/me/lifecycle/delete_sessions", handlers.FamilyOkta, alice, 200, []string{"a2"}},
		{"revoke a user's sessions (admin)", "DELETE", "/api/v1/users/alice/sessions", handlers.FamilyOkta, root, 204, []string{"a1", "a2"}},
		{"disable my other sessions", "DELETE", "/auth/sessions", handlers.FamilyKratos, alice, 200, []string{"a2"}},
		{"disable one of my sessions", "DELETE", "/auth/sessions/{a2}", handlers.FamilyKratos, alice, 204, []string{"a2"}},
		{"admin revoke one session", "DELETE", "/auth/admin/api/users/alice/sessions/{a2}", handlers.FamilyAdmin, root, 200, []string{"a2"}},
		{"admin revoke all sessions", "DELETE", "/auth/admin/api/users/alice/sessions", handlers.FamilyAdmin, root, 200, []string{"a1", "a2"}},
	}

	type signal struct {
		name    string
		headers func(e *env) []string
		refused bool
	}
	h := func(kv ...string) func(*env) []string { return func(*env) []string { return kv } }
	thisOrigin := func(e *env) string { return e.srv.URL }
	signals := []signal{
		{"Sec-Fetch-Site cross-site", h("Sec-Fetch-Site", "cross-site"), true},
		{"Sec-Fetch-Site same-site (a sibling subdomain)", h("Sec-Fetch-Site", "same-site"), true},
		{"Sec-Fetch-Site cross-site, Origin this host", func(e *env) []string {
			return []string{"Sec-Fetch-Site", "cross-site", "Origin", thisOrigin(e)}
		}, true},
		{"foreign Origin, no Sec-Fetch-Site", h("Origin", "https://evil.example"), true},
		{"Origin null, no Sec-Fetch-Site", h("Origin", "null"), true},
		{"Origin of this host on another port, no Sec-Fetch-Site", func(e *env) []string {
			u, _ := url.Parse(e.srv.URL)
			return []string{"Origin", "http://" + u.Hostname() + ":1"}
		}, true},
		{"Sec-Fetch-Site same-origin", h("Sec-Fetch-Site", "same-origin"), false},
		{"Origin this host, no Sec-Fetch-Site", func(e *env) []string { return []string{"Origin", thisOrigin(e)} }, false},
		{"Sec-Fetch-Site none (typed or bookmarked)", h("Sec-Fetch-Site", "none"), false},
		{"neither header (not a browser)", h(), false},
	}
	refusal := map[handlers.Family]string{
		handlers.FamilyOkta:   "E0000006",
		handlers.FamilyKratos: "security_csrf_violation",
		handlers.FamilyAdmin:  "FORBIDDEN",
	}

	for _, wr := range writes {
		for _, sg := range signals {
			t.Run(wr.name+"/"+sg.name, func(t *testing.T) {
				t.Parallel()
				is := is.New(t)
				e := newEnv(t)
				path := wr.path
				if path == "/auth/sessions/{a2}" || path == "/auth/admin/api/users/alice/sessions/{a2}" {
					path = path[:len(path)-len("{a2}")] + e.a2.ID
				}
				hdr := append([]string{"Cookie", e.cookie(wr.user(e).token)}, sg.headers(e)...)
				r := e.do(wr.method, path, "", hdr...)

				var revoked []string
				for name, s := range map[string]session{"a1": e.a1, "a2": e.a2, "b1": e.b1, "r1": e.r1} {
					if !e.active(s.token) {
						revoked = append(revoked, name)
					}
				}
				slices.Sort(revoked)
				if sg.refused {
					checkFamilyError(t, wr.fam, wr.method, r, 403, refusal[wr.fam])
					is.Equal(revoked, []string(nil)) // nothing revoked
					return
				}
				is.Equal(r.StatusCode, wr.status) // the same request from this origin passes
				is.Equal(revoked, wr.revokes)
			})
		}
	}
}

// TestCrossOriginCustomAuthorizer: an authorizer that grants on the
// cookie's session, and says nothing of where its grant came from, is
// still guarded. The handlers decide which requests must pass the
// cross-origin check; the authorizer cannot opt a request out of it.
func TestCrossOriginCustomAuthorizer(t *testing.T) {
	// bob is an administrator to this authorizer only: the built-in one
	// of the test environment refuses his session, so this one grants.
	bobIsAdmin := handlers.WithAuthorizer(handlers.AuthorizerFunc(func(r *http.Request) (handlers.Grant, error) {
		cur, ok := revoke.FromContext(r.Context())
		switch {
		case !ok:
			return handlers.Grant{}, handlers.ErrNoCredentials
		case cur.UserID != "bob":
			return handlers.Grant{}, handlers.ErrNotPermitted
		}
		return handlers.Grant{Actor: "custom:" + cur.UserID}, nil
	}))
	bobCookie := func(e *env, more ...string) []string {
		return append([]string{"Cookie", e.cookie(e.b1.token)}, more...)
	}
	cases := []struct {
		name    string
		headers func(e *env) []string
		refused bool
	}{
		{"cookie, foreign Origin", func(e *env) []string { return bobCookie(e, "Origin", "https://evil.example") }, true},
		{"cookie, Sec-Fetch-Site cross-site", func(e *env) []string { return bobCookie(e, "Sec-Fetch-Site", "cross-site") }, true},
		// A browser sends remembered HTTP Basic credentials cross-site too.
		{"cookie and HTTP Basic credentials, foreign Origin", func(e *env) []string {
			return bobCookie(e, "Authorization", "Basic YWRtaW46YWRtaW4=", "Origin", "https://evil.example")
		}, true},
		// An invalid bearer token does not make the cookie's session
		// exempt: the grant may rest on the cookie all the same.
		{"cookie and an unknown bearer token, foreign Origin", func(e *env) []string {
			return bobCookie(e, "Authorization", "Bearer not-a-known-token-xyz", "Origin", "https://evil.example")
		}, true},
		{"cookie, same origin", func(e *env) []string { return bobCookie(e, "Sec-Fetch-Site", "same-origin") }, false},
		{"cookie, no browser headers", func(e *env) []string { return bobCookie(e) }, false},
		// A header credential is never sent by a browser on its own.
		{"X-Session-Token, foreign Origin", func(e *env) []string {
			return []string{"X-Session-Token", e.b1.token, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
		}, false},
	}
	routes := []struct {
		fam    handlers.Family
		path   string
		status int
		code   string
	}{
		{handlers.FamilyAdmin, "/auth/admin/api/users/alice/sessions", 200, "FORBIDDEN"},
		{handlers.FamilyOkta, "/api/v1/users/alice/sessions", 204, "E0000006"},
	}
	for _, rt := range routes {
		for _, tc := range cases {
			t.Run(string(rt.fam)+"/"+tc.name, func(t *testing.T) {
				is := is.New(t)
				e := newEnv(t, bobIsAdmin)
				r := e.do("DELETE", rt.path, "", tc.headers(e)...)
				if tc.refused {
					checkFamilyError(t, rt.fam, "DELETE", r, 403, rt.code)
					is.True(e.active(e.a1.token)) // nothing revoked
					is.True(e.active(e.a2.token))
					return
				}
				is.Equal(r.StatusCode, rt.status) // granted by the custom authorizer
				is.True(!e.active(e.a1.token))
				is.True(!e.active(e.a2.token))
			})
		}
	}
}
