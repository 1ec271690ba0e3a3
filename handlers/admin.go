package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/revokehq/revoke"
)

// adminSession is a session in the admin family's camelCase JSON.
type adminSession struct {
	ID         string    `json:"id"`
	UserID     string    `json:"userId"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	// ExpiresAt is when the session ends unless used again: the earlier of
	// its absolute and idle expiry.
	ExpiresAt time.Time `json:"expiresAt"`
	// RevokedAt is null for a session that was not revoked.
	RevokedAt    *time.Time `json:"revokedAt"`
	RevokeReason string     `json:"revokeReason,omitempty"`
	IPAddress    string     `json:"ipAddress,omitempty"`
	UserAgent    string     `json:"userAgent,omitempty"`
}

func (h *Handlers) adminSession(s revoke.Session) adminSession {
	a := adminSession{
		ID:           s.ID,
		UserID:       s.UserID,
		Active:       s.Active(h.m.Now()),
		CreatedAt:    s.CreatedAt.UTC(),
		LastSeenAt:   s.LastSeenAt.UTC(),
		ExpiresAt:    effectiveExpiry(s).UTC(),
		RevokeReason: s.RevokeReason,
		IPAddress:    s.IP,
		UserAgent:    s.UserAgent,
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

// adminSessionList is the body of AdminListSessions: an object rather than
// a bare array, so that paging can be added without breaking clients.
type adminSessionList struct {
	Sessions []adminSession `json:"sessions"`
}

// adminListSessions serves GET /auth/admin/api/users/{id}/sessions.
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
	var filter *bool
	if vs, present := q["active"]; present {
		var v bool
		switch {
		case len(vs) == 1 && strings.EqualFold(vs[0], "true"):
			v = true
		case len(vs) == 1 && strings.EqualFold(vs[0], "false"):
		default:
			rq.admin(w, http.StatusBadRequest, adminValidationFailed, "active must be true or false")
			return
		}
		filter = &v
	}
	// With no user lookup the list itself says whether the user is known,
	// which saves a second read.
	if h.userLookup != nil && !h.adminUserExists(w, r, rq, userID) {
		return
	}
	ss, err := h.m.Store().List(r.Context(), userID)
	if err != nil {
		rq.internal(w, err)
		return
	}
	if h.userLookup == nil && len(ss) == 0 {
		rq.admin(w, http.StatusNotFound, adminUserNotFound, "User not found")
		return
	}
	now := h.m.Now()
	out := adminSessionList{Sessions: []adminSession{}}
	for _, s := range ss {
		if filter == nil || s.Active(now) == *filter {
			out.Sessions = append(out.Sessions, h.adminSession(s))
		}
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
