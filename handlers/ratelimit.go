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
type RateLimit struct {
	// Requests per Window; zero turns the limit off.
	Requests int
	Window   time.Duration
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

func defaultRateLimits() map[Family]RateLimit {
	d := RateLimit{Requests: DefaultRateLimitRequests, Window: DefaultRateLimitWindow}
	return map[Family]RateLimit{FamilyOkta: d, FamilyKratos: d, FamilyAdmin: d}
}

// WithRateLimit sets the rate limit of a family (default 600 requests a
// minute per caller). Requests of zero turns it off.
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

// WithoutRateLimit turns rate limiting off for the given families, or for
// all of them when none is given (for an app that limits in front of them).
func WithoutRateLimit(families ...Family) Option {
	return func(h *Handlers) error {
		if len(families) == 0 {
			families = []Family{FamilyOkta, FamilyKratos, FamilyAdmin}
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
	remaining string // header name
}

// Okta's SDKs compute their wait from X-Rate-Limit-Reset (epoch seconds,
// which is what httprate writes) and Date; the other families get
// httprate's usual names.
var (
	oktaRateHeaders = httprate.ResponseHeaders{
		Limit:      "X-Rate-Limit-Limit",
		Remaining:  "X-Rate-Limit-Remaining",
		Reset:      "X-Rate-Limit-Reset",
		RetryAfter: "Retry-After",
	}
	defaultRateHeaders = httprate.ResponseHeaders{
		Limit:      "X-RateLimit-Limit",
		Remaining:  "X-RateLimit-Remaining",
		Reset:      "X-RateLimit-Reset",
		RetryAfter: "Retry-After",
	}
)

func (h *Handlers) newLimiter(fam Family, cfg RateLimit) *limiter {
	headers := defaultRateHeaders
	if fam == FamilyOkta {
		headers = oktaRateHeaders
	}
	l := &limiter{remaining: headers.Remaining}
	opts := []httprate.Option{
		httprate.WithResponseHeaders(headers),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			// httprate reports how far over the limit the caller is as a
			// negative remainder; clients expect a count.
			if n, err := strconv.Atoi(w.Header().Get(l.remaining)); err == nil && n < 0 {
				w.Header().Set(l.remaining, "0")
			}
			requestFrom(r.Context()).fail(w, probRateLimited)
		}),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			requestFrom(r.Context()).internal(w, fmt.Errorf("rate limit counter: %w", err))
		}),
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
