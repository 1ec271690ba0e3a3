package revoke

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Fresh reports whether the session of ctx (see FromContext) was
// authenticated no longer than maxAge ago.
func (m *Manager) Fresh(ctx context.Context, maxAge time.Duration) bool {
	cur, ok := FromContext(ctx)
	return ok && m.now().Sub(cur.Authenticated()) <= maxAge
}

// RequireFresh guards a sensitive route (changing the password, signing
// out everywhere, deleting the account): it passes only requests whose
// session was authenticated no longer than maxAge ago. A request without a
// session gets RequireSession's answer; one whose authentication is older
// gets 401 with the step-up challenge of RFC 9470,
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=300
//
// and a JSON body {"error":"insufficient_user_authentication","max_age":300,...},
// which an app turns into "enter your password again". Use it inside
// Middleware.
func (m *Manager) RequireFresh(maxAge time.Duration) func(http.Handler) http.Handler {
	secs := int64(maxAge / time.Second)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := FromContext(r.Context()); !ok {
				m.warnNoMiddleware(r)
				m.unauthorized.ServeHTTP(w, r)
				return
			}
			if m.Fresh(r.Context(), maxAge) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", `+
				`error_description="A more recent authentication is required", max_age=`+strconv.FormatInt(secs, 10))
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"insufficient_user_authentication","message":"sign in again to continue","max_age":%d}`+"\n", secs)
		})
	}
}
