package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/revokehq/revoke"
)

// FamilyOkta is the Okta Management API (UserSessions): Okta's SDKs are
// its clients.
const FamilyOkta Family = "okta"

func init() {
	defineFamily(&family{
		name:            FamilyOkta,
		prefixes:        []string{"/api/v1/", "/oauth2/v1/"}, // the Management API, and Universal Logout's route
		problem:         (*request).oktaProblem,
		notFound:        (*request).oktaNoRoute,
		rateHeaders:     oktaRateHeaders,
		requestIDHeader: "X-Okta-Request-Id", // which the SDKs send back in X-Okta-Retry-For
		trailingSlash:   true,                // Okta's Python SDK 2.x sends /sessions/?oauthTokens=True
		errorSchema:     "Error",
	})
}

// Routes of the Okta family.
const (
	RouteRevokeUserSessions RouteName = "RevokeUserSessions" // DELETE /api/v1/users/{userId}/sessions
	RouteEndUserSessions    RouteName = "EndUserSessions"    // POST /api/v1/users/me/lifecycle/delete_sessions
	// POST /oauth2/v1/global-token-revocation, served in universal_logout.go
	RouteGlobalTokenRevocation RouteName = "GlobalTokenRevocation"
)

// RevokeUserSessions returns the handler of DELETE
// /api/v1/users/{userId}/sessions (Okta revokeUserSessions): an
// administrator revokes every active session of a user; 204 on success.
func (h *Handlers) RevokeUserSessions() http.Handler { return h.Endpoint(RouteRevokeUserSessions) }

// EndUserSessions returns the handler of POST
// /api/v1/users/me/lifecycle/delete_sessions (Okta endUserSessions): the
// user behind the session cookie ends their other sessions, or all of them
// with {"keepCurrent": false}; 200 with an empty body on success. Only the
// cookie's session counts: a request that also carries X-Session-Token
// acts on the cookie's session, never the header's, and one that carries
// X-Session-Token without a session cookie is refused (403 E0000006), as
// is an API or bearer token.
func (h *Handlers) EndUserSessions() http.Handler { return h.Endpoint(RouteEndUserSessions) }

// Okta's SDKs compute their retry wait from X-Rate-Limit-Reset (epoch
// seconds, which is what httprate writes) and Date.
var oktaRateHeaders = httprate.ResponseHeaders{
	Limit:      "X-Rate-Limit-Limit",
	Remaining:  "X-Rate-Limit-Remaining",
	Reset:      "X-Rate-Limit-Reset",
	RetryAfter: "Retry-After",
}

// The Error schema of Okta's API.

type oktaCause struct {
	ErrorSummary string `json:"errorSummary"`
}

type oktaError struct {
	ErrorCode    string      `json:"errorCode"`
	ErrorSummary string      `json:"errorSummary"`
	ErrorLink    string      `json:"errorLink"`
	ErrorID      string      `json:"errorId"`
	ErrorCauses  []oktaCause `json:"errorCauses"`
}

// Okta error codes and their summaries.
const (
	oktaValidation     = "E0000001"
	oktaMalformedBody  = "E0000003"
	oktaInvalidSession = "E0000005"
	oktaForbidden      = "E0000006"
	oktaNotFound       = "E0000007"
	oktaInternal       = "E0000009"
	oktaUnavailable    = "E0000010"
	oktaInvalidToken   = "E0000011"
	oktaMethod         = "E0000022"
	oktaRateLimited    = "E0000047"
)

func (rq *request) okta(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	e := oktaError{
		ErrorCode:    code,
		ErrorSummary: summary,
		ErrorLink:    code,
		ErrorID:      oktaErrorID(),
		ErrorCauses:  []oktaCause{},
	}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, oktaCause{c})
	}
	switch status {
	case http.StatusTooManyRequests:
		now := time.Now()
		rateLimitedReset(w.Header(), now)
		oktaRetryHeaders(w.Header(), now)
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		oktaRetryHeaders(w.Header(), time.Now())
	}
	writeJSON(w, status, e)
}

