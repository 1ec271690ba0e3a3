package handlers

import (
	"errors"
	"net/http"

	"github.com/revokehq/revoke/store"
)

// retryAfterSeconds is what a 503 tells the caller to wait.
const retryAfterSeconds = "5"

// storeFailed answers a failed store call: 503 with Retry-After when the
// store did not answer in time (store.ErrUnavailable), so the caller retries
// rather than giving up; otherwise the family's 500. Nothing is known to
// have changed either way.
func (rq *request) storeFailed(w http.ResponseWriter, err error) {
	if !errors.Is(err, store.ErrUnavailable) {
		rq.internal(w, err)
		return
	}
	rq.log.Error("handlers: store unavailable", "family", string(rq.family), "err", err)
	w.Header().Set("Retry-After", retryAfterSeconds)
	const status = http.StatusServiceUnavailable
	switch rq.family {
	case FamilyOIDC:
		rq.oauth(w, status, oauthUnavailable, "The service is unavailable; retry later.")
	case FamilyOkta:
		rq.okta(w, status, oktaUnavailable, "Service is temporarily unavailable")
	case FamilyKratos:
		rq.kratos(w, status, "", "The service is temporarily unavailable", "")
	default:
		rq.admin(w, status, adminUnavailable, "Service unavailable")
	}
}

// Codes of the 503 answers.
const (
	oktaUnavailable  = "E0000010"
	adminUnavailable = "SERVICE_UNAVAILABLE"
)
