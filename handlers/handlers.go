// Package handlers serves the HTTP endpoints of revoke: mountable
// http.Handlers that let users and administrators revoke sessions, in the
// wire formats of three API families so that existing clients (Okta's SDKs,
// Ory's client) work against them unchanged.
//
// Routes, at their default paths (see Routes):
//
//	Okta family
//	  DELETE /api/v1/users/{userId}/sessions              RevokeUserSessions      (admin)
//	  POST   /api/v1/users/me/lifecycle/delete_sessions   EndUserSessions         (session cookie)
//	Kratos family
//	  DELETE /auth/sessions                               DisableMyOtherSessions  (session)
//	  GET    /auth/sessions                               ListMySessions          (session)
//	  DELETE /auth/sessions/{id}                          DisableMySession        (session)
//	  GET    /auth/sessions/whoami                        WhoAmI                  (session)
//	Admin family
//	  DELETE /auth/admin/api/users/{id}/sessions/{sessionId}  AdminRevokeSession     (admin)
//	  GET    /auth/admin/api/users/{id}/sessions              AdminListSessions      (admin)
//	  DELETE /auth/admin/api/users/{id}/sessions              AdminRevokeAllSessions (admin)
//	Identity providers (see WithBackChannelLogout, WithUniversalLogout)
//	  POST   /auth/oidc/backchannel-logout                BackChannelLogout       (signed logout token)
//	  POST   /oauth2/v1/global-token-revocation           GlobalTokenRevocation   (provider JWT or admin)
//
// Mount registers them all on a ServeMux; each is also available as its own
// http.Handler (the method of the same name) for apps that mount it on a
// path of their own. Such a path must name its wildcards as above: {userId}
// for RevokeUserSessions, {id} for DisableMySession, {id} and {sessionId}
// for the admin routes.
//
// Each family answers errors in its own JSON shape, rate-limits per client
// address and per caller (see RateLimit), and echoes a request id in
// X-Request-Id. A store that does not answer in time (an error matching
// store.ErrUnavailable) gets 503 with Retry-After; on the Okta routes every
// 429 and 503 also carries the Date and the single integer
// X-Rate-Limit-Reset that Okta's SDKs compute their retry wait from. Unsafe requests pass http.CrossOriginProtection unless they
// carry their credential in a header a browser never adds by itself:
// X-Session-Token, or an SSWS or Bearer Authorization header. Who counts as
// an administrator is decided by the authorizers given to New
// (WithAdminTokens, WithBearerAuthorizer, WithAdminSessions,
// WithAuthorizer); without any, admin routes answer 401.
//
// Every handler resolves the session itself, so none needs the Manager's
// Middleware around it. Wrap only the app's own routes in it:
//
//	mux := http.NewServeMux()
//	h.Mount(mux)
//	mux.Handle("/", m.Middleware(appRoutes))
//
// Mount on a mux of its own, as here, with the app's routes behind it at "/":
// some of Mount's patterns name no method (they answer other methods with
// 405 in the family's shape), and net/http cannot order them against an app
// pattern such as "GET /", so registering both on one mux panics.
//
// Wrapping the whole mux works too (a session the Middleware resolved is
// used as it is, not looked up again), with two differences. A store
// failure while resolving is answered by the Middleware, before any handler
// runs, with the Manager's error func: by default a text/plain 500 without
// the family's JSON shape, request id or rate-limit headers (give the
// Manager a revoke.WithErrorFunc that answers JSON if the app must wrap
// everything). And the session is looked up before the per-address rate
// limit can refuse the request.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/option"
)

// Family is an API family: the error shape, rate limit and conventions its
// routes share.
type Family string

// The API families.
const (
	FamilyOkta   Family = "okta"   // Okta Management API (UserSessions)
	FamilyKratos Family = "kratos" // Ory Kratos frontend API (sessions)
	FamilyAdmin  Family = "admin"  // admin API with ApiErrorResponseDto errors
)

// Route describes one endpoint, for documentation and for keeping API
// descriptions (an OpenAPI document, for example) in step with the code.
type Route struct {
	Method  string // HTTP method
	Pattern string // default path, with ServeMux wildcards
	Family  Family
	Name    string // the Handlers method that returns the endpoint's handler
	Summary string // one line for people
}

