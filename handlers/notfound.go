package handlers

import (
	"net/http"
	"strings"
)

// familyPrefixes are the path prefixes each family owns. Mount answers a
// path under one of them that no route matches with 404 in the family's
// shape: the ServeMux's text/plain "404 page not found" is something no
// client of the family can parse (Okta's Python SDK v3 even reports an
// empty-bodied error as a success). The longest matching prefix wins, as it
// does in the ServeMux.
var familyPrefixes = []struct {
	prefix string
	family Family
}{
	{"/api/v1/", FamilyOkta},
	{"/auth/", FamilyKratos},
	{"/auth/admin/", FamilyAdmin},
}

// Admin error code of a path that matches no route.
const adminRouteNotFound = "ROUTE_NOT_FOUND"

// routeNotFound answers every request under a family's prefix that no
// route matches.
func (h *Handlers) routeNotFound(fam Family) http.Handler {
	return h.endpoint(fam, noSession, func(w http.ResponseWriter, r *http.Request, rq *request) {
		path := shorten(r.URL.Path)
		switch fam {
		case FamilyOkta:
			// Okta answers an unknown resource with E0000007.
			rq.okta(w, http.StatusNotFound, oktaNotFound, "Not found: Resource not found: "+path)
		case FamilyKratos:
			rq.kratos(w, http.StatusNotFound, "", kratosMsgNotFound, "No route matches the path "+path+".")
		default:
			rq.admin(w, http.StatusNotFound, adminRouteNotFound, "Cannot "+shorten(r.Method)+" "+path)
		}
	})
}

// mountTrailingSlash registers the Okta routes on their paths with a
// trailing slash too, which are the same routes: Okta's Python SDK 2.x
// sends DELETE /api/v1/users/{userId}/sessions/?oauthTokens=True. A wrong
// method there gets the route's 405. allow maps each route pattern to its
// methods.
func (h *Handlers) mountTrailingSlash(mux *http.ServeMux, allow map[string][]string) {
	seen := make(map[string]bool)
	for _, rt := range routes {
		if rt.Family != FamilyOkta || strings.HasSuffix(rt.Pattern, "}") {
			continue
		}
		// {$} keeps the pattern exact: a bare trailing slash would match
		// every path below it.
		slashed := rt.Pattern + "/{$}"
		mux.Handle(rt.Method+" "+slashed, h.byName[rt.Name])
		if !seen[slashed] {
			seen[slashed] = true
			mux.Handle(slashed, h.methodNotAllowed(rt.Family, rt.Pattern, allow))
		}
	}
}

// mountNotFound registers the answer of each family's prefix.
func (h *Handlers) mountNotFound(mux *http.ServeMux) {
	for _, p := range familyPrefixes {
		mux.Handle(p.prefix, h.routeNotFound(p.family))
	}
}
