package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

// passwordMethod is how the demo's users prove who they are.
var passwordMethod = revoke.AuthMethod{Method: "password", AAL: revoke.AAL1}

// freshPatterns are the ServeMux patterns of the mounted endpoint behind
// "Sign out everywhere" (Okta's endUserSessions, with and without the
// trailing slash Okta's routes also answer on).
func freshPatterns() map[string]bool {
	out := map[string]bool{}
	for _, rt := range handlers.Routes() {
		if rt.Name == handlers.RouteEndUserSessions {
			out[rt.Method+" "+rt.Pattern] = true
			out[rt.Method+" "+rt.Pattern+"/{$}"] = true
		}
	}
	return out
}

// requireFresh puts the freshness check of RequireFresh in front of the
// mounted endpoints of freshPatterns: signing out everywhere with a session
// whose password was last typed longer than cfg.freshFor ago gets 401
// insufficient_user_authentication, which the page answers by asking for the
// password again (POST /reauth). The mounted endpoint reads its session from
// the cookie alone, so the check does too; a request without a usable
// cookie session goes on to the endpoint, which refuses it in its own shape.
func (a *app) requireFresh(mux *http.ServeMux) http.Handler {
	guarded := freshPatterns()
	fresh := a.m.RequireFresh(a.cfg.freshFor)(mux)
	check := a.limits.wrap(a.m.Middleware, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig := r.Context().Value(originalRequest{}).(*http.Request)
		if _, ok := revoke.FromContext(r.Context()); !ok {
			mux.ServeHTTP(w, orig)
			return
		}
		fresh.ServeHTTP(w, orig.WithContext(r.Context()))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); !guarded[pattern] {
			mux.ServeHTTP(w, r)
			return
		}
		// The check resolves the cookie's session only: an X-Session-Token
		// sent along would otherwise be the session judged, while the
		// endpoint acts on the cookie's.
		probe := r.Clone(r.Context())
		probe.Header.Del(revoke.HeaderName)
		check.ServeHTTP(w, probe.WithContext(withOriginal(probe.Context(), r)))
	})
}

// originalRequest is the context key of the request as it came in, for
// requireFresh, which resolves the session on a copy without its
// X-Session-Token header.
type originalRequest struct{}

func withOriginal(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, originalRequest{}, r)
}

// keepsSignIns reports whether the store keeps how sessions were
// authenticated (store.SignInStore): the Redis store does not, so its
// sessions record no methods and cannot be reauthenticated.
func (a *app) keepsSignIns() bool {
	_, ok := a.m.Store().(store.SignInStore)
	return ok
}

type reauthRequest struct {
	Password string `json:"password"`
}

type reauthResponse struct {
	// Token is the session's new token, for clients that send
	// X-Session-Token; the old one no longer works.
	Token string `json:"token"`
}

// reauth handles POST /reauth: the signed-in user types the password again,
// and the session counts as freshly authenticated (see requireFresh). It is
// held to the budgets of POST /login, counted for the session's user, so
// that a stolen session cannot be used to guess the password faster than
// signing in could.
func (a *app) reauth(w http.ResponseWriter, r *http.Request) {
	cur, ok := revoke.FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid session is required")
		return
	}
	ip := a.m.DeviceOf(r).IP
	if !a.signIn.admit(w, r, ip) {
		a.logger.WarnContext(r.Context(), "reauthentication rate limited", "by", "address", "ip", ip)
		return
	}
	body, ok := readLoginBody(w, r)
	if !ok {
		return
	}
	var req reauthRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Password == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `the body must be JSON: {"password": "..."}`)
		return
	}
	refund, ok := a.signIn.reserveFailure(w, r, ip, cur.UserID)
	if !ok {
		a.logger.WarnContext(r.Context(), "reauthentication rate limited", "by", "failures", "user", cur.UserID, "ip", ip)
		return
	}
	if _, ok := a.users.authenticate(cur.UserID, req.Password); !ok {
		a.logger.InfoContext(r.Context(), "reauthentication failed", "user", cur.UserID, "session", cur.ID, "ip", ip)
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong password")
		return
	}
	refund()
	token, err := a.m.Reauthenticated(w, r, passwordMethod)
	if err != nil {
		// The session ended meanwhile, or the store failed.
		a.logger.ErrorContext(r.Context(), "reauthentication: recording it failed", "user", cur.UserID, "session", cur.ID, "err", err)
		if errors.Is(err, store.ErrUnsupported) {
			writeError(w, http.StatusNotImplemented, "not_supported",
				"this server's session store cannot record a new sign-in on a session; sign out and sign in again to continue")
			return
		}
		if revoke.Anonymous(err) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid session is required")
			return
		}
		writeError(w, http.StatusInternalServerError, "internal", "the reauthentication could not be recorded")
		return
	}
	a.logger.InfoContext(r.Context(), "reauthenticated", "user", cur.UserID, "session", cur.ID, "ip", ip)
	writeJSON(w, http.StatusOK, reauthResponse{Token: token})
}