// oktaRetryHeaders gives an answer that Okta's SDKs retry (429, 503, 504)
// the two headers their retry logic computes its wait from: Date, and
// exactly one X-Rate-Limit-Reset in integer epoch seconds. Without them
// Python's SDK fails with an AttributeError, Go's gives up, and .NET's
// reports a silent success. A reset the rate limiter set is kept; without
// one (a 503 with rate limiting off) it is the Retry-After.
func oktaRetryHeaders(h http.Header, now time.Time) {
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	if vs := h.Values("X-Rate-Limit-Reset"); len(vs) == 1 {
		if _, err := strconv.ParseInt(vs[0], 10, 64); err == nil {
			return
		}
	}
	after := retryAfterUnavailable
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n >= 0 {
		after = n
	}
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Unix()+int64(after), 10))
}

// rateLimitedReset moves the reset of a 429 to when a request is sure to be
// served. httprate writes the end of the current window, cut to a whole
// second, and a Retry-After of one window; but it counts over a sliding
// window, which still weighs the current window's requests through the
// next one: a client retrying at that reset (as Okta's SDKs do) may be
// refused again. By the end of the next window the current one weighs
// nothing, so the reset becomes that, rounded up: the written reset plus
// a window plus the second it was cut by; Retry-After says the same.
func rateLimitedReset(h http.Header, now time.Time) {
	reset, err1 := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	window, err2 := strconv.ParseInt(h.Get("Retry-After"), 10, 64)
	if err1 != nil || err2 != nil || window < 0 {
		return
	}
	reset += window + 1
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset, 10))
	h.Set("Retry-After", strconv.FormatInt(max(reset-now.Unix(), 1), 10))
}

func (rq *request) oktaProblem(w http.ResponseWriter, p problem, _ error) {
	switch p {
	case probUnauthenticated:
		rq.okta(w, http.StatusUnauthorized, oktaInvalidToken, "Invalid token provided")
	case probNotPermitted:
		rq.okta(w, http.StatusForbidden, oktaForbidden, "You do not have permission to perform the requested action")
	case probCrossOrigin:
		rq.okta(w, http.StatusForbidden, oktaForbidden, "You do not have permission to perform the requested action",
			"Cross-origin request refused")
	case probRateLimited:
		rq.okta(w, http.StatusTooManyRequests, oktaRateLimited, "API call exceeded rate limit due to too many requests.")
	case probMethodNotAllowed:
		rq.okta(w, http.StatusMethodNotAllowed, oktaMethod, "The endpoint does not support the provided HTTP method")
	case probUnavailable:
		rq.okta(w, http.StatusServiceUnavailable, oktaUnavailable, "Service is temporarily unavailable",
			"Retry the request later")
	default:
		rq.okta(w, http.StatusInternalServerError, oktaInternal, "Internal Server Error")
	}
}

// oktaNoRoute answers a path under /api/v1/ or /oauth2/v1/ that no route
// matches, as Okta answers an unknown resource: E0000007.
func (rq *request) oktaNoRoute(w http.ResponseWriter, r *http.Request) {
	rq.okta(w, http.StatusNotFound, oktaNotFound, "Not found: Resource not found: "+shorten(r.URL.Path))
}

func (rq *request) oktaValidation(w http.ResponseWriter, field, cause string) {
	rq.okta(w, http.StatusBadRequest, oktaValidation, "Api validation failed: "+field, cause)
}

func (rq *request) oktaUserNotFound(w http.ResponseWriter, userID string) {
	rq.okta(w, http.StatusNotFound, oktaNotFound, "Not found: Resource not found: "+userID+" (User)")
}

// oktaErrorID returns a fresh error id in Okta's style: "oae" and 22
// characters; unique per response so that a support request can name it.
func oktaErrorID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "oae" + base64.RawURLEncoding.EncodeToString(b[:])
}

