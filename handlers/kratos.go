package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/device"
	"github.com/revokehq/revoke/store"
)

// FamilyKratos is the Ory Kratos frontend API (sessions): Ory's clients are
// its clients.
const FamilyKratos Family = "kratos"

func init() {
	defineFamily(&family{
		name:        FamilyKratos,
		prefixes:    []string{"/auth/"},
		problem:     (*request).kratosProblem,
		notFound:    (*request).kratosNoRoute,
		rateHeaders: defaultRateHeaders,
		errorSchema: "errorGeneric",
	})
}

// Routes of the Kratos family.
const (
	RouteDisableMyOtherSessions RouteName = "DisableMyOtherSessions" // DELETE /auth/sessions
	RouteListMySessions         RouteName = "ListMySessions"         // GET /auth/sessions
	RouteDisableMySession       RouteName = "DisableMySession"       // DELETE /auth/sessions/{id}
	RouteWhoAmI                 RouteName = "WhoAmI"                 // GET /auth/sessions/whoami
)

// DisableMyOtherSessions returns the handler of DELETE /auth/sessions (Ory
// Kratos disableMyOtherSessions): 200 {"count": N}.
func (h *Handlers) DisableMyOtherSessions() http.Handler {
	return h.Endpoint(RouteDisableMyOtherSessions)
}

// ListMySessions returns the handler of GET /auth/sessions (Ory Kratos
// listMySessions): the caller's active sessions other than the current one,
// newest first, a page at a time as Kratos pages them: page_size (default
// 250, at most 1000) and the opaque page_token, with a Link header to the
// first page and, when more follow, the next. The current one is served by
// WhoAmI.
func (h *Handlers) ListMySessions() http.Handler { return h.Endpoint(RouteListMySessions) }

// DisableMySession returns the handler of DELETE /auth/sessions/{id} (Ory
// Kratos disableMySession): 204; 400 for the current session; 404 for a
// session that is unknown or not the caller's.
func (h *Handlers) DisableMySession() http.Handler { return h.Endpoint(RouteDisableMySession) }

// WhoAmI returns the handler of GET /auth/sessions/whoami (Ory Kratos
// toSession): the current session, or 401.
func (h *Handlers) WhoAmI() http.Handler { return h.Endpoint(RouteWhoAmI) }

// The errorGeneric schema of Ory's APIs.

type kratosErrorBody struct {
	Error kratosError `json:"error"`
}

type kratosError struct {
	Code    int            `json:"code"`
	Status  string         `json:"status"`
	ID      string         `json:"id,omitempty"`
	Request string         `json:"request,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Message string         `json:"message"`
	Debug   string         `json:"debug,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// Messages of Ory's error types (herodot), which Kratos clients show.
const (
	kratosMsgBadRequest   = "The request was malformed or contained invalid parameters"
	kratosMsgUnauthorized = "The request could not be authorized"
	kratosMsgForbidden    = "The requested action was forbidden"
	kratosMsgNotFound     = "The requested resource could not be found"
	kratosMsgInternal     = "An internal server error occurred, please contact the system administrator"
	kratosMsgUnavailable  = "The service is temporarily unavailable"
)

func (rq *request) kratos(w http.ResponseWriter, status int, id, message, reason string) {
	writeJSON(w, status, kratosErrorBody{kratosError{
		Code:    status,
		Status:  http.StatusText(status),
		ID:      id,
		Request: rq.id,
		Reason:  reason,
		Message: message,
	}})
}

// kratosNoRoute answers a path under /auth/ that no route matches.
func (rq *request) kratosNoRoute(w http.ResponseWriter, r *http.Request) {
	rq.kratos(w, http.StatusNotFound, "", kratosMsgNotFound, "No route matches the path "+shorten(r.URL.Path)+".")
}

func (rq *request) kratosProblem(w http.ResponseWriter, p problem, cause error) {
	switch p {
	case probUnauthenticated:
		rq.kratos(w, http.StatusUnauthorized, "session_inactive", kratosMsgUnauthorized,
			"No valid session credentials found in the request.")
	case probNotPermitted:
		rq.kratos(w, http.StatusForbidden, "", kratosMsgForbidden, "")
	case probCrossOrigin:
		rq.kratos(w, http.StatusForbidden, "security_csrf_violation", kratosMsgForbidden,
			"The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF).")
	case probRateLimited:
		rq.kratos(w, http.StatusTooManyRequests, "", "The request was rate limited",
			"Too many requests were made; retry later.")
	case probMethodNotAllowed:
		rq.kratos(w, http.StatusMethodNotAllowed, "", "The request method is not supported by this endpoint", "")
	case probUnavailable:
		rq.kratosInternal(w, http.StatusServiceUnavailable, kratosMsgUnavailable,
			"The session store did not answer in time; retry later.", cause)
	default:
		rq.kratosInternal(w, http.StatusInternalServerError, kratosMsgInternal, "", cause)
	}
}

// kratosInternal answers a failure of the server's own, with the cause's
// text in debug only when the app turned debugging on.
func (rq *request) kratosInternal(w http.ResponseWriter, status int, message, reason string, cause error) {
	e := kratosError{
		Code:    status,
		Status:  http.StatusText(status),
		Request: rq.id,
		Reason:  reason,
		Message: message,
	}
	if rq.h.debug && cause != nil {
		e.Debug = cause.Error()
	}
	writeJSON(w, status, kratosErrorBody{e})
}

// kratosSession is a session in Ory Kratos's JSON shape, so that Ory's
// clients parse it: they require id, and for the identity id, schema_id,
// schema_url and traits.
type kratosSession struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
	// IdleExpiresAt, expires_at as Kratos names it and Ory's clients read
	// it, is when the session ends unless it is used again (see
	// idleExpiry).
	IdleExpiresAt   time.Time      `json:"expires_at"`
	AuthenticatedAt time.Time      `json:"authenticated_at"`
	IssuedAt        time.Time      `json:"issued_at"`
	Identity        kratosIdentity `json:"identity"`
	Devices         []kratosDevice `json:"devices"`
	// How the user proved who they are, in Kratos's names and shape
	// (method, aal, completed_at), and the highest level of them.
	AAL                   string              `json:"authenticator_assurance_level"`
	AuthenticationMethods []revoke.AuthMethod `json:"authentication_methods"`
	// Beyond Kratos; Ory's clients keep these as additional properties.
	// Labels are the app's labels given at sign-in (revoke.Label).
	Labels     map[string]string `json:"labels,omitempty"`
	LastSeenAt time.Time         `json:"last_seen_at"`
	Current    bool              `json:"current"`
	// ExpiresAt is the absolute end of the session's life, which no use
	// moves (revoke.Session.ExpiresAt).
	ExpiresAt time.Time `json:"absolute_expires_at"`
}

