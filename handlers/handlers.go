// Package handlers serves the HTTP endpoints of revoke: mountable
// http.Handlers that let users and administrators revoke sessions, in the
// wire formats of five API families so that existing clients (Okta's SDKs,
// Ory's client, identity providers, security event transmitters) work
// against them unchanged.
//
// Routes lists every endpoint at its default path: the Okta family (Okta's
// UserSessions API, and the global token revocation of Okta's Universal
// Logout), the Kratos family (Ory Kratos's sessions API), the admin family,
// the OIDC family (OpenID Connect back-channel logout) and the SSF family
// (CAEP security events pushed as RFC 8935 SETs). Each route has a
// RouteName, and a Handlers method of that name returns its handler (so
// does Endpoint). The identity providers and transmitters whose tokens the
// last three accept are configured with WithUniversalLogout,
// WithBackChannelLogout and WithSecurityEvents.
//
// Mount registers them all on a ServeMux; Handler serves them on any
// router (see Handler for github.com/go-chi/chi/v5). A handler of its own
// may also be mounted on a path of the app's choosing. Such a path must
// name its wildcards as the default path does: {userId} for
// RevokeUserSessions, {id} for DisableMySession, {id} and {sessionId} for
// the admin routes; a route whose pattern lacks one answers 500 and logs
// the wildcard it misses.
//
// Each family answers errors in its own JSON shape, rate-limits per client
// address and per caller (see RateLimit), and echoes a request id in
// X-Request-Id. A store that does not answer in time (an error matching
// store.ErrUnavailable) gets 503 with Retry-After; on the Okta routes every
// 429 and 503 also carries the Date and the single integer
// X-Rate-Limit-Reset that Okta's SDKs compute their retry wait from.
// Unsafe requests pass http.CrossOriginProtection unless they carry their
// credential in a header a browser never adds by itself: X-Session-Token,
// or an SSWS or Bearer Authorization header. Who counts as an
// administrator is decided by the authorizers given to New
// (WithAdminTokens, whose tokens must be at least 16 bytes long;
// WithBearerAuthorizer, WithAdminSessions, WithAuthorizer); without any,
// admin routes answer 401. New reports a bad option as an error: check it,
// because the methods of the nil *Handlers it then returns panic.
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
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/caep"
	"github.com/revokehq/revoke/internal/option"
)

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
	routeLimits map[RouteName]RateLimit // overrides the family's
	routeLim    map[RouteName]*limiter  // nil for a route whose limit is off

	routes     []route                    // the route table served
	mounted    map[RouteName]http.Handler // each route as Mount registers it
	standalone map[RouteName]http.Handler // each route as Endpoint returns it
	idp        idpConfig                  // identity-provider routes; see oidc_provider.go
	ssf        *caep.Receiver             // the SecurityEvents route; see ssf.go

	meterProvider  metric.MeterProvider // nil: the global one
	tracerProvider trace.TracerProvider // nil: the global one
	tel            *telemetry           // see telemetry.go
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

// New returns the handlers for m. It fails on a nil manager and on a bad
// option, such as an admin token shorter than 16 characters (see
// WithAdminTokens); the error says which. The methods of a nil *Handlers
// panic, saying so.
func New(m *revoke.Manager, opts ...Option) (*Handlers, error) {
	return newHandlers(m, routes, opts...)
}

// newHandlers returns the handlers of the route table table.
func newHandlers(m *revoke.Manager, table []route, opts ...Option) (*Handlers, error) {
	if m == nil {
		return nil, errors.New("handlers: nil manager")
	}
	h := &Handlers{
		m:      m,
		logger: slog.Default(),
		cop:    http.NewCrossOriginProtection(),
		limits: defaultRateLimits(table),
		routes: table,
	}
	if err := option.Apply("handlers", h, opts); err != nil {
		return nil, err
	}
	if err := h.setupTelemetry(); err != nil {
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
	h.routeLim = make(map[RouteName]*limiter)
	for name, rl := range h.routeLimits {
		h.routeLim[name] = nil
		if rl.Requests > 0 {
			rt, _ := h.routeNamed(name)
			h.routeLim[name] = h.newLimiter(rt.Family, rl)
		}
	}
	h.mounted = make(map[RouteName]http.Handler, len(table))
	h.standalone = make(map[RouteName]http.Handler, len(table))
	for _, rt := range table {
		h.mounted[rt.Name] = h.routeHandler(rt, false)
		h.standalone[rt.Name] = h.routeHandler(rt, true)
	}
	return h, nil
}

// Endpoint returns the handler of the route named name, for an app that
// mounts it on a path of its own, on a ServeMux or on a router that sets
// Request.PathValue and Request.Pattern as the ServeMux does (chi does).
// The path must name the wildcards of the route's default path: a request
// routed by a pattern that lacks one is the app's mistake, answered 500 in
// the family's shape and logged with the wildcard's name. Endpoint panics
// for a name that is no route's, which is a programming error.
func (h *Handlers) Endpoint(name RouteName) http.Handler {
	h.mustBeValid()
	e, ok := h.standalone[name]
	if !ok {
		panic(fmt.Sprintf("handlers: no route is named %q", name))
	}
	return e
}

// mustBeValid panics, saying why, when h did not come from New: most often
// an error of New that was not checked.
func (h *Handlers) mustBeValid() {
	if h == nil || h.m == nil {
		panic("handlers: method called on a nil or zero *Handlers; use the one handlers.New returns, " +
			"after checking its error (an admin token shorter than 16 characters is one)")
	}
}

// routeNamed returns the route of h's table named name.
func (h *Handlers) routeNamed(name RouteName) (route, bool) {
	for _, rt := range h.routes {
		if rt.Name == name {
			return rt, true
		}
	}
	return route{}, false
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

// idleExpiry is when s ends unless it is used again: its idle expiry,
// which a session's use moves forward but never past its absolute expiry
// (revoke.Session.ExpiresAt). The session JSON of every family calls this
// expires_at or expiresAt, the name its clients read, and the absolute one
// absolute_expires_at or absoluteExpiresAt.
func idleExpiry(s revoke.Session) time.Time {
	if s.IdleExpiresAt.Before(s.ExpiresAt) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}