// revokeUserSessions serves DELETE /api/v1/users/{userId}/sessions.
func (h *Handlers) revokeUserSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	grant, ok := rq.authorizeAdmin(w, r)
	if !ok {
		return
	}
	q, ok := rq.oktaQuery(w, r)
	if !ok {
		return
	}
	oauthTokens, ok := rq.oktaBool(w, q, "oauthTokens", false)
	if !ok {
		return
	}
	forgetDevices, ok := rq.oktaBool(w, q, "forgetDevices", true)
	if !ok {
		return
	}
	// Refused before anything else happens: revoking the sessions but not
	// the tokens the caller asked about would be a partial success.
	if oauthTokens && !h.m.HasOAuthTokenRevoker() {
		rq.oktaValidation(w, "oauthTokens", "oauthTokens: revoking OAuth tokens is not configured on this server")
		return
	}

	userID := r.PathValue("userId")
	ctx := r.Context()
	if !validOktaUserID(userID) {
		rq.oktaUserNotFound(w, shorten(userID))
		return
	}
	switch exists, err := h.userExists(ctx, userID); {
	case err != nil:
		rq.internal(w, err)
		return
	case !exists:
		rq.oktaUserNotFound(w, userID)
		return
	}

	var opts []revoke.RevokeAllOption
	if oauthTokens {
		opts = append(opts, revoke.AlsoOAuthTokens())
	}
	if forgetDevices {
		opts = append(opts, revoke.AlsoForgetDevices())
	}
	n, err := h.m.RevokeAll(ctx, userID, revoke.Cause{Actor: grant.Actor, Reason: revoke.ReasonAdminRevoked}, opts...)
	switch {
	case errors.Is(err, revoke.ErrNoOAuthTokenRevoker):
		rq.oktaValidation(w, "oauthTokens", "oauthTokens: revoking OAuth tokens is not configured on this server")
		return
	case errors.Is(err, revoke.ErrSessionsRevokedHookFailed):
		// Not a success, but the caller must know the sessions are gone:
		// retrying is safe and only retries what failed.
		rq.log.Error("handlers: internal error", "family", string(rq.family), "err", err, "revoked", n)
		rq.okta(w, http.StatusInternalServerError, oktaInternal, "Internal Server Error",
			"The user's sessions were revoked, but revoking OAuth tokens or forgetting devices failed; retry the request")
		return
	case err != nil:
		rq.internal(w, err)
		return
	}
	// What was done, which is not what was asked when no device
	// forgetter is configured.
	rq.log.InfoContext(ctx, "handlers: user sessions revoked", "actor", grant.Actor, "user", userID,
		"revoked", n, "oauth_tokens_revoked", oauthTokens, "devices_forgotten", forgetDevices && h.m.HasDeviceForgetter())
	w.WriteHeader(http.StatusNoContent)
}

// validOktaUserID reports whether s can name a user of the Okta routes: a
// valid id (see validID), in which a '+' may also stand, as in the login
// a.b+c@example.com that Okta's SDKs send escaped (%2B) or, Go's and
// Python 2.x's, raw.
func validOktaUserID(s string) bool {
	return validID(strings.ReplaceAll(s, "+", "-"))
}

// oktaQuery parses the query string. url.URL.Query drops every pair it
// cannot parse (a ';' separator, a bad %-escape), which would turn
// "forgetDevices=false;" into the default, true: such a query is refused
// with 400 naming the parameter, and ok is false.
func (rq *request) oktaQuery(w http.ResponseWriter, r *http.Request) (q url.Values, ok bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err == nil {
		return q, true
	}
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if _, err := url.ParseQuery(pair); err == nil {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		name = shorten(name)
		rq.oktaValidation(w, name, name+": invalid value "+quote(value)+"; the query string is malformed")
		return nil, false
	}
	// ParseQuery failed, so some pair fails on its own; this is not reached.
	rq.oktaValidation(w, "query", "query: the query string is malformed")
	return nil, false
}

// oktaBool reads an optional boolean query parameter: true or false in any
// case. On a bad value it has answered 400 and returns ok false.
func (rq *request) oktaBool(w http.ResponseWriter, q url.Values, name string, def bool) (v, ok bool) {
	vs, present := q[name]
	if !present {
		return def, true
	}
	if len(vs) == 1 {
		switch {
		case strings.EqualFold(vs[0], "true"):
			return true, true
		case strings.EqualFold(vs[0], "false"):
			return false, true
		}
	}
	rq.oktaValidation(w, name, name+": invalid value "+quote(strings.Join(vs, ","))+"; expected true or false")
	return false, false
}

