package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

// The parts of the OpenAPI document the tests check.
type oaDoc struct {
	OpenAPI    string                            `json:"openapi"`
	Paths      map[string]map[string]oaOperation `json:"paths"`
	Components struct {
		Schemas         map[string]oaSchema        `json:"schemas"`
		Headers         map[string]json.RawMessage `json:"headers"`
		Parameters      map[string]oaParam         `json:"parameters"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type oaOperation struct {
	OperationID string                `json:"operationId"`
	Tags        []string              `json:"tags"`
	Parameters  []oaParam             `json:"parameters"`
	Responses   map[string]oaResponse `json:"responses"`
	Security    []map[string][]string `json:"security"`
}

type oaParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type oaResponse struct {
	Headers map[string]json.RawMessage `json:"headers"`
	Content map[string]struct {
		Schema oaSchema `json:"schema"`
	} `json:"content"`
}

type oaSchema struct {
	Ref      string   `json:"$ref"`
	Required []string `json:"required"`
}

func loadOpenAPI(t *testing.T) oaDoc {
	t.Helper()
	var doc oaDoc
	if err := json.Unmarshal(handlers.OpenAPI(), &doc); err != nil {
		t.Fatalf("the OpenAPI document is not valid JSON: %v", err)
	}
	return doc
}

// exercised lists, per route, the statuses the handler tests assert for it
// (okta_test.go, kratos_test.go, admin_test.go; 405, 429 and 503 for every
// route in TestOpenAPIPathsAreServed). The document must list exactly
// these: a status documented but never produced in a test is a guess.
var exercised = map[handlers.RouteName][]int{
	"RevokeUserSessions":     {204, 400, 401, 403, 404, 405, 429, 500, 503},
	"EndUserSessions":        {200, 400, 403, 404, 405, 429, 500, 503},
	"DisableMyOtherSessions": {200, 400, 401, 403, 405, 429, 500, 503},
	"ListMySessions":         {200, 400, 401, 405, 429, 500, 503},
	"DisableMySession":       {204, 400, 401, 403, 404, 405, 429, 500, 503},
	"WhoAmI":                 {200, 400, 401, 405, 429, 500, 503},
	"AdminRevokeSession":     {200, 400, 401, 403, 404, 405, 429, 500, 503},
	"AdminListSessions":      {200, 400, 401, 403, 404, 405, 429, 500, 503},
	"AdminRevokeAllSessions": {200, 400, 401, 403, 404, 405, 429, 500, 503},
	// backchannel_test.go, universal_logout_test.go
	"BackChannelLogout":     {200, 400, 405, 429, 500, 503},
	"GlobalTokenRevocation": {204, 400, 401, 403, 404, 405, 422, 429, 500, 503},
	// ssf_test.go
	"SecurityEvents": {202, 400, 405, 429, 500, 503},
}

// retried are the statuses Okta's SDKs retry: their answers must document
// Retry-After, and on Okta routes Date.
var retried = []string{"429", "503"}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	is := is.New(t)
	doc := loadOpenAPI(t)
	is.True(strings.HasPrefix(doc.OpenAPI, "3.")) // an OpenAPI 3 document

	byKey := map[string]handlers.Route{}
	for _, rt := range handlers.Routes() {
		byKey[rt.Method+" "+rt.Pattern] = rt
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			rt, ok := byKey[key]
			if !ok {
				t.Errorf("%s is documented but not a route", key)
				continue
			}
			t.Run(string(rt.Name), func(t *testing.T) { checkOperation(t, doc, rt, op) })
		}
	}
	for key := range byKey {
		if !slices.Contains(documented, key) {
			t.Errorf("route %s is not documented", key)
		}
	}
	is.Equal(len(documented), len(byKey)) // one operation per route
}

func checkOperation(t *testing.T, doc oaDoc, rt handlers.Route, op oaOperation) {
	is := is.New(t)
	is.Equal(op.OperationID, string(rt.Name))            // operationId
	is.True(slices.Contains(op.Tags, string(rt.Family))) // tagged with its family
	// Every route needs credentials; a logout token, the OIDC family's, is
	// in the body, where OpenAPI has no security scheme.
	// So is a SET, the SSF family's.
	is.True(len(op.Security) > 0 || rt.Family == handlers.FamilyOIDC || rt.Family == handlers.FamilySSF)
	for _, req := range op.Security {
		for name := range req {
			_, ok := doc.Components.SecuritySchemes[name]
			is.True(ok) // security scheme defined
		}
	}

	// The path parameters are exactly the template's wildcards.
	var inPath []string
	for _, p := range op.Parameters {
		if p.Ref != "" {
			p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		}
		if p.In == "path" {
			inPath = append(inPath, p.Name)
		}
	}
	var wild []string
	for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
		wild = append(wild, m[1])
	}
	slices.Sort(inPath)
	slices.Sort(wild)
	is.Equal(inPath, wild) // path parameters

	var codes []int
	for code := range op.Responses {
		n, err := strconv.Atoi(code)
		is.NoErr(err) // responses are by status code
		codes = append(codes, n)
	}
	slices.Sort(codes)
	want, ok := exercised[rt.Name]
	if !ok {
		t.Fatalf("exercised names no statuses for %s: list those its tests produce", rt.Name)
	}
	is.Equal(codes, want) // documented statuses are those the tests produce

	fam := handlers.DocOf(rt.Family)
	for code, resp := range op.Responses {
		for _, h := range slices.Concat(fam.RequestIDHeaders, fam.RateHeaders) {
			_, ok := resp.Headers[h]
			is.True(ok) // every response documents the request id and rate-limit headers
		}
		if slices.Contains(retried, code) {
			_, ok := resp.Headers["Retry-After"]
			is.True(ok) // 429 and 503 document Retry-After
			if rt.Family == handlers.FamilyOkta {
				_, ok := resp.Headers["Date"]
				is.True(ok) // and on Okta routes Date
			}
		}
		if code == "405" {
			_, ok := resp.Headers["Allow"]
			is.True(ok) // 405 documents Allow
		}
		if n, _ := strconv.Atoi(code); n >= 400 {
			is.Equal(resp.Content["application/json"].Schema.Ref, fam.ErrorSchema) // the family's error schema
		}
	}
}

// Every "$ref" in the document points at something that exists.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc any
	if err := json.Unmarshal(handlers.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// Every documented path template, filled in, reaches its route on a mounted
// handler: the answer is the handler's JSON, not the mux's text/plain 404
// or a 405, and its status, body and headers are as documented. The second
// request of a caller over a limit of one exercises 429 on every route.
func TestOpenAPIPathsAreServed(t *testing.T) {
	doc := loadOpenAPI(t)
	limit := handlers.RateLimit{Requests: 1, Window: time.Hour}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			t.Run(op.OperationID, func(t *testing.T) {
				is := is.New(t)
				var limits []handlers.Option
				for _, fam := range handlers.Families() {
					limits = append(limits, handlers.WithRateLimit(fam, limit))
				}
				e := newEnv(t, limits...)
				// Kratos's {id} is a session, the admin routes' a user.
				fill := func(e *env) string {
					id := "alice"
					if strings.HasPrefix(path, "/auth/sessions/") {
						id = e.a2.ID
					}
					return strings.NewReplacer("{userId}", "alice", "{id}", id, "{sessionId}", e.a2.ID).Replace(path)
				}
				url := fill(e)

				// No credentials: refused by the handler, as documented.
				r := e.do(strings.ToUpper(method), url, "")
				checkDocumented(t, doc, op, r)
				is.True(r.StatusCode == 401 || r.StatusCode == 403 || // refused for want of credentials
					(strings.HasPrefix(path, "/auth/oidc/") && r.StatusCode == 400) || // or of a logout token
					(strings.HasPrefix(path, "/auth/ssf/") && r.StatusCode == 400)) // or of a SET

				r = e.do(strings.ToUpper(method), url, "")
				checkDocumented(t, doc, op, r)
				is.Equal(r.StatusCode, 429)

				is.True(e.active(e.a1.token) && e.active(e.a2.token)) // nothing revoked

				// A method no route serves, then a store that does not
				// answer, with credentials the route accepts.
				e = newEnv(t)
				url = fill(e)
				creds := credentialsFor(routeNamed(t, handlers.RouteName(op.OperationID)))(e)
				r = e.do("PUT", url, "", creds...)
				checkDocumented(t, doc, op, r)
				is.Equal(r.StatusCode, 405)
				if rt := routeNamed(t, handlers.RouteName(op.OperationID)); rt.Family == handlers.FamilyOIDC || rt.Family == handlers.FamilySSF || rt.Name == handlers.RouteGlobalTokenRevocation {
					return // they need a signed token in the body: their own tests cover 503
				}
				e.st.failUnavailable("Get", "GetByTokenHash", "ListPage", "Revoke")
				r = e.do(strings.ToUpper(method), url, "", creds...)
				checkDocumented(t, doc, op, r)
				is.Equal(r.StatusCode, 503)
			})
		}
	}
}

func routeNamed(t *testing.T, name handlers.RouteName) handlers.Route {
	t.Helper()
	for _, rt := range handlers.Routes() {
		if rt.Name == name {
			return rt
		}
	}
	t.Fatalf("no route is named %q", name)
	return handlers.Route{}
}

// TestOpenAPIUnmatchedPaths: the document names each family's prefix and
// the 404 a path under it that is no route gets, and that is what such a
// path gets.
func TestOpenAPIUnmatchedPaths(t *testing.T) {
	is := is.New(t)
	var doc struct {
		Unmatched []struct {
			Prefix   string `json:"prefix"`
			Family   string `json:"family"`
			Response struct {
				Ref string `json:"$ref"`
			} `json:"response"`
		} `json:"x-unmatched-paths"`
		Components struct {
			Responses map[string]oaResponse `json:"responses"`
		} `json:"components"`
	}
	is.NoErr(json.Unmarshal(handlers.OpenAPI(), &doc))
	full := loadOpenAPI(t)
	want := map[string]handlers.Family{}
	for _, fam := range handlers.Families() {
		for _, p := range handlers.DocOf(fam).Prefixes {
			want[p] = fam
		}
	}
	is.Equal(len(doc.Unmatched), len(want)) // every prefix documented
	e := newEnv(t)
	for _, u := range doc.Unmatched {
		is.Equal(handlers.Family(u.Family), want[u.Prefix]) // the prefix's family
		resp, ok := doc.Components.Responses[strings.TrimPrefix(u.Response.Ref, "#/components/responses/")]
		is.True(ok) // the response is defined
		is.Equal(resp.Content["application/json"].Schema.Ref, handlers.DocOf(handlers.Family(u.Family)).ErrorSchema)

		r := e.do("GET", u.Prefix+"no/such/route", "")
		is.Equal(r.StatusCode, 404)
		checkDocumented(t, full, oaOperation{OperationID: u.Prefix, Responses: map[string]oaResponse{"404": resp}}, r)
		checkFamilyError(t, handlers.Family(u.Family), "GET", r, 404, map[string]string{"okta": "E0000007", "admin": "ROUTE_NOT_FOUND", "oidc": "invalid_request", "ssf": "invalid_request"}[u.Family])
	}
}

// checkDocumented checks a handler's answer against the operation's
// documented response for its status.
func checkDocumented(t *testing.T, doc oaDoc, op oaOperation, r response) {
	t.Helper()
	is := is.New(t)
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")) // the handler answered, not the mux
	resp, ok := op.Responses[strconv.Itoa(r.StatusCode)]
	if !ok {
		t.Fatalf("status %d of %s is not documented", r.StatusCode, op.OperationID)
	}
	for name := range resp.Headers {
		if name == "Set-Cookie" {
			continue // only when a cookie is to be dropped
		}
		is.True(r.Header.Get(name) != "") // documented header present
	}
	schema := doc.Components.Schemas[strings.TrimPrefix(resp.Content["application/json"].Schema.Ref, "#/components/schemas/")]
	body := r.json(t)
	for _, k := range schema.Required {
		_, ok := body[k]
		is.True(ok) // required property present
	}
}

func TestOpenAPIReturnsACopy(t *testing.T) {
	is := is.New(t)
	a := handlers.OpenAPI()
	clear(a)
	is.True(json.Valid(handlers.OpenAPI())) // callers cannot corrupt the document
}

func ExampleOpenAPI() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(handlers.OpenAPI())
	})
	fmt.Println(json.Valid(handlers.OpenAPI()))
	// Output: true
}
