package handlers

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/httprate"
)

// RateLimit is the request budget of one API family, per caller. A caller is
// a configured admin API token, else a valid session, else the client
// address (as revoke.WithClientIP reads it; IPv6 by /64). Credentials that
// are not verified cheaply (unknown tokens, app-validated bearer tokens)
// count against the client address, so that inventing new ones does not buy
// a fresh budget.
//
// Before that, every request also counts against a budget of its client
// address (AddressRequests), checked before the session is looked up: the
// per-caller budget can only be charged once the session is known, and a
// flood of invented session tokens would otherwise cost a store read each.
type RateLimit struct {
	// Requests per Window; zero turns the limit off, the per-address one
	// included.
	Requests int
	Window   time.Duration
	// AddressRequests is the budget per Window of one client address, over
	// every caller behind it, counted before the session is looked up. Zero
	// means ten times Requests; a negative value turns it off (for an app
	// behind a proxy that WithClientIP cannot see through, where every
	// request would share one address). It is counted in this process
	// whatever Counter is.
	AddressRequests int
	// Counter keeps the counts. Nil keeps them in this process; give a
	// shared one (any httprate.LimitCounter) when several instances must
	// share one budget. Do not share one Counter between families.
	Counter httprate.LimitCounter
}

// Default rate limits, per caller and family.
const (
	DefaultRateLimitRequests = 600
	DefaultRateLimitWindow   = time.Minute
)

// addressFactor sets the default per-address budget from the per-caller
// one: generous, because users behind one NAT share an address.
const addressFactor = 10

// defaultRateLimits gives every family of the table the default limit.
func defaultRateLimits(table []route) map[Family]RateLimit {
	d := RateLimit{Requests: DefaultRateLimitRequests, Window: DefaultRateLimitWindow}
	limits := make(map[Family]RateLimit)
	for _, fam := range familiesOf(table) {
		limits[fam] = d
	}
	return limits
}

// WithRateLimit sets the rate limit of a family (default 600 requests a
// minute per caller, and 6000 per client address). Requests of zero turns
// it off.
func WithRateLimit(f Family, rl RateLimit) Option {
	return func(h *Handlers) error {
		if _, ok := h.limits[f]; !ok {
			return fmt.Errorf("handlers: unknown family %q", f)
		}
		if rl.Requests < 0 || (rl.Requests > 0 && rl.Window <= 0) {
			return errors.New("handlers: a rate limit needs a positive request count and window")
		}
		h.limits[f] = rl
		return nil
	}
}

// WithRouteRateLimit gives the route named name (such as
// RouteRevokeUserSessions) a rate limit of its own in place of its
// family's: for example a tighter one on a costly admin route. Requests of
// zero turns rate limiting off for that route alone.
func WithRouteRateLimit(name RouteName, rl RateLimit) Option {
	return func(h *Handlers) error {
		if _, ok := h.routeNamed(name); !ok {
			return fmt.Errorf("handlers: unknown route %q", name)
		}
		if rl.Requests < 0 || (rl.Requests > 0 && rl.Window <= 0) {
			return errors.New("handlers: a rate limit needs a positive request count and window")
		}
		if h.routeLimits == nil {
			h.routeLimits = make(map[RouteName]RateLimit)
		}
		h.routeLimits[name] = rl
		return nil
	}
}

// WithoutRateLimit turns rate limiting off for the given families, or for
// all of them when none is given (for an app that limits in front of them).
func WithoutRateLimit(families ...Family) Option {
	return func(h *Handlers) error {
		if len(families) == 0 {
			families = familiesOf(h.routes)
		}
		for _, f := range families {
			if _, ok := h.limits[f]; !ok {
				return fmt.Errorf("handlers: unknown family %q", f)
			}
			h.limits[f] = RateLimit{}
		}
		return nil
	}
}

type limiter struct {
	rl        *httprate.RateLimiter
	address   *httprate.RateLimiter // nil when the per-address limit is off
	remaining string                // header name
}

// defaultRateHeaders are httprate's usual header names, for a family that
// needs no others.
var defaultRateHeaders = httprate.ResponseHeaders{
	Limit:      "X-RateLimit-Limit",
	Remaining:  "X-RateLimit-Remaining",
	Reset:      "X-RateLimit-Reset",
	RetryAfter: "Retry-After",
}

func (h *Handlers) newLimiter(fam Family, cfg RateLimit) *limiter {
	headers := fam.spec().rateHeaders
	l := &limiter{remaining: headers.Remaining}
	opts := []httprate.Option{
		httprate.WithResponseHeaders(headers),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			// httprate reports how far over the limit the caller is as a
			// negative remainder; clients expect a count.
			if n, err := strconv.Atoi(w.Header().Get(l.remaining)); err == nil && n < 0 {
				w.Header().Set(l.remaining, "0")
			}
			h.countRateLimited(r, fam)
			requestFrom(r.Context()).fail(w, probRateLimited)
		}),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			requestFrom(r.Context()).internal(w, fmt.Errorf("rate limit counter: %w", err))
		}),
	}
	perAddress := cfg.AddressRequests
	if perAddress == 0 {
		perAddress = addressFactor * cfg.Requests
	}
	if perAddress > 0 {
		// Kept in this process: a shared counter is configured with one
		// request limit, the per-caller one.
		l.address = httprate.NewRateLimiter(perAddress, cfg.Window, opts...)
	}
	if cfg.Counter != nil {
		opts = append(opts, httprate.WithLimitCounter(cfg.Counter))
	}
	l.rl = httprate.NewRateLimiter(cfg.Requests, cfg.Window, opts...)
	return l
}

// limited counts the request against key and reports whether it was refused
// (and answered).
func (l *limiter) limited(w http.ResponseWriter, r *http.Request, key string) bool {
	return l.rl.RespondOnLimit(w, r, key)
}

// addressLimited counts the request against its client address and reports
// whether it was refused (and answered). It needs nothing but the request,
// so it runs before the session is looked up. A request that passes gets
// its rate-limit headers again from the per-caller limit.
func (h *Handlers) addressLimited(w http.ResponseWriter, r *http.Request, l *limiter) bool {
	if l.address == nil {
		return false
	}
	return l.address.RespondOnLimit(w, r, "address:"+httprate.CanonicalizeIP(h.m.DeviceOf(r).IP))
}

// rateKey names the caller of r; see RateLimit. The family prefix keeps
// families apart even in a counter that is shared by mistake.
func (h *Handlers) rateKey(r *http.Request, rq *request) string {
	prefix := string(rq.family) + "|"
	if h.tokens != nil {
		if sum, ok := h.tokens.fromRequest(r); ok {
			return prefix + "token:" + hex.EncodeToString(sum[:16])
		}
	}
	if rq.ok {
		return prefix + "session:" + rq.cur.ID
	}
	return prefix + "ip:" + httprate.CanonicalizeIP(h.m.DeviceOf(r).IP)
}
