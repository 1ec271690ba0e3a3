package handlers

import (
	"fmt"
	"net/http"

	"github.com/go-chi/httprate"
)

// Family is an API family: the error shape, rate limit and conventions its
// routes share. Each family's file defines it (okta.go, kratos.go,
// admin.go); its routes are rows of the route table (routes.go).
type Family string

// family is what the routes of one API family share. A family's file
// defines one with defineFamily; nothing else needs to know of it.
type family struct {
	name Family
	// prefixes are the paths the family owns: Mount answers a path under
	// one of them that no route matches with notFound, in the family's
	// shape. The longest matching prefix wins, as in the ServeMux.
	prefixes []string
	// problem answers p in the family's error shape. cause is the error
	// behind an internal failure or an unavailable store, nil otherwise.
	problem func(rq *request, w http.ResponseWriter, p problem, cause error)
	// notFound answers a path under one of prefixes that no route matches.
	notFound func(rq *request, w http.ResponseWriter, r *http.Request)
	// rateHeaders are the names of the rate-limit headers.
	rateHeaders httprate.ResponseHeaders
	// requestIDHeader, when set, echoes the request id under the family's
	// own name as well as X-Request-Id.
	requestIDHeader string
	// trailingSlash serves each route whose path ends in a literal on that
	// path with a trailing slash too.
	trailingSlash bool
	// errorSchema is the OpenAPI schema of the family's error bodies, which
	// the document's tests check every error answer against.
	errorSchema string
}

// families holds every defined family, by name.
var families = map[Family]*family{}

// defineFamily records f; a family's file calls it from init. Defining a
// name twice, or leaving out how errors are answered, is a programming
// error.
func defineFamily(f *family) {
	if _, dup := families[f.name]; dup || f.name == "" || f.problem == nil || f.notFound == nil {
		panic(fmt.Sprintf("handlers: family %q defined twice or incompletely", f.name))
	}
	families[f.name] = f
}

// spec returns the definition of fam. Every Family in a route table is
// defined, so a nil answer is a programming error that shows at once.
func (fam Family) spec() *family { return families[fam] }
