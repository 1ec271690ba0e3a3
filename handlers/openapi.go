package handlers

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns an OpenAPI 3.0 document (JSON) that describes every route
// of Routes at its default path: parameters, request bodies, each status
// code with its family's error schema, the session schemas, the security
// schemes (SSWS API token, bearer token, session cookie, X-Session-Token),
// the rate-limit and retry headers, and under x-unmatched-paths the 404 of
// each family's prefix. Serve it so that people and client generators
// can read the API; an app that mounts handlers on other paths should
// adjust the paths first. Each call returns a new copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
