package handlers

import (
	"net/http"
	"slices"
	"strings"
)

// Mount registers every route on mux at its default path, with its method in
// the pattern. A request with another method on one of these paths gets 405
// with an Allow header, in the family's error shape, and a path whose last id
// is empty ("/auth/sessions/") gets its route's 400. The Okta routes also
// answer on their paths with a trailing slash.
//
// Mount also takes the families' prefixes (see Prefixes): a path under one
// of them that matches no route gets 404 in the family's shape. The app's
// own, more specific, patterns under them still win; an app that registers
// one of these prefixes itself must not call Mount on the same mux.
//
// Mount's patterns are the ServeMux's (methods, {$}, prefixes), which other
// routers read differently; on another router, mount Handler instead (see
// Handler).
func (h *Handlers) Mount(mux *http.ServeMux) {
	h.mustBeValid()
	allow := make(map[string][]string) // pattern -> methods
	var paths []string
	for _, rt := range h.routes {
		mux.Handle(rt.Method+" "+rt.Pattern, h.mounted[rt.Name])
		if _, ok := allow[rt.Pattern]; !ok {
			paths = append(paths, rt.Pattern)
		}
		allow[rt.Pattern] = append(allow[rt.Pattern], rt.Method)
	}
	emptied := make(map[string]bool)
	for _, rt := range h.routes {
		// A path whose last id is empty ("/auth/sessions/") matches no
		// wildcard, so the ServeMux would answer it with a plain-text 404.
		// The route's handler refuses the empty id in its family's shape,
		// after checking the credentials.
		i := strings.LastIndex(rt.Pattern, "/{")
		if i < 0 || !strings.HasSuffix(rt.Pattern, "}") {
			continue
		}
		empty := rt.Pattern[:i+1] + "{$}"
		mux.Handle(rt.Method+" "+empty, h.mounted[rt.Name])
		if !emptied[empty] {
			emptied[empty] = true
			mux.Handle(empty, h.methodNotAllowed(rt.Family, rt.Pattern, allow, nil))
		}
	}
	// A method-less pattern for a path that another path's wildcard also
	// matches (/auth/sessions/whoami and DELETE /auth/sessions/{id})
	// conflicts with that path's routes; the wildcard's pattern answers for
	// both.
	shadowed := make(map[string][]string) // wildcard pattern -> the paths it answers for
	for _, p := range paths {
		if q, ok := shadowOf(p, paths); ok {
			shadowed[q] = append(shadowed[q], p)
		}
	}
	for _, p := range paths {
		if _, ok := shadowOf(p, paths); ok {
			continue
		}
		mux.Handle(p, h.methodNotAllowed(h.familyOfPattern(p), p, allow, shadowed[p]))
	}
	h.mountTrailingSlash(mux, allow)
	for _, fam := range familiesOf(h.routes) {
		for _, prefix := range fam.spec().prefixes {
			mux.Handle(prefix, h.routeNotFound(fam))
		}
	}
}

// Handler returns a new ServeMux with every route mounted (see Mount).
//
// It also serves the routes on a router other than the ServeMux: hand it
// every path under Prefixes, for example on github.com/go-chi/chi/v5
//
//	api := h.Handler()
//	for _, p := range h.Prefixes() {
//		r.Handle(p+"*", api)
//	}
//
// The router's own routes beside it, under those prefixes too, keep
// working where they are more specific, and each path of Handler answers
// as under Mount. A single route goes on such a router with Endpoint, at a
// pattern that names the route's wildcards, when the router sets them as
// Request.PathValue (chi does).
func (h *Handlers) Handler() http.Handler {
	h.mustBeValid()
	mux := http.NewServeMux()
	h.Mount(mux)
	return mux
}

