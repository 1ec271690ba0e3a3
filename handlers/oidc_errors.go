package handlers

import "net/http"

// FamilyOIDC is the family of the OpenID Connect routes (back-channel
// logout). Its errors are OAuth 2.0 error responses (RFC 6749, section
// 5.2): {"error": "invalid_request", "error_description": "..."}.
const FamilyOIDC Family = "oidc"

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// OAuth error codes the OIDC family answers with.
const (
	oauthInvalidRequest = "invalid_request"
	oauthServerError    = "server_error"
	oauthUnavailable    = "temporarily_unavailable"
)

func (rq *request) oauth(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

func (rq *request) oauthProblem(w http.ResponseWriter, p problem) {
	switch p {
	case probRateLimited:
		rq.oauth(w, http.StatusTooManyRequests, oauthUnavailable, "Too many requests; retry later.")
	case probMethodNotAllowed:
		rq.oauth(w, http.StatusMethodNotAllowed, oauthInvalidRequest, "The request method is not supported by this endpoint.")
	case probUnauthenticated:
		rq.oauth(w, http.StatusBadRequest, oauthInvalidRequest, "The request carries no valid credentials.")
	case probNotPermitted, probCrossOrigin:
		rq.oauth(w, http.StatusForbidden, oauthInvalidRequest, "The request is not permitted.")
	case probUnavailable:
		rq.oauth(w, http.StatusServiceUnavailable, oauthUnavailable, "The service is unavailable; retry later.")
	default:
		rq.oauth(w, http.StatusInternalServerError, oauthServerError, "")
	}
}
