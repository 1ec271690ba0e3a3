package handlers

import (
	"errors"
	"net/http"

	"github.com/revokehq/revoke/caep"
)

// FamilySSF is the family of the Shared Signals Framework routes (security
// events pushed by a transmitter), whose clients are transmitters. Its
// errors are those of RFC 8935, section 2.4: {"err": "invalid_request",
// "description": "..."}, with one of the RFC's codes for a SET refused
// (400) or a request no route serves (404, 405). A failure of the
// receiver itself (429, 500, 503), for which the RFC has no code, carries
// only a description: a transmitter retries it rather than drop the SET.
const FamilySSF Family = "ssf"

func init() {
	defineFamily(&family{
		name:        FamilySSF,
		prefixes:    []string{"/auth/ssf/"},
		problem:     (*request).ssfProblem,
		notFound:    (*request).ssfNoRoute,
		rateHeaders: defaultRateHeaders,
		errorSchema: "SETError",
	})
}

// Routes of the SSF family.
const (
	RouteSecurityEvents RouteName = "SecurityEvents" // POST /auth/ssf/events
)

// WithSecurityEvents makes the SecurityEvents handler hand the SETs it is
// pushed to rc, which verifies them against its transmitters and revokes
// what their session-revoked events name. Without it the handler refuses
// every SET, as from an issuer it does not know.
func WithSecurityEvents(rc *caep.Receiver) Option {
	return func(h *Handlers) error {
		if rc == nil {
			return errors.New("handlers: nil security event receiver")
		}
		h.ssf = rc
		return nil
	}
}

// SecurityEvents returns the handler of POST /auth/ssf/events: RFC 8935
// push delivery of Security Event Tokens (RFC 8417) to the receiver of
// WithSecurityEvents. 202 for a SET it accepted (a CAEP session-revoked
// event has revoked the sessions its subject names; other events are
// acknowledged and ignored); 400 with an RFC 8935 error code for one it
// refused (a body that is not application/secevent+jwt, a SET that fails
// verification, is not addressed to this receiver, or was delivered
// before), which then revoked nothing. The SET is the credential.
func (h *Handlers) SecurityEvents() http.Handler { return h.Endpoint(RouteSecurityEvents) }

// ssfError is the body of an SSF family error.
type ssfError struct {
	Err         string `json:"err,omitempty"`
	Description string `json:"description"`
}

func (h *Handlers) securityEvents(w http.ResponseWriter, r *http.Request, rq *request) {
	raw, refused := caep.ReadSET(w, r)
	if refused != nil {
		writeJSON(w, http.StatusBadRequest, ssfError{refused.Code, refused.Description})
		return
	}
	if h.ssf == nil {
		writeJSON(w, http.StatusBadRequest, ssfError{caep.ErrInvalidIssuer, "The SET's issuer is not a configured transmitter."})
		return
	}
	_, err := h.ssf.Receive(r.Context(), raw) // which logs what it did
	var e *caep.Error
	switch {
	case errors.As(err, &e):
		writeJSON(w, http.StatusBadRequest, ssfError{e.Code, e.Description})
		return
	case err != nil:
		rq.internal(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
}

// ssfNoRoute answers a path under /auth/ssf/ that no route matches.
func (rq *request) ssfNoRoute(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, ssfError{caep.ErrInvalidRequest, "No endpoint matches the path " + shorten(r.URL.Path) + "."})
}

// ssfProblem answers p. The cause of an internal failure is logged, never
// shown.
func (rq *request) ssfProblem(w http.ResponseWriter, p problem, _ error) {
	switch p {
	case probRateLimited:
		writeJSON(w, http.StatusTooManyRequests, ssfError{Description: "Too many requests; retry later."})
	case probMethodNotAllowed:
		writeJSON(w, http.StatusMethodNotAllowed, ssfError{caep.ErrInvalidRequest, "The request method is not supported by this endpoint."})
	case probUnauthenticated:
		writeJSON(w, http.StatusBadRequest, ssfError{caep.ErrAuthenticationFailed, "The request carries no valid credentials."})
	case probNotPermitted, probCrossOrigin:
		writeJSON(w, http.StatusForbidden, ssfError{caep.ErrAccessDenied, "The request is not permitted."})
	case probUnavailable:
		writeJSON(w, http.StatusServiceUnavailable, ssfError{Description: "The service is unavailable; retry later."})
	default:
		writeJSON(w, http.StatusInternalServerError, ssfError{Description: "The SET could not be processed; try again later."})
	}
}
