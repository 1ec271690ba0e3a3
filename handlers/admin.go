package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/device"
	"github.com/revokehq/revoke/store"
)

// FamilyAdmin is an admin API with ApiErrorResponseDto errors, for the
// app's own operators and tools.
const FamilyAdmin Family = "admin"

func init() {
	defineFamily(&family{
		name:        FamilyAdmin,
		prefixes:    []string{"/auth/admin/"},
		problem:     (*request).adminProblem,
		notFound:    (*request).adminNoRoute,
		rateHeaders: defaultRateHeaders,
		errorSchema: "ApiErrorResponseDto",
	})
}

// Routes of the admin family.
const (
	RouteAdminRevokeSession     RouteName = "AdminRevokeSession"     // DELETE /auth/admin/api/users/{id}/sessions/{sessionId}
	RouteAdminListSessions      RouteName = "AdminListSessions"      // GET /auth/admin/api/users/{id}/sessions
	RouteAdminRevokeAllSessions RouteName = "AdminRevokeAllSessions" // DELETE /auth/admin/api/users/{id}/sessions
)

// AdminRevokeSession returns the handler of DELETE
// /auth/admin/api/users/{id}/sessions/{sessionId}: 200 with the revoked
// session; revoking it again answers the same, with the original revokedAt.
func (h *Handlers) AdminRevokeSession() http.Handler { return h.Endpoint(RouteAdminRevokeSession) }

// AdminListSessions returns the handler of GET
// /auth/admin/api/users/{id}/sessions: the user's active sessions, newest
// first, or with ?active=false every session the store holds for the user,
// revoked and expired ones too (the audit trail). A page holds limit
// sessions (default 100, at most 1000); the body's nextCursor, passed back
// as ?cursor=, gives the next page, and is left out on the last.
func (h *Handlers) AdminListSessions() http.Handler { return h.Endpoint(RouteAdminListSessions) }

// AdminRevokeAllSessions returns the handler of DELETE
// /auth/admin/api/users/{id}/sessions: 200 {"count": N}.
func (h *Handlers) AdminRevokeAllSessions() http.Handler {
	return h.Endpoint(RouteAdminRevokeAllSessions)
}

// The ApiErrorResponseDto schema.

type adminError struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Code       string `json:"code"`
}

// Admin error codes.
const (
	adminValidationFailed = "VALIDATION_FAILED"
	adminSessionInvalid   = "ADMIN_SESSION_INVALID"
	adminForbidden        = "FORBIDDEN"
	adminUserNotFound     = "USER_NOT_FOUND"
	adminSessionNotFound  = "SESSION_NOT_FOUND"
	adminMethodNotAllowed = "METHOD_NOT_ALLOWED"
	adminRateLimited      = "RATE_LIMITED"
	adminInternal         = "INTERNAL_ERROR"
	adminUnavailable      = "STORE_UNAVAILABLE"
)

func (rq *request) admin(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, adminError{
		StatusCode: status,
		Error:      http.StatusText(status),
		Message:    message,
		Code:       code,
	})
}

// Admin error code of a path that matches no route.
const adminRouteNotFound = "ROUTE_NOT_FOUND"

// adminNoRoute answers a path under /auth/admin/ that no route matches.
func (rq *request) adminNoRoute(w http.ResponseWriter, r *http.Request) {
	rq.admin(w, http.StatusNotFound, adminRouteNotFound, "Cannot "+shorten(r.Method)+" "+shorten(r.URL.Path))
}

func (rq *request) adminProblem(w http.ResponseWriter, p problem, _ error) {
	switch p {
	case probUnauthenticated:
		rq.admin(w, http.StatusUnauthorized, adminSessionInvalid, "Admin session missing or invalid")
	case probNotPermitted:
		rq.admin(w, http.StatusForbidden, adminForbidden, "Authenticated but not permitted")
	case probCrossOrigin:
		rq.admin(w, http.StatusForbidden, adminForbidden, "Cross-origin request refused")
	case probRateLimited:
		rq.admin(w, http.StatusTooManyRequests, adminRateLimited, "Too many requests")
	case probMethodNotAllowed:
		rq.admin(w, http.StatusMethodNotAllowed, adminMethodNotAllowed, "Method not allowed")
	case probUnavailable:
		rq.admin(w, http.StatusServiceUnavailable, adminUnavailable, "The session store did not answer in time; retry later")
	default:
		rq.admin(w, http.StatusInternalServerError, adminInternal, "Internal server error")
	}
}

