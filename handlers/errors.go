package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/revokehq/revoke/store"
)

// problem is a failure that any family can meet; each family words it in
// its own shape (see fail).
type problem int

const (
	probUnauthenticated  problem = iota // no valid credentials: 401
	probNotPermitted                    // valid credentials, not allowed: 403
	probCrossOrigin                     // cross-origin request on the cookie: 403
	probRateLimited                     // 429
	probMethodNotAllowed                // 405
	probInternal                        // 500
	probUnavailable                     // the store did not answer: 503
)

// retryAfterUnavailable is the Retry-After of a 503, in seconds: a store
// that missed its deadline is often back within a few.
const retryAfterUnavailable = 2

// fail answers p in the request's family shape.
func (rq *request) fail(w http.ResponseWriter, p problem) {
	switch rq.family {
	case FamilyOkta:
		rq.oktaProblem(w, p)
	case FamilyKratos:
		rq.kratosProblem(w, p, nil)
	case FamilyOIDC:
		rq.oauthProblem(w, p)
	default:
		rq.adminProblem(w, p)
	}
}

// internal logs err with the request id and answers 500 without its text
// (which may name tables, hosts or drivers), or 503 with Retry-After when
// the store did not answer in time (store.ErrUnavailable): nothing is
// known to have changed, and the caller may retry.
func (rq *request) internal(w http.ResponseWriter, err error) {
	p := probInternal
	if errors.Is(err, store.ErrUnavailable) {
		p = probUnavailable
		rq.log.Warn("handlers: store unavailable", "family", string(rq.family), "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
	} else {
		rq.log.Error("handlers: internal error", "family", string(rq.family), "err", err)
	}
	if rq.family == FamilyKratos {
		rq.kratosProblem(w, p, err)
		return
	}
	rq.fail(w, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled; this cannot happen.
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ---- Okta: the Error schema ----

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
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
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

func (rq *request) oktaProblem(w http.ResponseWriter, p problem) {
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

// ---- Ory Kratos: errorGeneric ----

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

// ---- Admin: ApiErrorResponseDto ----

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

func (rq *request) adminProblem(w http.ResponseWriter, p problem) {
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

// shorten returns s, which comes from the client, fit for an error message:
// valid UTF-8, and cut short when long.
func shorten(s string) string {
	const max = 64
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "..."
	}
	return s
}

// quote returns shorten(s) in single quotes.
func quote(s string) string { return "'" + shorten(s) + "'" }
