package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/revokehq/revoke/store"
)

// problem is a failure that any family can meet; each family words it in
// its own shape (see family.problem).
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
	rq.family.spec().problem(rq, w, p, nil)
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
	rq.family.spec().problem(rq, w, p, err)
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
