package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// This file is the whole of a new API family, "toy": its definition, its
// error shape, its routes and their handlers. Nothing else in the package
// names it, which is what adding a family costs.

const familyToy Family = "toy"

func init() {
	defineFamily(&family{
		name:        familyToy,
		prefixes:    []string{"/toy/"},
		problem:     (*request).toyProblem,
		notFound:    (*request).toyNoRoute,
		rateHeaders: defaultRateHeaders,
		errorSchema: "ToyError",
	})
}

const (
	routeToyGet    RouteName = "ToyGet"
	routeToyDelete RouteName = "ToyDelete"
)

var toyRoutes = []route{
	{Route{http.MethodGet, "/toy/things/{thing}", familyToy, routeToyGet, "Read a thing"},
		anySession, (*Handlers).toyGet},
	{Route{http.MethodDelete, "/toy/things/{thing}", familyToy, routeToyDelete, "Drop a thing"},
		anySession, (*Handlers).toyDelete},
}

// toyError is the family's error body.
type toyError struct {
	Oops   string `json:"oops"`
	Status int    `json:"status"`
}

func (rq *request) toy(w http.ResponseWriter, status int, oops string) {
	writeJSON(w, status, toyError{Oops: oops, Status: status})
}

func (rq *request) toyProblem(w http.ResponseWriter, p problem, _ error) {
	switch p {
	case probUnauthenticated:
		rq.toy(w, http.StatusUnauthorized, "who are you")
	case probRateLimited:
		rq.toy(w, http.StatusTooManyRequests, "slow down")
	case probMethodNotAllowed:
		rq.toy(w, http.StatusMethodNotAllowed, "not like that")
	case probUnavailable:
		rq.toy(w, http.StatusServiceUnavailable, "later")
	default:
		rq.toy(w, http.StatusInternalServerError, "broken")
	}
}

func (rq *request) toyNoRoute(w http.ResponseWriter, _ *http.Request) {
	rq.toy(w, http.StatusNotFound, "no such toy")
}

func (h *Handlers) toyGet(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.ok {
		rq.fail(w, probUnauthenticated)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"thing": r.PathValue("thing"), "user": rq.cur.UserID})
}

func (h *Handlers) toyDelete(w http.ResponseWriter, _ *http.Request, rq *request) {
	if !rq.ok {
		rq.fail(w, probUnauthenticated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestToyFamily: a family defined in one file is served beside the others,
// with everything the table gives a family: its routes, its 405 and 404 in
// its shape, its rate limit and its request id.
func TestToyFamily(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	h, err := newHandlers(m, slices.Concat(routes, toyRoutes),
		WithRateLimit(familyToy, RateLimit{Requests: 2, Window: time.Hour, AddressRequests: -1}))
	is.NoErr(err)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	_, token, err := m.Create(t.Context(), "alice", revoke.Device{})
	is.NoErr(err)

	do := func(method, path string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		is.NoErr(err)
		req.Header.Set(revoke.HeaderName, token)
		res, err := srv.Client().Do(req)
		is.NoErr(err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		is.NoErr(err)
		var v map[string]any
		if len(b) > 0 {
			is.NoErr(json.Unmarshal(b, &v)) // a JSON body
		}
		return res, v
	}

	res, v := do("GET", "/toy/things/ball")
	is.Equal(res.StatusCode, 200)
	is.Equal(v["thing"], "ball") // the route's wildcard
	is.Equal(v["user"], "alice") // the session, resolved for it
	is.True(res.Header.Get(RequestIDHeader) != "")
	is.Equal(res.Header.Get("X-RateLimit-Limit"), "2") // the family's own limit

	res, v = do("PUT", "/toy/things/ball")
	is.Equal(res.StatusCode, 405)
	is.Equal(res.Header.Get("Allow"), "GET, HEAD, DELETE")
	is.Equal(v["oops"], "not like that") // in the family's shape

	res, v = do("GET", "/toy/nothing")
	is.Equal(res.StatusCode, 404)
	is.Equal(v["oops"], "no such toy")

	res, _ = do("DELETE", "/toy/things/ball")
	is.Equal(res.StatusCode, 204)
	res, v = do("GET", "/toy/things/ball") // the session's third request of two
	is.Equal(res.StatusCode, 429)
	is.Equal(v["oops"], "slow down")

	// The other families are untouched.
	res, _ = do("GET", "/auth/sessions/whoami")
	is.Equal(res.StatusCode, 200)
	res, v = do("GET", "/auth/nothing")
	is.Equal(res.StatusCode, 404)
	_, kratos := v["error"]
	is.True(kratos) // Kratos's shape, not the toy's

	is.True(slices.Contains(familiesOf(h.routes), familyToy))
	is.True(!slices.Contains(Families(), familyToy)) // the package's own table does not have it
	is.True(!strings.Contains(string(OpenAPI()), "/toy/"))
}