// adminSession is a session in the admin family's camelCase JSON.
type adminSession struct {
	ID         string    `json:"id"`
	UserID     string    `json:"userId"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	// IdleExpiresAt, expiresAt in JSON, is when the session ends unless it
	// is used again (see idleExpiry).
	IdleExpiresAt time.Time `json:"expiresAt"`
	// ExpiresAt is the absolute end of the session's life, which no use
	// moves (revoke.Session.ExpiresAt).
	ExpiresAt time.Time `json:"absoluteExpiresAt"`
	// RevokedAt is null for a session that was not revoked.
	RevokedAt    *time.Time `json:"revokedAt"`
	RevokeReason string     `json:"revokeReason,omitempty"`
	IPAddress    string     `json:"ipAddress,omitempty"`
	UserAgent    string     `json:"userAgent,omitempty"`
	// Device is the device as people read it, from the User-Agent.
	Device adminDevice `json:"device"`
	// AuthenticationMethods are how the user proved who they are, in the
	// order they did; empty when the store keeps none.
	AuthenticationMethods []adminAuthMethod `json:"authenticationMethods"`
	// Labels are the app's labels given at sign-in (revoke.Label).
	Labels map[string]string `json:"labels,omitempty"`
}

// adminAuthMethod is store.AuthMethod in the admin family's camelCase.
type adminAuthMethod struct {
	Method      string    `json:"method"`
	AAL         string    `json:"aal"`
	CompletedAt time.Time `json:"completedAt"`
}

func newAdminAuthMethods(ms []revoke.AuthMethod) []adminAuthMethod {
	out := make([]adminAuthMethod, 0, len(ms)) // [] rather than null in JSON
	for _, m := range ms {
		out = append(out, adminAuthMethod{Method: m.Method, AAL: m.AAL, CompletedAt: m.CompletedAt.UTC()})
	}
	return out
}

// adminDevice is device.Info in the admin family's camelCase.
type adminDevice struct {
	Name           string `json:"name"` // "Chrome 131 on macOS"
	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browserVersion,omitempty"`
	OS             string `json:"os,omitempty"`
	Mobile         bool   `json:"mobile"`
	Bot            bool   `json:"bot,omitempty"`
}

func newAdminDevice(userAgent string) adminDevice {
	d := device.Describe(userAgent)
	return adminDevice{Name: d.Name, Browser: d.Browser, BrowserVersion: d.BrowserVersion, OS: d.OS, Mobile: d.Mobile, Bot: d.Bot}
}

func (h *Handlers) adminSession(s revoke.Session) adminSession {
	a := adminSession{
		ID:            s.ID,
		UserID:        s.UserID,
		Active:        s.Active(h.m.Now()),
		CreatedAt:     s.CreatedAt.UTC(),
		LastSeenAt:    s.LastSeenAt.UTC(),
		IdleExpiresAt: idleExpiry(s).UTC(),
		ExpiresAt:     s.ExpiresAt.UTC(),
		RevokeReason:  s.RevokeReason,
		IPAddress:     s.IP,
		UserAgent:     s.UserAgent,
		Device:        newAdminDevice(s.UserAgent),

		AuthenticationMethods: newAdminAuthMethods(s.AuthMethods),
		Labels:                s.Labels,
	}
	if s.Revoked() {
		t := s.RevokedAt.UTC()
		a.RevokedAt = &t
	}
	return a
}

// adminUser authorizes the request and validates the {id} path value, in
// that order, so that an unauthorised caller learns nothing from the
// answer. On failure it has answered.
func (h *Handlers) adminUser(w http.ResponseWriter, r *http.Request, rq *request) (Grant, string, bool) {
	grant, ok := rq.authorizeAdmin(w, r)
	if !ok {
		return Grant{}, "", false
	}
	userID := r.PathValue("id")
	if !validID(userID) {
		rq.adminInvalidID(w, "id")
		return Grant{}, "", false
	}
	return grant, userID, true
}

func (rq *request) adminInvalidID(w http.ResponseWriter, name string) {
	rq.admin(w, http.StatusBadRequest, adminValidationFailed,
		name+" must be 1 to 128 characters from A-Z, a-z, 0-9 and . _ : @ -")
}

// adminUserExists answers 404 USER_NOT_FOUND, or 500, and returns false
// unless the user exists.
func (h *Handlers) adminUserExists(w http.ResponseWriter, r *http.Request, rq *request, userID string) bool {
	exists, err := h.userExists(r.Context(), userID)
	switch {
	case err != nil:
		rq.internal(w, err)
		return false
	case !exists:
		rq.admin(w, http.StatusNotFound, adminUserNotFound, "User not found")
		return false
	}
	return true
}