// Prefixes returns the path prefixes under which Handler serves: every
// route, and the family-shaped 404 of every other path, lie under one of
// them. None of them lies under another.
func (h *Handlers) Prefixes() []string {
	h.mustBeValid()
	var all []string
	for _, fam := range familiesOf(h.routes) {
		all = append(all, fam.spec().prefixes...)
	}
	var out []string
	for _, p := range all {
		under := slices.ContainsFunc(all, func(q string) bool { return q != p && strings.HasPrefix(p, q) })
		if !under && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// shadowOf returns the pattern among paths, other than p, whose
// single-segment wildcards match p's literal path, if there is one.
func shadowOf(p string, paths []string) (string, bool) {
	for _, q := range paths {
		if q != p && overlays(q, p) {
			return q, true
		}
	}
	return "", false
}

// overlays reports whether pattern q matches every path pattern p does, p
// having a literal where q has a wildcard (q /auth/sessions/{id}, p
// /auth/sessions/whoami).
func overlays(q, p string) bool {
	qs, ps := strings.Split(q, "/"), strings.Split(p, "/")
	if len(qs) != len(ps) {
		return false
	}
	wider := false
	for i := range qs {
		name, qWild := wildcard(qs[i])
		_, pWild := wildcard(ps[i])
		switch {
		case qs[i] == ps[i]:
		case qWild && !pWild && !strings.HasSuffix(qs[i], "...}") && name != "":
			wider = true
		default:
			return false
		}
	}
	return wider
}

// matchesLiteral reports whether r, matched by pattern q, is on the path of
// pattern p that q overlays.
func matchesLiteral(r *http.Request, q, p string) bool {
	qs, ps := strings.Split(q, "/"), strings.Split(p, "/")
	for i := range qs {
		if name, ok := wildcard(qs[i]); ok && r.PathValue(name) != ps[i] {
			return false
		}
	}
	return true
}

func (h *Handlers) familyOfPattern(pattern string) Family {
	for _, rt := range h.routes {
		if rt.Pattern == pattern {
			return rt.Family
		}
	}
	return ""
}

// methodNotAllowed answers every method that pattern has no route for; on
// a path of one of the patterns in shadows, which pattern overlays, it
// answers with that path's methods.
func (h *Handlers) methodNotAllowed(fam Family, pattern string, allow map[string][]string, shadows []string) http.Handler {
	return h.endpoint(fam, h.limiters[fam], noSession, func(_ *Handlers, w http.ResponseWriter, r *http.Request, rq *request) {
		methods := allow[pattern]
		for _, p := range shadows {
			if matchesLiteral(r, pattern, p) {
				methods = allow[p]
			}
		}
		var list []string
		for _, m := range methods {
			list = append(list, m)
			if m == http.MethodGet {
				list = append(list, http.MethodHead)
			}
		}
		w.Header().Set("Allow", strings.Join(list, ", "))
		rq.fail(w, probMethodNotAllowed)
	})
}

// mountTrailingSlash registers the routes of a family that asks for it on
// their paths with a trailing slash too, which are the same routes: Okta's
// Python SDK 2.x sends DELETE /api/v1/users/{userId}/sessions/?oauthTokens=True.
// A wrong method there gets the route's 405. allow maps each route pattern
// to its methods.
func (h *Handlers) mountTrailingSlash(mux *http.ServeMux, allow map[string][]string) {
	seen := make(map[string]bool)
	for _, rt := range h.routes {
		if !rt.Family.spec().trailingSlash || strings.HasSuffix(rt.Pattern, "}") {
			continue
		}
		// {$} keeps the pattern exact: a bare trailing slash would match
		// every path below it.
		slashed := rt.Pattern + "/{$}"
		mux.Handle(rt.Method+" "+slashed, h.mounted[rt.Name])
		if !seen[slashed] {
			seen[slashed] = true
			mux.Handle(slashed, h.methodNotAllowed(rt.Family, rt.Pattern, allow, nil))
		}
	}
}

// routeNotFound answers every request under a family's prefix that no
// route matches. The ServeMux's text/plain "404 page not found" is
// something no client of the family can parse (Okta's Python SDK v3 even
// reports an empty-bodied error as a success).
func (h *Handlers) routeNotFound(fam Family) http.Handler {
	return h.endpoint(fam, h.limiters[fam], noSession, func(_ *Handlers, w http.ResponseWriter, r *http.Request, rq *request) {
		fam.spec().notFound(rq, w, r)
	})
}