var routes = []Route{
	{http.MethodDelete, "/api/v1/users/{userId}/sessions", FamilyOkta, "RevokeUserSessions", "Revoke all user sessions"},
	{http.MethodPost, "/api/v1/users/me/lifecycle/delete_sessions", FamilyOkta, "EndUserSessions", "End the current user's sessions"},
	{http.MethodDelete, "/auth/sessions", FamilyKratos, "DisableMyOtherSessions", "Disable my other sessions"},
	{http.MethodGet, "/auth/sessions", FamilyKratos, "ListMySessions", "List my other active sessions"},
	{http.MethodDelete, "/auth/sessions/{id}", FamilyKratos, "DisableMySession", "Disable one of my sessions"},
	{http.MethodGet, "/auth/sessions/whoami", FamilyKratos, "WhoAmI", "Check who the current session belongs to"},
	{http.MethodDelete, "/auth/admin/api/users/{id}/sessions/{sessionId}", FamilyAdmin, "AdminRevokeSession", "Revoke a single user session"},
	{http.MethodGet, "/auth/admin/api/users/{id}/sessions", FamilyAdmin, "AdminListSessions", "List a user's sessions"},
	{http.MethodDelete, "/auth/admin/api/users/{id}/sessions", FamilyAdmin, "AdminRevokeAllSessions", "Revoke all of a user's sessions"},
	{http.MethodPost, "/auth/oidc/backchannel-logout", FamilyOIDC, "BackChannelLogout", "OpenID Connect back-channel logout"},
	{http.MethodPost, "/oauth2/v1/global-token-revocation", FamilyOkta, "GlobalTokenRevocation", "Sign a user out everywhere (Universal Logout)"},
}

// Routes returns every endpoint the package serves, at its default path.
func Routes() []Route { return slices.Clone(routes) }

// maxBodyBytes bounds request bodies; the largest valid one is a few bytes.
const maxBodyBytes = 4 << 10

// UserLookupFunc reports whether a user exists. See WithUserLookup.
type UserLookupFunc func(ctx context.Context, userID string) (bool, error)

// Handlers serves the endpoints for one revoke.Manager. Create it with New;
// it is safe for concurrent use.
type Handlers struct {
	m           *revoke.Manager
	logger      *slog.Logger
	debug       bool
	userLookup  UserLookupFunc
	authorizers []Authorizer
	tokens      *adminTokens
	cop         *http.CrossOriginProtection
	limits      map[Family]RateLimit
	limiters    map[Family]*limiter
	routeLimits map[string]RateLimit // by Route.Name; overrides the family's
	routeLim    map[string]*limiter  // nil for a route whose limit is off
	byName      map[string]http.Handler
	idp         idpConfig // identity-provider routes; see oidc_provider.go
}

// Option configures Handlers.
type Option func(*Handlers) error

// WithLogger sets the logger (default slog.Default()). Every line carries
// the request id.
func WithLogger(l *slog.Logger) Option {
	return func(h *Handlers) error {
		if l == nil {
			return errors.New("handlers: nil logger")
		}
		h.logger = l
		return nil
	}
}

// WithDebug adds the text of internal errors to the debug field of Kratos
// family error bodies. Leave it off in production: store errors can reveal
// internals.
func WithDebug(on bool) Option {
	return func(h *Handlers) error {
		h.debug = on
		return nil
	}
}

// WithUserLookup sets how a user id is known to exist, for the 404 answers.
// Without it a user exists when the store holds or held a session for it,
// so a user whose revoked sessions were cleaned up is unknown.
func WithUserLookup(f UserLookupFunc) Option {
	return func(h *Handlers) error {
		if f == nil {
			return errors.New("handlers: nil user lookup")
		}
		h.userLookup = f
		return nil
	}
}

// WithTrustedOrigins lets unsafe requests from these origins
// ("scheme://host[:port]") pass the cross-origin check, for a front end
// served from another origin.
func WithTrustedOrigins(origins ...string) Option {
	return func(h *Handlers) error {
		for _, o := range origins {
			if err := h.cop.AddTrustedOrigin(o); err != nil {
				return fmt.Errorf("handlers: %w", err)
			}
		}
		return nil
	}
}

