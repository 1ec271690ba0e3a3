package handlers_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/matryer/is"

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
