package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/httprate"
)

// Sign-in budgets, per loginWindow, all counted per client address.
const (
	loginWindow = time.Minute
	// defaultLoginFailures is how many wrong passwords one address may give
	// for one username: enough for people who mistype, far too few to guess.
	defaultLoginFailures = 10
	// addressFailuresFactor times the per-username budget is what one
	// address may fail over all usernames, so that trying one password on
	// many accounts (spraying) is held up as well.
	addressFailuresFactor = 5
	// defaultLoginAttempts bounds every sign-in from one address, right or
	// wrong. It is generous, since an office behind one NAT signs in many
	// people from one address; it bounds the sessions one address can make.
	defaultLoginAttempts = 300
)

// signInLimits are the budgets of POST /login. Each is kept per client
// address, so that no address can use up a budget for anyone elsewhere: a
// user whose name is being guessed from one address still signs in from
// another. Only wrong passwords spend the failure budgets, so signing in
// never uses up the budget meant for guessing.
type signInLimits struct {
	attempts     *httprate.RateLimiter // every attempt by address; nil when off
	userFailures *httprate.RateLimiter // failures by username and address; nil when off
	addrFailures *httprate.RateLimiter // failures by address; nil with userFailures
}

// newSignInLimits returns the budgets for attempts and failures a minute
// (see the constants above); 0 turns either off.
func newSignInLimits(attempts, failures int) (*signInLimits, error) {
	if attempts < 0 || failures < 0 {
		return nil, fmt.Errorf("-login-attempts and -login-failures must not be negative, got %d and %d", attempts, failures)
	}
	l := &signInLimits{}
	if attempts > 0 {
		l.attempts = httprate.NewRateLimiter(attempts, loginWindow, limitOptions("too many sign-in attempts; try again later")...)
	}
	if failures > 0 {
		// The failure budgets say nothing in the headers of a response but
		// Retry-After on a refusal: their counts would tell a guesser how
		// many tries remain.
		only := httprate.WithResponseHeaders(httprate.ResponseHeaders{RetryAfter: "Retry-After"})
		l.userFailures = httprate.NewRateLimiter(failures, loginWindow, only)
		l.addrFailures = httprate.NewRateLimiter(addressFailuresFactor*failures, loginWindow, only)
	}
	return l, nil
}

// admit counts an attempt from ip against the per-address budget. It
// reports false, having answered 429, when that budget is spent.
func (l *signInLimits) admit(w http.ResponseWriter, r *http.Request, ip string) bool {
	return l.attempts == nil || !l.attempts.RespondOnLimit(w, r, addressKey(ip))
}

// reserveFailure takes one failure from the budgets of username at ip
// before the password is checked: taken after, concurrent guesses would all
// pass a check made before any of them was counted. It reports false, having
// answered 429, when a budget is spent. When the password turns out right,
// the caller gives the failure back with the returned refund.
func (l *signInLimits) reserveFailure(w http.ResponseWriter, r *http.Request, ip, username string) (refund func(), ok bool) {
	if l.userFailures == nil {
		return func() {}, true
	}
	addrKey := addressKey(ip)
	// Keyed by a digest: the username is the client's text, of any length,
	// and may be a password typed into the wrong field.
	sum := sha256.Sum256([]byte(username))
	userKey := "user:" + hex.EncodeToString(sum[:]) + "|" + addrKey
	if l.addrFailures.OnLimit(w, r, addrKey) {
		writeFailuresSpent(w)
		return nil, false
	}
	if l.userFailures.OnLimit(w, r, userKey) {
		giveBack(l.addrFailures, r, addrKey)
		writeFailuresSpent(w)
		return nil, false
	}
	return func() {
		giveBack(l.userFailures, r, userKey)
		giveBack(l.addrFailures, r, addrKey)
	}, true
}

// giveBack returns one unit to key's budget in rl. httprate counts a
// negative increment like any other and never refuses one.
func giveBack(rl *httprate.RateLimiter, r *http.Request, key string) {
	rl.OnLimit(discardHeaders{}, r.WithContext(httprate.WithIncrement(r.Context(), -1)), key)
}

func writeFailuresSpent(w http.ResponseWriter) {
	writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed sign-ins; try again later")
}

func addressKey(ip string) string { return "ip:" + httprate.CanonicalizeIP(ip) }

// discardHeaders is a ResponseWriter whose headers go nowhere, for the
// counter updates that are not part of a response.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
