package revoke

import (
	"net/http"
	"net/url"
	"strings"
)

// RedirectToLogin is RequireSession for HTML pages: a request without a
// valid session is sent to loginPath with the page it asked for in the
// "next" query parameter (303 See Other), where RequireSession would
// answer 401 JSON, which a browser shows as it is. Use it inside
// Middleware, for pages; keep RequireSession for APIs. Read "next" back
// with SafeNext after the sign-in.
//
// Only a GET or HEAD request is named in "next": the browser comes back to
// it with a GET, which a form's POST-only route (its session expired while
// the page was open) would answer with 405. Such a request is sent to
// loginPath alone.
func (m *Manager) RedirectToLogin(loginPath string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := FromContext(r.Context()); ok {
				next.ServeHTTP(w, r)
				return
			}
			m.warnNoMiddleware(r)
			target := loginPath
			revisitable := r.Method == http.MethodGet || r.Method == http.MethodHead
			if page := r.URL.RequestURI(); revisitable && page != loginPath {
				sep := "?"
				if strings.Contains(loginPath, "?") {
					sep = "&"
				}
				target += sep + "next=" + url.QueryEscape(page)
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, target, http.StatusSeeOther)
		})
	}
}

// SafeNext returns next when it is a path on this site ("/account?tab=2"),
// and "/" otherwise, so that a "next" parameter cannot send a user who
// just signed in to another site ("//evil.example", "https://...",
// "/\\evil.example").
func SafeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