type kratosIdentity struct {
	ID        string         `json:"id"`
	SchemaID  string         `json:"schema_id"`
	SchemaURL string         `json:"schema_url"`
	Traits    map[string]any `json:"traits"`
}

// kratosDevice is Kratos's SessionDevice (id, ip_address, user_agent; its
// location is left out, as no address is looked up) and, beyond Kratos, the
// device as people read it, which Ory's clients keep as additional
// properties.
type kratosDevice struct {
	ID        string `json:"id"`
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`

	Name           string `json:"name"` // "Chrome 131 on macOS"
	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browser_version,omitempty"`
	OS             string `json:"os,omitempty"`
	Mobile         bool   `json:"mobile"`
	Bot            bool   `json:"bot,omitempty"`
}

func newKratosDevice(s revoke.Session) kratosDevice {
	d := device.Describe(s.UserAgent)
	return kratosDevice{
		// One session is one device here, so the device shares its id.
		ID:        s.ID,
		IPAddress: s.IP,
		UserAgent: s.UserAgent,

		Name:           d.Name,
		Browser:        d.Browser,
		BrowserVersion: d.BrowserVersion,
		OS:             d.OS,
		Mobile:         d.Mobile,
		Bot:            d.Bot,
	}
}

func (h *Handlers) kratosSession(s revoke.Session, current bool) kratosSession {
	return kratosSession{
		ID:                    s.ID,
		Active:                s.Active(h.m.Now()),
		IdleExpiresAt:         idleExpiry(s).UTC(),
		ExpiresAt:             s.ExpiresAt.UTC(),
		AuthenticatedAt:       s.Authenticated().UTC(),
		IssuedAt:              s.CreatedAt.UTC(),
		AAL:                   s.Assurance(),
		AuthenticationMethods: kratosMethods(s.AuthMethods),
		Labels:                s.Labels,
		Identity: kratosIdentity{
			ID:       s.UserID,
			SchemaID: "default",
			Traits:   map[string]any{},
		},
		Devices:    []kratosDevice{newKratosDevice(s)},
		LastSeenAt: s.LastSeenAt.UTC(),
		Current:    current,
	}
}

// kratosMethods returns methods in UTC, and an empty list for none, which
// Ory's clients read as no methods.
func kratosMethods(methods []revoke.AuthMethod) []revoke.AuthMethod {
	out := make([]revoke.AuthMethod, len(methods))
	for i, m := range methods {
		m.CompletedAt = m.CompletedAt.UTC()
		out[i] = m
	}
	return out
}

