package handlers

import (
	"net/http"
	"slices"
	"strings"
)

// RouteName names a route: the Handlers method that returns its handler,
// and the operationId of the route in the OpenAPI document. Each family's
// file declares the names of its routes.
type RouteName string

// Route describes one endpoint, for documentation and for keeping API
// descriptions (an OpenAPI document, for example) in step with the code.
type Route struct {
	Method  string // HTTP method
	Pattern string // default path, with ServeMux wildcards
	Family  Family
	Name    RouteName
	Summary string // one line for people
}

// route is a row of the route table: the endpoint and how it is served.
type route struct {
	Route
	session sessionFrom // where the caller's session is read from
	serve   serveFunc   // the endpoint's own work
}

// serveFunc is an endpoint's own work, after the steps every route shares
// (see Handlers.endpoint). A Handlers method expression is one.
type serveFunc func(h *Handlers, w http.ResponseWriter, r *http.Request, rq *request)

// routes is the route table: every endpoint at its default path. A new
// endpoint is a row here, and its serveFunc and RouteName in its family's
// file; Mount, the 404 and 405 answers, the rate limits and the OpenAPI
// tests follow from the table.
var routes = []route{
	{Route{http.MethodDelete, "/api/v1/users/{userId}/sessions", FamilyOkta, RouteRevokeUserSessions, "Revoke all user sessions"},
		anySession, (*Handlers).revokeUserSessions},
	{Route{http.MethodPost, "/api/v1/users/me/lifecycle/delete_sessions", FamilyOkta, RouteEndUserSessions, "End the current user's sessions"},
		cookieSession, (*Handlers).endUserSessions},
	{Route{http.MethodPost, "/oauth2/v1/global-token-revocation", FamilyOkta, RouteGlobalTokenRevocation, "Sign a user out everywhere (Universal Logout)"},
		anySession, (*Handlers).globalTokenRevocation},

	{Route{http.MethodDelete, "/auth/sessions", FamilyKratos, RouteDisableMyOtherSessions, "Disable my other sessions"},
		anySession, (*Handlers).disableMyOtherSessions},
	{Route{http.MethodGet, "/auth/sessions", FamilyKratos, RouteListMySessions, "List my other active sessions"},
		anySession, (*Handlers).listMySessions},
	{Route{http.MethodDelete, "/auth/sessions/{id}", FamilyKratos, RouteDisableMySession, "Disable one of my sessions"},
		anySession, (*Handlers).disableMySession},
	{Route{http.MethodGet, "/auth/sessions/whoami", FamilyKratos, RouteWhoAmI, "Check who the current session belongs to"},
		anySession, (*Handlers).whoAmI},

	{Route{http.MethodDelete, "/auth/admin/api/users/{id}/sessions/{sessionId}", FamilyAdmin, RouteAdminRevokeSession, "Revoke a single user session"},
		anySession, (*Handlers).adminRevokeSession},
	{Route{http.MethodGet, "/auth/admin/api/users/{id}/sessions", FamilyAdmin, RouteAdminListSessions, "List a user's sessions"},
		anySession, (*Handlers).adminListSessions},
	{Route{http.MethodDelete, "/auth/admin/api/users/{id}/sessions", FamilyAdmin, RouteAdminRevokeAllSessions, "Revoke all of a user's sessions"},
		anySession, (*Handlers).adminRevokeAllSessions},

	// The logout token is the credential, in the body.
	{Route{http.MethodPost, "/auth/oidc/backchannel-logout", FamilyOIDC, RouteBackChannelLogout, "OpenID Connect back-channel logout"},
		noSession, (*Handlers).backChannelLogout},

	// The SET is the credential, in the body.
	{Route{http.MethodPost, "/auth/ssf/events", FamilySSF, RouteSecurityEvents, "Receive a security event (RFC 8935 push)"},
		noSession, (*Handlers).securityEvents},
}

// Routes returns every endpoint the package serves, at its default path.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		out[i] = rt.Route
	}
	return out
}

// Families returns the API families of Routes, in the order of their first
// route.
func Families() []Family { return familiesOf(routes) }

func familiesOf(table []route) []Family {
	var out []Family
	for _, rt := range table {
		if !slices.Contains(out, rt.Family) {
			out = append(out, rt.Family)
		}
	}
	return out
}

// wildcards returns the names of the wildcards of a ServeMux pattern, in
// order ("{id}" and "{rest...}" give id and rest).
func wildcards(pattern string) []string {
	var names []string
	for seg := range strings.SplitSeq(pattern, "/") {
		if name, ok := wildcard(seg); ok {
			names = append(names, name)
		}
	}
	return names
}

// wildcard returns the name of a path segment that is a ServeMux wildcard.
func wildcard(seg string) (string, bool) {
	if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' || seg == "{$}" {
		return "", false
	}
	return strings.TrimSuffix(seg[1:len(seg)-1], "..."), true
}
