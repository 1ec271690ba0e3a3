package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/internal/apifamily"
	"github.com/revokehq/revoke/internal/randid"
)

// RequestIDHeader is the header a request id is read from and echoed in.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds a client-supplied request id; a longer or odd one is
// replaced rather than copied into logs and bodies.
const maxRequestID = 128

// request is the state one call of an endpoint carries through its steps.
type request struct {
	id     string
	family Family
	log    *slog.Logger
	h      *Handlers

	// The session the request presents; ok is false when it is anonymous,
	// and why says why (revoke.ErrNoSession, revoke.ErrMalformedToken, ...).
	cur revoke.Current
	ok  bool
	why error
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	rq, _ := ctx.Value(requestKey{}).(*request)
	return rq
}

// sessionFrom says where an endpoint reads the caller's session from.
type sessionFrom int

const (
	noSession     sessionFrom = iota // none read (the 404 and 405 answers, a route with other credentials)
	anySession                       // X-Session-Token first, then the cookie
	cookieSession                    // the session cookie alone
)

// endpoint wraps serve with the steps every route shares, in this order:
// request id, the per-address rate limit, session resolution, the
// per-caller rate limit (lim, nil for none), and only then the store
// failure a resolution may have met, so that even that answer carries the
// rate-limit headers.
func (h *Handlers) endpoint(fam Family, lim *limiter, from sessionFrom, serve serveFunc) http.Handler {
	spec := fam.spec()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := &request{id: requestID(r), family: fam, h: h, why: revoke.ErrNoSession}
		rq.log = h.logger.With("request_id", rq.id)
		w.Header().Set(RequestIDHeader, rq.id)
		if spec.requestIDHeader != "" {
			w.Header().Set(spec.requestIDHeader, rq.id)
		}
		ctx := apifamily.With(context.WithValue(r.Context(), requestKey{}, rq), string(fam))
		r = r.WithContext(ctx)

		if lim != nil && h.addressLimited(w, r, lim) {
			return
		}
		var storeErr error
		if from != noSession {
			storeErr = h.resolve(w, r, rq, from)
			if rq.ok {
				r = r.WithContext(revoke.NewContext(ctx, rq.cur))
			}
		}
		if lim != nil && lim.limited(w, r, h.rateKey(r, rq)) {
			return
		}
		if storeErr != nil {
			rq.internal(w, storeErr)
			return
		}
		serve(h, w, r, rq)
	})
}

// routeHandler is the handler of the route rt, with the route's own rate
// limit when WithRouteRateLimit gave it one, else its family's. standalone
// is for the handler an app mounts itself (see Endpoint): the app's pattern
// must name the route's wildcards.
func (h *Handlers) routeHandler(rt route, standalone bool) http.Handler {
	lim, own := h.routeLim[rt.Name]
	if !own {
		lim = h.limiters[rt.Family]
	}
	serve := rt.serve
	if standalone {
		serve = requireWildcards(rt, serve)
	}
	return h.traced(rt, h.endpoint(rt.Family, lim, rt.session, serve))
}

// requireWildcards checks, before serve, that the pattern the request was
// routed by names every wildcard of rt's default pattern. Without one the
// route cannot do its work, whatever the client sends: that is the app's
// mistake, so it is answered 500 and logged with the wildcard's name, not
// blamed on the client with a 400.
func requireWildcards(rt route, serve serveFunc) serveFunc {
	names := wildcards(rt.Pattern)
	if len(names) == 0 {
		return serve
	}
	return func(h *Handlers, w http.ResponseWriter, r *http.Request, rq *request) {
		for _, name := range names {
			if r.PathValue(name) == "" && !namesWildcard(r.Pattern, name) {
				rq.log.ErrorContext(r.Context(), "handlers: misconfigured route: its pattern lacks a wildcard",
					"route", string(rt.Name), "wildcard", "{"+name+"}", "pattern", r.Pattern)
				rq.fail(w, probInternal)
				return
			}
		}
		serve(h, w, r, rq)
	}
}

// namesWildcard reports whether a router's pattern (the ServeMux's, or
// chi's, whose wildcards may carry a regular expression: {id:[0-9]+})
// has the wildcard name.
func namesWildcard(pattern, name string) bool {
	for _, form := range []string{"{" + name + "}", "{" + name + "...}", "{" + name + ":"} {
		if strings.Contains(pattern, form) {
			return true
		}
	}
	return false
}

// resolve finds the session r presents. A session already resolved by the
// Manager's Middleware around the app is taken as it is, so it is not looked
// up (or touched) twice. It returns only store failures.
func (h *Handlers) resolve(w http.ResponseWriter, r *http.Request, rq *request, from sessionFrom) error {
	if cur, ok := revoke.FromContext(r.Context()); ok && (from == anySession || cur.Source == revoke.SourceCookie) {
		rq.cur, rq.ok, rq.why = cur, true, nil
		return nil
	}
	if from == cookieSession && len(r.Header.Values(revoke.HeaderName)) > 0 {
		// The Manager reads X-Session-Token before the cookie; without
		// the header it reads the cookie alone.
		r = r.Clone(r.Context())
		r.Header.Del(revoke.HeaderName)
	}
	// The Middleware's own resolution, cookie expiry rules included.
	cur, err := h.m.ResolveRequest(w, r)
	rq.cur = cur
	switch {
	case err == nil:
		rq.ok, rq.why = true, nil
	case revoke.Anonymous(err):
		rq.why = err
	default:
		return err
	}
	return nil
}

// refuseCrossOrigin answers 403 and returns true when r is an unsafe
// cross-origin browser request that does, or may, rest on the session
// cookie. A browser sends the cookie with a forged cross-site request, and
// HTTP Basic or other credentials it remembers too; it never adds
// X-Session-Token or an SSWS or Bearer token by itself, and a script of
// another origin can only add them with the app's CORS consent, so a request
// carrying one is exempt, unless its session came from the cookie anyway.
// The handlers decide this themselves: what an authorizer granted on is
// not theirs to know.
func (rq *request) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) bool {
	if headerCredential(r) && !(rq.ok && rq.cur.Source == revoke.SourceCookie) {
		return false
	}
	if rq.crossOrigin(r) {
		rq.fail(w, probCrossOrigin)
		return true
	}
	return false
}

// headerCredential reports whether r carries a credential that only a
// program or the page's own script sets: X-Session-Token, or one
// Authorization header with an SSWS or Bearer token.
func headerCredential(r *http.Request) bool {
	if len(r.Header.Values(revoke.HeaderName)) > 0 {
		return true
	}
	scheme, _, present, ok := authorization(r)
	return present && ok && apiScheme(scheme)
}

// crossOrigin reports whether r must be refused as a cross-origin browser
// request. Safe methods always pass.
func (rq *request) crossOrigin(r *http.Request) bool {
	if err := rq.h.cop.Check(r); err != nil {
		rq.log.InfoContext(r.Context(), "handlers: cross-origin request refused",
			"method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"),
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		return true
	}
	return false
}

// userExists asks the user lookup, or the store when there is none.
func (h *Handlers) userExists(ctx context.Context, userID string) (bool, error) {
	if h.userLookup != nil {
		return h.userLookup(ctx, userID)
	}
	return h.storeHasUser(ctx, userID)
}

// requestID returns the request's X-Request-Id when it is sane, else a new
// random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); validRequestID(id) {
		return id
	}
	return randid.UUID()
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// validID reports whether s is acceptable as a user or session id: 1 to 128
// bytes of [A-Za-z0-9._:@-]. Anything else cannot name a record, and is not
// worth a store query.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '@') {
			return false
		}
	}
	return true
}