// endUserSessions serves POST /api/v1/users/me/lifecycle/delete_sessions.
// Its session is the cookie's alone (see cookieSession): an X-Session-Token
// sent along is ignored, and one sent without a session cookie is refused.
func (h *Handlers) endUserSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	// Okta allows this operation with the session cookie only: a token
	// holder is a program, not the browser whose session this is.
	if scheme, _, present, _ := authorization(r); present && (apiScheme(scheme) || scheme == "") {
		rq.okta(w, http.StatusForbidden, oktaForbidden, "You do not have permission to perform the requested action",
			"This operation requires a session cookie; API and access tokens are not allowed")
		return
	}
	if !rq.ok {
		if errors.Is(rq.why, revoke.ErrNoSession) && len(r.Header.Values(revoke.HeaderName)) > 0 {
			rq.okta(w, http.StatusForbidden, oktaForbidden, "You do not have permission to perform the requested action",
				"This operation requires a session cookie; "+revoke.HeaderName+" is not allowed")
			return
		}
		rq.okta(w, http.StatusForbidden, oktaInvalidSession, "Invalid session")
		return
	}
	// Always checked: the session is the cookie's, whatever else the
	// request carries.
	if rq.crossOrigin(r) {
		rq.fail(w, probCrossOrigin)
		return
	}

	keepCurrent, ok := rq.keepCurrent(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	cur := rq.cur
	switch exists, err := h.userExists(ctx, cur.UserID); {
	case err != nil:
		rq.internal(w, err)
		return
	case !exists:
		rq.oktaUserNotFound(w, cur.UserID)
		return
	}

	actor := "user:" + cur.UserID
	var n int
	var err error
	if keepCurrent {
		n, err = h.m.RevokeOthers(ctx, cur.UserID, cur.ID, revoke.Cause{Actor: actor, Reason: revoke.ReasonSignOutOthers})
	} else {
		n, err = h.m.RevokeAll(ctx, cur.UserID, revoke.Cause{Actor: actor, Reason: revoke.ReasonSignOutAll})
	}
	if err != nil {
		rq.internal(w, err)
		return
	}
	rq.log.InfoContext(ctx, "handlers: user ended sessions", "actor", actor, "revoked", n, "keep_current", keepCurrent)
	if !keepCurrent {
		h.m.ExpireCookie(w)
	}
	w.WriteHeader(http.StatusOK)
}

// keepCurrent reads the optional {"keepCurrent": bool} body; an empty body
// or a null means the default, true. On a bad body it has answered 400 and
// returns ok false.
func (rq *request) keepCurrent(w http.ResponseWriter, r *http.Request) (keep, ok bool) {
	body, tooLarge, err := readBody(w, r)
	switch {
	case tooLarge:
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.",
			"The request body is larger than the limit")
		return false, false
	case err != nil:
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.")
		return false, false
	}
	// Only JSON's own whitespace makes a body empty: bytes.TrimSpace would
	// also take a body of U+00A0 or U+0085 for none.
	if len(bytes.Trim(body, " \t\r\n")) == 0 {
		return true, true
	}
	// A body that says it is something else (text/plain, a form) is not
	// read as JSON: a cross-site form can send text/plain that parses as
	// JSON. A body without a Content-Type is taken as JSON.
	if cts := r.Header.Values("Content-Type"); len(cts) > 1 || len(cts) == 1 && !jsonMediaType(cts[0]) {
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.",
			"The request body must be application/json")
		return false, false
	}
	var fields map[string]json.RawMessage // a JSON null leaves it nil: the default
	if err := json.Unmarshal(body, &fields); err != nil {
		rq.okta(w, http.StatusBadRequest, oktaMalformedBody, "The request body was not well-formed.")
		return false, false
	}
	raw, present := fields["keepCurrent"]
	if !present || string(raw) == "null" {
		return true, true
	}
	if err := json.Unmarshal(raw, &keep); err != nil {
		rq.oktaValidation(w, "keepCurrent", "keepCurrent: invalid value "+quote(string(raw))+"; expected true or false")
		return false, false
	}
	return keep, true
}

// jsonMediaType reports whether the Content-Type ct names JSON:
// application/json or a +json type, with any parameters.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
