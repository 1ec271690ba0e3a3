package main

import (
	"net/http"
	"strconv"

	"github.com/go-chi/httprate"
)

// rateHeaders are the rate-limit headers of the demo's own routes, in
// Okta's spelling, as its Okta routes send them: the demo is where people
// try Okta's clients and scripts, which read these names. (The mounted Kratos
// and admin routes keep httprate's X-RateLimit-*, as their families do.)
var rateHeaders = httprate.ResponseHeaders{
	Limit:      "X-Rate-Limit-Limit",
	Remaining:  "X-Rate-Limit-Remaining",
	Reset:      "X-Rate-Limit-Reset",
	RetryAfter: "Retry-After",
}

// limitOptions are the options of a limiter of the demo's own routes: the
// headers above, and a refusal that is a 429 in the demo's error shape with
// message.
func limitOptions(message string) []httprate.Option {
	return []httprate.Option{
		httprate.WithResponseHeaders(rateHeaders),
		httprate.WithLimitHandler(func(w http.ResponseWriter, _ *http.Request) {
			// httprate reports how far over the limit the caller is as a
			// negative remainder; clients expect a count.
			if n, err := strconv.Atoi(w.Header().Get(rateHeaders.Remaining)); err == nil && n < 0 {
				w.Header().Set(rateHeaders.Remaining, "0")
			}
			writeError(w, http.StatusTooManyRequests, "rate_limited", message)
		}),
	}
}
