package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/httprate"

	"github.com/revokehq/revoke"
)

// Rate limits of the demo's own routes (/me, /logout, /demo/*), per
// routeWindow.
const (
	routeWindow = time.Minute
	// defaultRouteRequests is the budget of one caller: a session, or the
	// client address for a request without a valid one. The page calls /me
	// after every action, far below it.
	defaultRouteRequests = 600
	// routeAddressFactor times that is the budget of one client address
	// over all its callers, generous for people behind one NAT. It is
	// counted before the session is looked up, so that a flood of invented
	// session tokens does not cost a store read each.
	routeAddressFactor = 10
)

// routeLimits rate-limits the demo's own routes as the handlers package
// limits its endpoints: by address first, then by caller.
type routeLimits struct {
	address *httprate.RateLimiter // nil when off
	caller  *httprate.RateLimiter
	m       *revoke.Manager
}

// newRouteLimits returns the limits for requests a minute per caller; 0
// turns them off.
func newRouteLimits(requests int, m *revoke.Manager) (*routeLimits, error) {
	if requests < 0 {
		return nil, fmt.Errorf("-route-requests must not be negative, got %d", requests)
	}
	l := &routeLimits{m: m}
	if requests > 0 {
		refuse := limitOptions("too many requests; try again later")
		l.address = httprate.NewRateLimiter(routeAddressFactor*requests, routeWindow, refuse...)
		l.caller = httprate.NewRateLimiter(requests, routeWindow, refuse...)
	}
	return l, nil
}

// wrap limits next, which session (the Manager's Middleware) wraps in turn:
// the per-address limit runs before the session is looked up, the per-caller
// one after.
func (l *routeLimits) wrap(session func(http.Handler) http.Handler, next http.Handler) http.Handler {
	if l.address == nil {
		return session(next)
	}
	byCaller := session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "ip:" + httprate.CanonicalizeIP(l.m.DeviceOf(r).IP)
		if cur, ok := revoke.FromContext(r.Context()); ok {
			key = "session:" + cur.ID
		}
		if !l.caller.RespondOnLimit(w, r, key) {
			next.ServeHTTP(w, r)
		}
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.address.RespondOnLimit(w, r, "ip:"+httprate.CanonicalizeIP(l.m.DeviceOf(r).IP)) {
			byCaller.ServeHTTP(w, r)
		}
	})
}
