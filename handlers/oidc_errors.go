package handlers

import "net/http"

// FamilyOIDC is the family of the OpenID Connect routes (back-channel
// logout), whose clients are identity providers. Its errors are OAuth 2.0
// error responses (RFC 6749, section 5.2): {"error": "invalid_request",
// "error_description": "..."}.
const FamilyOIDC Family = "oidc"

func init() {
	defineFamily(&family{
		name:        FamilyOIDC,
		prefixes:    []string{"/auth/oidc/"},
		problem:     (*request).oauthProblem,
		notFound:    (*request).oauthNoRoute,
		rateHeaders: defaultRateHeaders,
		errorSchema: "OAuthError",
	})
}

// Routes of the OIDC family.
const (
	RouteBackChannelLogout RouteName = "BackChannelLogout" // POST /auth/oidc/backchannel-logout
)

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

// oauthNoRoute answers a path under /auth/oidc/ that no route matches.
// OAuth has no code of its own for an unknown endpoint; invalid_request is
// the one a provider's client reports as a refused request.
func (rq *request) oauthNoRoute(w http.ResponseWriter, r *http.Request) {
	rq.oauth(w, http.StatusNotFound, oauthInvalidRequest, "No endpoint matches the path "+shorten(r.URL.Path)+".")
}

// oauthProblem answers p. The cause of an internal failure is logged, never
// shown: an identity provider has no use for it.
func (rq *request) oauthProblem(w http.ResponseWriter, p problem, _ error) {
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