// New returns the handlers for m.
func New(m *revoke.Manager, opts ...Option) (*Handlers, error) {
	if m == nil {
		return nil, errors.New("handlers: nil manager")
	}
	h := &Handlers{
		m:      m,
		logger: slog.Default(),
		cop:    http.NewCrossOriginProtection(),
		limits: defaultRateLimits(),
	}
	if err := option.Apply("handlers", h, opts); err != nil {
		return nil, err
	}
	// Static tokens are checked first (cheap, and needing no store or app
	// call); the other authorizers follow in the order they were given.
	var builtin []Authorizer
	if h.tokens != nil {
		builtin = append(builtin, h.tokens)
	}
	h.authorizers = append(builtin, h.authorizers...)

	h.limiters = make(map[Family]*limiter)
	for fam, rl := range h.limits {
		if rl.Requests > 0 {
			h.limiters[fam] = h.newLimiter(fam, rl)
		}
	}
	h.routeLim = make(map[string]*limiter)
	for name, rl := range h.routeLimits {
		h.routeLim[name] = nil
		if rl.Requests > 0 {
			h.routeLim[name] = h.newLimiter(routeFamily(name), rl)
		}
	}
	h.byName = map[string]http.Handler{
		"RevokeUserSessions":     h.route("RevokeUserSessions", anySession, h.revokeUserSessions),
		"EndUserSessions":        h.route("EndUserSessions", cookieSession, h.endUserSessions),
		"DisableMyOtherSessions": h.route("DisableMyOtherSessions", anySession, h.disableMyOtherSessions),
		"ListMySessions":         h.route("ListMySessions", anySession, h.listMySessions),
		"DisableMySession":       h.route("DisableMySession", anySession, h.disableMySession),
		"WhoAmI":                 h.route("WhoAmI", anySession, h.whoAmI),
		"AdminRevokeSession":     h.route("AdminRevokeSession", anySession, h.adminRevokeSession),
		"AdminListSessions":      h.route("AdminListSessions", anySession, h.adminListSessions),
		"AdminRevokeAllSessions": h.route("AdminRevokeAllSessions", anySession, h.adminRevokeAllSessions),
		"BackChannelLogout":      h.route("BackChannelLogout", noSession, h.backChannelLogout),
		"GlobalTokenRevocation":  h.route("GlobalTokenRevocation", anySession, h.globalTokenRevocation),
	}
	return h, nil
}

// RevokeUserSessions returns the handler of DELETE
// /api/v1/users/{userId}/sessions (Okta revokeUserSessions): an
// administrator revokes every active session of a user; 204 on success.
func (h *Handlers) RevokeUserSessions() http.Handler { return h.byName["RevokeUserSessions"] }

// EndUserSessions returns the handler of POST
// /api/v1/users/me/lifecycle/delete_sessions (Okta endUserSessions): the
// user behind the session cookie ends their other sessions, or all of them
// with {"keepCurrent": false}; 200 with an empty body on success. Only the
// cookie's session counts: a request that also carries X-Session-Token
// acts on the cookie's session, never the header's, and one that carries
// X-Session-Token without a session cookie is refused (403 E0000006), as
// is an API or bearer token.
func (h *Handlers) EndUserSessions() http.Handler { return h.byName["EndUserSessions"] }

// DisableMyOtherSessions returns the handler of DELETE /auth/sessions (Ory
// Kratos disableMyOtherSessions): 200 {"count": N}.
func (h *Handlers) DisableMyOtherSessions() http.Handler {
	return h.byName["DisableMyOtherSessions"]
}

// ListMySessions returns the handler of GET /auth/sessions (Ory Kratos
// listMySessions): the caller's active sessions other than the current one,
// newest first, a page at a time as Kratos pages them: page_size (default
// 250, at most 1000) and the opaque page_token, with a Link header to the
// first page and, when more follow, the next. The current one is served by
// WhoAmI.
func (h *Handlers) ListMySessions() http.Handler { return h.byName["ListMySessions"] }

// DisableMySession returns the handler of DELETE /auth/sessions/{id} (Ory
// Kratos disableMySession): 204; 400 for the current session; 404 for a
// session that is unknown or not the caller's.
func (h *Handlers) DisableMySession() http.Handler { return h.byName["DisableMySession"] }

// WhoAmI returns the handler of GET /auth/sessions/whoami (Ory Kratos
// toSession): the current session, or 401.
func (h *Handlers) WhoAmI() http.Handler { return h.byName["WhoAmI"] }

// AdminRevokeSession returns the handler of DELETE
// /auth/admin/api/users/{id}/sessions/{sessionId}: 200 with the revoked
// session; revoking it again answers the same, with the original revokedAt.
func (h *Handlers) AdminRevokeSession() http.Handler { return h.byName["AdminRevokeSession"] }

