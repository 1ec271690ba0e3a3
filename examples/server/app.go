package main

import (
	"context"
	"crypto/sha256"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

//go:embed static
var staticFiles embed.FS

// Rate limits of the mounted endpoints, per caller. The page reloads the
// Kratos family's lists after every action; the other families are called
// for actions only.
var rateLimits = map[handlers.Family]handlers.RateLimit{
	handlers.FamilyOkta:   {Requests: 120, Window: time.Minute},
	handlers.FamilyKratos: {Requests: 600, Window: time.Minute},
	handlers.FamilyAdmin:  {Requests: 300, Window: time.Minute},
}

// app is the demo web app: its own routes (sign-in, the page, the audit
// log) and every endpoint of the handlers package.
type app struct {
	cfg    config
	logger *slog.Logger
	users  *users
	audit  *auditLog
	seen   *newDevices // the last new-device sign-in of each user
	m      *revoke.Manager
	h      http.Handler
	signIn *signInLimits // of POST /login
	limits *routeLimits  // of the demo's other routes
	caep   *caepSender   // -caep-issuer; nil without

	adminTokenHash [sha256.Size]byte
}

// newApp wires the demo on st.
func newApp(cfg config, st store.SessionStore, logger *slog.Logger) (*app, error) {
	a := &app{
		cfg:            cfg,
		logger:         logger,
		users:          newUsers(cfg.password),
		audit:          newAuditLog(logger),
		seen:           newNewDevices(),
		adminTokenHash: sha256.Sum256([]byte(cfg.adminToken)),
	}
	signIn, err := newSignInLimits(cfg.loginAttempts, cfg.loginFailures)
	if err != nil {
		return nil, err
	}
	a.signIn = signIn

	cookie := revoke.DefaultCookie()
	cookie.Secure = cfg.secureCookie // see config.secureCookie for why it is off by default
	opts := []revoke.Option{
		revoke.WithCookie(cookie),
		revoke.WithLogger(logger),
		revoke.WithOAuthTokenRevoker(a.audit.revokeOAuthTokens),
		revoke.WithDeviceForgetter(a.audit.forgetDevices),
		revoke.OnRevoke(a.audit.onRevoke),
		revoke.OnLogin(a.seen.onLogin),
	}
	if cfg.now != nil {
		opts = append(opts, revoke.WithClock(cfg.now))
	}
	if a.cfg.freshFor <= 0 {
		a.cfg.freshFor = defaultFreshFor // a config not from parseConfig
	}
	if cfg.cookieKey != nil {
		opts = append(opts, revoke.WithCookieKeys(cfg.cookieKey))
	}
	if cfg.maxSessions > 0 {
		policy := revoke.EvictLeastRecentlySeen
		if cfg.refuseOverLimit {
			policy = revoke.RefuseNewLogin
		}
		opts = append(opts, revoke.WithMaxSessions(cfg.maxSessions, policy))
	}
	opts = append(opts, cfg.metrics.managerOptions()...)
	sender, senderOpts, err := a.setUpCAEPSender(st)
	if err != nil {
		return nil, err
	}
	a.caep = sender
	opts = append(opts, senderOpts...)
	m, err := revoke.New(st, opts...)
	if err != nil {
		return nil, err
	}
	a.m = m
	if a.limits, err = newRouteLimits(cfg.routeRequests, m); err != nil {
		return nil, err
	}

	hopts := []handlers.Option{
		handlers.WithLogger(logger),
		handlers.WithAdminTokens(cfg.adminToken),
		handlers.WithAdminSessions(func(_ context.Context, userID string) (bool, error) {
			return a.users.isAdmin(userID), nil
		}),
		handlers.WithUserLookup(func(_ context.Context, userID string) (bool, error) {
			_, ok := a.users.lookup(userID)
			return ok, nil
		}),
	}
	hopts = append(hopts, cfg.metrics.handlerOptions()...)
	for fam, rl := range rateLimits {
		hopts = append(hopts, handlers.WithRateLimit(fam, rl))
	}
	oidcOpts, oidcRoutes, err := a.setUpOIDC(cfg.addr)
	if err != nil {
		return nil, err
	}
	caepOpts, err := a.setUpCAEPReceiver()
	if err != nil {
		return nil, err
	}
	hopts = append(hopts, caepOpts...)
	h, err := handlers.New(m, append(hopts, oidcOpts...)...)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	h.Mount(mux)
	a.routes(mux)
	a.healthRoutes(mux)
	oidcRoutes(mux)
	a.caep.routes(mux)
	a.h = securityHeaders(a.requireFresh(mux))
	return a, nil
}

// routes registers the demo's own routes. Only these need the Manager's
// Middleware: the mounted handlers resolve the session themselves.
func (a *app) routes(mux *http.ServeMux) {
	// The demo's unsafe routes answer browsers too, so they get the same
	// cross-site request forgery protection as the mounted endpoints. Login
	// is included: a forged login would sign the victim into an attacker's
	// account.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "forbidden", "cross-origin request refused")
	}))
	// session resolves the session, within the routes' rate limits.
	session := func(next http.Handler) http.Handler { return a.limits.wrap(a.m.Middleware, next) }

	mux.Handle("POST /login", csrf.Handler(http.HandlerFunc(a.login))) // limited by signInLimits
	mux.Handle("POST /logout", csrf.Handler(session(http.HandlerFunc(a.logout))))
	mux.Handle("POST /reauth", csrf.Handler(session(http.HandlerFunc(a.reauth)))) // limited by signInLimits too
	mux.Handle("GET /me", session(http.HandlerFunc(a.me)))
	mux.Handle("GET /demo/users", session(a.requireAdmin(a.listUsers)))
	mux.Handle("GET /demo/audit", session(a.requireAdmin(a.listAudit)))

	assets, _ := fs.Sub(staticFiles, "static") // cannot fail: "static" is embedded
	files := http.FileServerFS(assets)
	mux.Handle("GET /{$}", files) // index.html
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
}

// ServeHTTP serves the whole app.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// securityHeaders sets the headers every page of an app that holds sessions
// should carry. The page loads its script and style from this origin only,
// so an injected inline script does not run.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