// kratosAuthenticated checks that the request has a session. On failure it
// has answered: 400 for a malformed X-Session-Token (the client sent
// something that can never work), 401 otherwise.
func (rq *request) kratosAuthenticated(w http.ResponseWriter) bool {
	if rq.ok {
		return true
	}
	if errors.Is(rq.why, revoke.ErrMalformedToken) && rq.cur.Source == revoke.SourceHeader {
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest,
			"The "+revoke.HeaderName+" header is not a well-formed session token.")
		return false
	}
	rq.fail(w, probUnauthenticated)
	return false
}

// kratosUnsafe checks an unsafe request against cross-origin forgery (see
// refuseCrossOrigin). On failure it has answered 403.
func (rq *request) kratosUnsafe(w http.ResponseWriter, r *http.Request) bool {
	return !rq.refuseCrossOrigin(w, r)
}

// disableMyOtherSessions serves DELETE /auth/sessions.
func (h *Handlers) disableMyOtherSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.kratosAuthenticated(w) || !rq.kratosUnsafe(w, r) {
		return
	}
	cur := rq.cur
	actor := "user:" + cur.UserID
	n, err := h.m.RevokeOthers(r.Context(), cur.UserID, cur.ID, revoke.Cause{Actor: actor, Reason: revoke.ReasonSignOutOthers})
	if err != nil {
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(r.Context(), "handlers: other sessions revoked", "actor", actor, "revoked", n)
	writeJSON(w, http.StatusOK, struct {
		Count int64 `json:"count"`
	}{int64(n)})
}

// listMySessions serves GET /auth/sessions. As in Kratos, it lists the
// caller's other active sessions, newest first, a page at a time
// (page_size and page_token, and a Link header to the first and next
// pages); the current one is WhoAmI's. A page costs what the store's
// ListPage does, never more for the user's revoked sessions.
func (h *Handlers) listMySessions(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.kratosAuthenticated(w) {
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest, "The query string is malformed.")
		return
	}
	size, err := kratosPageSize(q)
	if err != nil {
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest,
			"page_size must be a whole number; at most "+strconv.Itoa(kratosMaxPageSize)+" are listed.")
		return
	}
	after, err := pageCursor(q, "page_token")
	if err != nil {
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest, "The page token is invalid.")
		return
	}
	cur := rq.cur
	// One more than the page, for the current session, which is skipped.
	p, err := h.m.Store().ListPage(r.Context(), cur.UserID, store.PageQuery{Limit: size + 1, After: after, Now: h.m.Now()})
	if err != nil {
		rq.internal(w, err)
		return
	}
	out := make([]kratosSession, 0, min(len(p.Sessions), size))
	next := p.Next // after the last session read, when the page is not cut short
	for i, s := range p.Sessions {
		if s.ID == cur.ID {
			continue
		}
		if len(out) == size {
			next = store.CursorOf(p.Sessions[i-1])
			break
		}
		out = append(out, h.kratosSession(s, false))
	}
	token, err := cursorText(next)
	if err != nil {
		rq.internal(w, err)
		return
	}
	w.Header().Set("Link", kratosLink(r, q, size, token))
	writeJSON(w, http.StatusOK, out)
}

// disableMySession serves DELETE /auth/sessions/{id}.
func (h *Handlers) disableMySession(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if id == "whoami" {
		// Kratos answers whoami on every method; with DELETE the path
		// lands here.
		h.whoAmI(w, r, rq)
		return
	}
	if !rq.kratosAuthenticated(w) || !rq.kratosUnsafe(w, r) {
		return
	}
	cur := rq.cur
	switch {
	case !validID(id):
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest, "The session id is not valid.")
		return
	case id == cur.ID:
		rq.kratos(w, http.StatusBadRequest, "", kratosMsgBadRequest,
			"The current session cannot be revoked with this endpoint; use the logout flow instead.")
		return
	}
	actor := "user:" + cur.UserID
	_, err := h.m.RevokeSession(r.Context(), cur.UserID, id, revoke.Cause{Actor: actor, Reason: revoke.ReasonUserRevoked})
	switch {
	case errors.Is(err, revoke.ErrNotFound):
		rq.kratos(w, http.StatusNotFound, "", kratosMsgNotFound, "The session does not exist or does not belong to you.")
		return
	case err != nil:
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(r.Context(), "handlers: session revoked", "actor", actor, "session", id)
	w.WriteHeader(http.StatusNoContent)
}

// whoAmI serves GET /auth/sessions/whoami.
func (h *Handlers) whoAmI(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.kratosAuthenticated(w) {
		return
	}
	w.Header().Set("X-Kratos-Authenticated-Identity-Id", rq.cur.UserID)
	writeJSON(w, http.StatusOK, h.kratosSession(rq.cur.Session, true))
}