// AdminListSessions returns the handler of GET
// /auth/admin/api/users/{id}/sessions: the user's active sessions, newest
// first, or with ?active=false every session the store holds for the user,
// revoked and expired ones too (the audit trail). A page holds limit
// sessions (default 100, at most 1000); the body's nextCursor, passed back
// as ?cursor=, gives the next page, and is left out on the last.
func (h *Handlers) AdminListSessions() http.Handler { return h.byName["AdminListSessions"] }

// AdminRevokeAllSessions returns the handler of DELETE
// /auth/admin/api/users/{id}/sessions: 200 {"count": N}.
func (h *Handlers) AdminRevokeAllSessions() http.Handler {
	return h.byName["AdminRevokeAllSessions"]
}

// Mount registers every route on mux at its default path, with its method in
// the pattern. A request with another method on one of these paths gets 405
// with an Allow header, in the family's error shape, and a path whose last id
// is empty ("/auth/sessions/") gets its route's 400. The Okta routes also
// answer on their paths with a trailing slash.
//
// Mount also takes the families' prefixes, /api/v1/, /auth/ and
// /auth/admin/: a path under one of them that matches no route gets 404 in
// the family's shape. The app's own, more specific, patterns under them
// still win; an app that registers one of these prefixes itself must not
// call Mount on the same mux.
func (h *Handlers) Mount(mux *http.ServeMux) {
	allow := make(map[string][]string)
	var paths []string
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Pattern, h.byName[rt.Name])
		if _, ok := allow[rt.Pattern]; !ok {
			paths = append(paths, rt.Pattern)
		}
		allow[rt.Pattern] = append(allow[rt.Pattern], rt.Method)
	}
	emptied := make(map[string]bool)
	for _, rt := range routes {
		// A path whose last id is empty ("/auth/sessions/") matches no
		// wildcard, so the ServeMux would answer it with a plain-text 404.
		// The route's handler refuses the empty id in its family's shape,
		// after checking the credentials.
		i := strings.LastIndex(rt.Pattern, "/{")
		if i < 0 || !strings.HasSuffix(rt.Pattern, "}") {
			continue
		}
		empty := rt.Pattern[:i+1] + "{$}"
		mux.Handle(rt.Method+" "+empty, h.byName[rt.Name])
		if !emptied[empty] {
			emptied[empty] = true
			mux.Handle(empty, h.methodNotAllowed(rt.Family, rt.Pattern, allow))
		}
	}
	for _, p := range paths {
		// GET /auth/sessions/whoami and DELETE /auth/sessions/{id} overlap
		// in path; a method-less pattern for whoami would conflict with the
		// DELETE one, so the {id} pattern answers for both.
		if p == "/auth/sessions/whoami" {
			continue
		}
		mux.Handle(p, h.methodNotAllowed(familyOf(p), p, allow))
	}
	h.mountTrailingSlash(mux, allow)
	h.mountNotFound(mux)
}

// Handler returns a new ServeMux with every route mounted.
func (h *Handlers) Handler() http.Handler {
	mux := http.NewServeMux()
	h.Mount(mux)
	return mux
}

// routeFamily returns the family of the route named name.
func routeFamily(name string) Family {
	for _, rt := range routes {
		if rt.Name == name {
			return rt.Family
		}
	}
	return ""
}

func familyOf(pattern string) Family {
	for _, rt := range routes {
		if rt.Pattern == pattern {
			return rt.Family
		}
	}
	return FamilyAdmin
}

// methodNotAllowed answers every method that pattern has no route for.
func (h *Handlers) methodNotAllowed(fam Family, pattern string, allow map[string][]string) http.Handler {
	return h.endpoint(fam, noSession, func(w http.ResponseWriter, r *http.Request, rq *request) {
		methods := allow[pattern]
		if pattern == "/auth/sessions/{id}" && r.PathValue("id") == "whoami" {
			methods = allow["/auth/sessions/whoami"]
		}
		var list []string
		for _, m := range methods {
			list = append(list, m)
			if m == http.MethodGet {
				list = append(list, http.MethodHead)
			}
		}
		w.Header().Set("Allow", strings.Join(list, ", "))
		rq.fail(w, probMethodNotAllowed)
	})
}

// readBody reads a size-limited request body. tooLarge reports a body over
// the limit.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, true, err
	}
	return body, false, err
}

// effectiveExpiry is when s ends unless it is used again.
func effectiveExpiry(s revoke.Session) time.Time {
	if s.IdleExpiresAt.Before(s.ExpiresAt) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}