// adminRevokeSession serves DELETE
// /auth/admin/api/users/{id}/sessions/{sessionId}.
func (h *Handlers) adminRevokeSession(w http.ResponseWriter, r *http.Request, rq *request) {
	grant, userID, ok := h.adminUser(w, r, rq)
	if !ok {
		return
	}
	sessionID := r.PathValue("sessionId")
	if !validID(sessionID) {
		rq.adminInvalidID(w, "sessionId")
		return
	}
	if !h.adminUserExists(w, r, rq, userID) {
		return
	}
	s, err := h.m.RevokeSession(r.Context(), userID, sessionID, revoke.Cause{Actor: grant.Actor, Reason: revoke.ReasonAdminRevoked})
	switch {
	case errors.Is(err, revoke.ErrNotFound):
		rq.admin(w, http.StatusNotFound, adminSessionNotFound, "Session not found")
		return
	case err != nil:
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(r.Context(), "handlers: session revoked", "actor", grant.Actor, "user", userID, "session", sessionID)
	writeJSON(w, http.StatusOK, h.adminSession(s))
}

// adminSessionList is the body of AdminListSessions: a page of sessions
// and, unless it is the last page, the cursor of the next.
type adminSessionList struct {
	Sessions   []adminSession `json:"sessions"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// adminListSessions serves GET /auth/admin/api/users/{id}/sessions: a page
// (limit, cursor) of the user's active sessions, or with active=false of
// every session the store holds for the user (the audit trail), newest
// first. A page costs what the store's ListPage does.
func (h *Handlers) adminListSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	_, userID, ok := h.adminUser(w, r, rq)
	if !ok {
		return
	}
	// url.URL.Query would drop a pair it cannot parse, and with it the
	// filter the caller asked for.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		rq.admin(w, http.StatusBadRequest, adminValidationFailed, "the query string is malformed")
		return
	}
	all := false
	if vs, present := q["active"]; present {
		switch {
		case len(vs) == 1 && strings.EqualFold(vs[0], "true"):
		case len(vs) == 1 && strings.EqualFold(vs[0], "false"):
			all = true
		default:
			rq.admin(w, http.StatusBadRequest, adminValidationFailed, "active must be true or false")
			return
		}
	}
	limit, err := adminLimit(q)
	if err != nil {
		rq.admin(w, http.StatusBadRequest, adminValidationFailed,
			"limit must be a whole number from 1 to "+strconv.Itoa(adminMaxLimit))
		return
	}
	after, err := pageCursor(q, "cursor")
	if err != nil {
		rq.admin(w, http.StatusBadRequest, adminValidationFailed, "cursor is not one this API gave out")
		return
	}
	if h.userLookup != nil && !h.adminUserExists(w, r, rq, userID) {
		return
	}
	p, err := h.m.Store().ListPage(r.Context(), userID, store.PageQuery{Limit: limit, After: after, All: all, Now: h.m.Now()})
	if err != nil {
		rq.internal(w, err)
		return
	}
	// Without a user lookup, a user the store holds no session of is
	// unknown; a page with sessions says the user is known already.
	if h.userLookup == nil && len(p.Sessions) == 0 && !h.adminUserExists(w, r, rq, userID) {
		return
	}
	next, err := cursorText(p.Next)
	if err != nil {
		rq.internal(w, err)
		return
	}
	out := adminSessionList{Sessions: make([]adminSession, 0, len(p.Sessions)), NextCursor: next}
	for _, s := range p.Sessions {
		out.Sessions = append(out.Sessions, h.adminSession(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// adminRevokeAllSessions serves DELETE /auth/admin/api/users/{id}/sessions.
func (h *Handlers) adminRevokeAllSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	grant, userID, ok := h.adminUser(w, r, rq)
	if !ok {
		return
	}
	if !h.adminUserExists(w, r, rq, userID) {
		return
	}
	n, err := h.m.RevokeAll(r.Context(), userID, revoke.Cause{Actor: grant.Actor, Reason: revoke.ReasonAdminRevoked})
	if err != nil {
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(r.Context(), "handlers: user sessions revoked", "actor", grant.Actor, "user", userID, "revoked", n)
	writeJSON(w, http.StatusOK, struct {
		Count int `json:"count"`
	}{n})
}
