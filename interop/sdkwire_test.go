package interop

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// How each Okta SDK version puts revokeUserSessions and endUserSessions on
// the wire, as shared/research/okta-sdk-wire.md records it (sections 1 to 5,
// the requests of 7.1) from the file named in src. Header order, and the
// values of Host and the other headers a transport adds, are as recorded;
// the version text in User-Agent stands for any.

// sdkWire is one SDK version's requests.
type sdkWire struct {
	name      string // SDK and version
	revokeSrc string // the file that builds revokeUserSessions
	endSrc    string // the file that builds endUserSessions; "" without one
	model     sdkModel
	// forgetDevices is whether revokeUserSessions takes it.
	forgetDevices bool
	// escape writes the userId path segment.
	escape func(string) string
	// query writes the query, with what goes before it ("?", or Python
	// 2.x's "/?"); nil values are left out.
	query func(oauthTokens, forgetDevices *bool) string
	// head returns the header lines, in the SDK's order, of a DELETE
	// (body nil) or of a POST with body (possibly empty). The
	// Authorization line carries token.
	head func(token string, post bool, body []byte) []string
	// retryHead returns the headers a retry adds (count from 1), given the
	// X-Okta-Request-Id of the answer retried.
	retryHead func(count int, requestID string) []string
}

// endCall is one way an SDK's caller calls endUserSessions, and the body it
// sends.
type endCall struct {
	call        string // as the caller writes it
	body        []byte // nil: none (a POST with Content-Length 0)
	keepCurrent bool   // what the body means: the spec default, true, when absent
}

// The SDK versions the research file covers.
func sdkWires() []sdkWire {
	return []sdkWire{
		{
			name: "Python v3.4.4", revokeSrc: "okta/api/user_sessions_api.py", model: pythonV3, forgetDevices: true,
			escape: escapeUnreserved, query: orderedQuery(boolLower, false),
			head:      pythonV3Head(false),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
		{
			// v3.0.x to v3.1.x leaked the Content-Type of an earlier call
			// into a DELETE (fixed by PR #507 in v3.2.0).
			name: "Python v3.0.0", revokeSrc: "okta/api/user_api.py", model: pythonV3,
			escape: escapeUnreserved, query: orderedQuery(boolLower, false),
			head:      pythonV3Head(true),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
		{
			name: "Python 2.9.13", revokeSrc: "okta/resource_clients/user_client.py", model: pythonV2, forgetDevices: true,
			escape: func(s string) string { return s }, query: orderedQuery(boolPython, true),
			head:      python2Head(false),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
		{
			// HTTPClient merges each request's headers into its defaults,
			// so a DELETE after any call with a body carries its
			// Content-Type.
			name: "Python 2.9.13 after a call with a body", revokeSrc: "okta/http_client.py", model: pythonV2, forgetDevices: true,
			escape: func(s string) string { return s }, query: orderedQuery(boolPython, true),
			head:      python2Head(true),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
		{
			name: "Java", revokeSrc: "custom_templates/api.mustache", endSrc: "custom_templates/ApiClient.mustache",
			model: java, forgetDevices: true,
			escape: escapeJava, query: orderedQuery(boolLower, false),
			head: func(token string, _ bool, body []byte) []string {
				// Every call gets an entity: Content-Type and
				// Content-Length, a DELETE's empty.
				return []string{"Accept: application/json", "Authorization: SSWS " + token,
					"User-Agent: okta-sdk-java/24.0.1 java/21.0.5 Linux/6.8.0-49-generic",
					"Content-Type: application/json", "Content-Length: " + strconv.Itoa(len(body))}
			},
			retryHead: func(int, string) []string { return nil }, // RetryUtil sends none
		},
		{
			name: ".NET v10.0.3", revokeSrc: "src/Okta.Sdk/Api/UserSessionsApi.cs", endSrc: "src/Okta.Sdk/Api/UserSessionsApi.cs",
			model: dotnet, forgetDevices: true,
			escape: escapeUnreserved, query: orderedQuery(boolLower, false),
			head:      dotnetHead("10.0.3"),
			retryHead: oktaRetryHead("x-Okta-Retry-Count"),
		},
		{
			name: ".NET v9.2.3 (v7.0.0 to v9.2.3)", revokeSrc: "src/Okta.Sdk/Api/UserApi.cs", model: dotnet,
			escape: escapeUnreserved, query: orderedQuery(boolLower, false),
			head:      dotnetHead("9.2.3"),
			retryHead: oktaRetryHead("x-Okta-Retry-Count"),
		},
		{
			name: "Go v6.1.5", revokeSrc: "okta/api_user_sessions.go", model: golang, forgetDevices: true,
			escape: url.PathEscape, query: sortedQuery,
			head:      goHead("6.1.5"),
			retryHead: goRetryHead,
		},
		{
			// endUserSessions existed in v6.0.0 only (removed by aaff3242).
			name: "Go v6.0.0", revokeSrc: "okta/api_user_sessions.go", endSrc: "okta/api_user_sessions.go",
			model: golang, forgetDevices: true,
			escape: url.PathEscape, query: sortedQuery,
			head:      goHead("6.0.0"),
			retryHead: goRetryHead,
		},
		{
			name: "Go v5.0.6", revokeSrc: "okta/api_user.go", model: golang,
			escape: url.PathEscape, query: sortedQuery,
			head:      goHead("5.0.6"),
			retryHead: goRetryHead,
		},
		{
			name: "Node 8.2.0", revokeSrc: "src/generated/apis/UserApi.js", endSrc: "src/generated/apis/UserApi.js",
			model: node, forgetDevices: true,
			escape: escapeURIComponent, query: orderedQuery(boolLower, false),
			head:      nodeHead("8.2.0"),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
		{
			name: "Node 7.3.0", revokeSrc: "src/generated/apis/UserApi.js", endSrc: "src/generated/apis/UserApi.js", model: node,
			escape: escapeURIComponent, query: orderedQuery(boolLower, false),
			head:      nodeHead("7.3.0"),
			retryHead: oktaRetryHead("X-Okta-Retry-Count"),
		},
	}
}

// endCalls are the calls of endUserSessions each SDK's callers make (7.1,
// R4 and R5), by the SDK's name.
var endCalls = map[string][]endCall{
	"Java": {
		// Jackson with INDENT_OUTPUT; LF line breaks on Linux.
		{"endUserSessions(new KeepCurrent().keepCurrent(true))", []byte("{\n  \"keepCurrent\" : true\n}"), true},
		{"endUserSessions(new KeepCurrent().keepCurrent(false))", []byte("{\n  \"keepCurrent\" : false\n}"), false},
		{"endUserSessions(null)", []byte{}, true},
	},
	".NET v10.0.3": {
		{"EndUserSessionsAsync(new KeepCurrent { _KeepCurrent = true })", []byte(`{"keepCurrent":true}`), true},
		// A non-nullable bool: the default object says false.
		{"EndUserSessionsAsync(new KeepCurrent())", []byte(`{"keepCurrent":false}`), false},
		{"EndUserSessionsAsync()", []byte{}, true},
	},
	"Go v6.0.0": {
		{"EndUserSessions(ctx).KeepCurrent(*okta.NewKeepCurrent())", []byte("{\"keepCurrent\":true}\n"), true},
		// A typed-nil *KeepCurrent through json.Encoder.
		{"EndUserSessions(ctx).Execute()", []byte("null\n"), true},
	},
	"Node 8.2.0": {
		{"endUserSessions({keepCurrent: {keepCurrent: true}})", []byte(`{"keepCurrent":true}`), true},
		{"endUserSessions({keepCurrent: {keepCurrent: false}})", []byte(`{"keepCurrent":false}`), false},
		{"endUserSessions({})", []byte{}, true},
		{"endUserSessions({keepCurrent: new KeepCurrent()})", []byte(`{}`), true},
		{"endUserSessions({keepCurrent: null})", []byte(`null`), true},
	},
	"Node 7.3.0": {
		{"endUserSessions({keepCurrent: {keepCurrent: true}})", []byte(`{"keepCurrent":true}`), true},
		{"endUserSessions()", []byte{}, true},
	},
}

// pythonV3Head is okta/api/user_sessions_api.py with okta/api_client.py and
// aiohttp: the generated headers (a User-Agent and an Authorization of the
// mode and token joined, Configuration.auth_settings L443) override the
// executor's, and aiohttp sends Content-Length on every method but GET.
func pythonV3Head(leakedContentType bool) func(string, bool, []byte) []string {
	return func(token string, post bool, body []byte) []string {
		h := []string{"Accept: application/json", "User-Agent: OpenAPI-Generator/1.0.0/python", "Authorization: SSWS" + token}
		if post || leakedContentType {
			h = append(h, "Content-Type: application/json")
		}
		return append(h, "Content-Length: "+strconv.Itoa(len(body)))
	}
}

// python2Head is okta/request_executor.py and okta/http_client.py at v2.9.13.
func python2Head(stickyContentType bool) func(string, bool, []byte) []string {
	return func(token string, post bool, body []byte) []string {
		h := []string{"User-Agent: okta-sdk-python/2.9.13 python/3.12.3 Linux/6.8.0-49-generic",
			"Accept: application/json", "Authorization: SSWS " + token}
		if post || stickyContentType {
			h = append(h, "Content-Type: application/json")
		}
		return append(h, "Content-Length: "+strconv.Itoa(len(body)))
	}
}

// dotnetHead is UserSessionsApi.cs over RestSharp: no entity on a DELETE;
// a POST's header param Content-Type replaces RestSharp's, and an empty
// StringContent carries it when there is no body.
func dotnetHead(version string) func(string, bool, []byte) []string {
	return func(token string, post bool, body []byte) []string {
		h := []string{"Accept: application/json", "Authorization: SSWS " + token,
			"User-Agent: okta-sdk-dotnet/" + version + " runtime/.NET-8.0.11 os/Linux-6.8.0-49-generic /okta-sdk-dotnet/csharp/oasv3"}
		if post {
			h = append(h, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
		}
		return h
	}
}

// goHead is okta/client.go prepareRequest over net/http, which adds
// Accept-Encoding and, for a body, Content-Length.
func goHead(version string) func(string, bool, []byte) []string {
	return func(token string, post bool, body []byte) []string {
		var h []string
		if post {
			h = append(h, "Content-Type: application/json")
		}
		h = append(h, "Accept: application/json", "User-Agent: okta-sdk-golang/"+version+" golang/go1.24.3 linux/amd64",
			"Authorization: SSWS "+token)
		if post {
			h = append(h, "Content-Length: "+strconv.Itoa(len(body)))
		}
		return append(h, "Accept-Encoding: gzip")
	}
}

// nodeHead is src/client.js and UserApi.js over node-fetch v2, which adds
// Accept-Encoding, Connection: close and a POST's Content-Length.
func nodeHead(version string) func(string, bool, []byte) []string {
	return func(token string, post bool, body []byte) []string {
		h := []string{"Authorization: SSWS " + token, "User-Agent: @okta/okta-sdk-nodejs/" + version + " node/20.20.2 linux/6.8.0-49-generic",
			"Accept: application/json, */*;q=0.8"}
		if post {
			h = append(h, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
		}
		return append(h, "Accept-Encoding: gzip,deflate", "Connection: close")
	}
}

// oktaRetryHead is the X-Okta-Retry-For and retry count headers Python,
// .NET and Node add to a retry (.NET spells the count x-Okta-Retry-Count).
func oktaRetryHead(countHeader string) func(int, string) []string {
	return func(count int, requestID string) []string {
		return []string{"X-Okta-Retry-For: " + requestID, countHeader + ": " + strconv.Itoa(count)}
	}
}

// goRetryHead is client.go's: Header.Add, so the values pile up.
func goRetryHead(count int, requestID string) []string {
	var h []string
	for i := 1; i <= count; i++ {
		h = append(h, "X-Okta-Retry-For: "+requestID, "X-Okta-Retry-Count: "+strconv.Itoa(i))
	}
	return h
}

// escapeUnreserved escapes every byte but RFC 3986's unreserved ones:
// Python's quote(s, safe="") and .NET's Uri.EscapeDataString.
func escapeUnreserved(s string) string { return escapeExcept(s, "-._~") }

// escapeURIComponent is JavaScript's encodeURIComponent.
func escapeURIComponent(s string) string { return escapeExcept(s, "-_.!~*'()") }

// escapeJava is URLEncoder.encode(s, "utf8").replaceAll("\\+", "%20").
func escapeJava(s string) string { return escapeExcept(s, ".-*_") }

func escapeExcept(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func boolLower(b bool) string { return strconv.FormatBool(b) }

// boolPython is str(True): urlencode of a Python bool.
func boolPython(b bool) string { return map[bool]string{true: "True", false: "False"}[b] }

// orderedQuery is oauthTokens then forgetDevices, as every generated SDK
// and a Python 2.x caller's dict write them. Python 2.x puts "/?" before
// the query (user_client.py clear_user_sessions).
func orderedQuery(spell func(bool) string, slashBefore bool) func(oauthTokens, forgetDevices *bool) string {
	return func(oauthTokens, forgetDevices *bool) string {
		var pairs []string
		if oauthTokens != nil {
			pairs = append(pairs, "oauthTokens="+spell(*oauthTokens))
		}
		if forgetDevices != nil {
			pairs = append(pairs, "forgetDevices="+spell(*forgetDevices))
		}
		if len(pairs) == 0 {
			return ""
		}
		if slashBefore {
			return "/?" + strings.Join(pairs, "&")
		}
		return "?" + strings.Join(pairs, "&")
	}
}

// sortedQuery is Go's url.Values.Encode: sorted by key.
func sortedQuery(oauthTokens, forgetDevices *bool) string {
	q := url.Values{}
	if oauthTokens != nil {
		q.Set("oauthTokens", strconv.FormatBool(*oauthTokens))
	}
	if forgetDevices != nil {
		q.Set("forgetDevices", strconv.FormatBool(*forgetDevices))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// rawRequest writes a request as the SDK's transport does.
func rawRequest(method, target string, head []string, body []byte) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: okta.test\r\n")
	for _, h := range head {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}

// withCookie replaces the Authorization line with a session cookie, as a
// caller who adds the cookie by hand and leaves the SDK's token out does.
func withCookie(head []string, cookie string) []string {
	out := make([]string, 0, len(head))
	for _, h := range head {
		if strings.HasPrefix(h, "Authorization:") {
			h = "Cookie: " + cookie
		}
		out = append(out, h)
	}
	return out
}

// TestSDKWireMatchesResearch pins the rendered requests to the research
// file's text (7.1): R1 of Python v3 in full, the R2 request lines, the R3
// paths, and the R4 bodies with their Content-Length.
func TestSDKWireMatchesResearch(t *testing.T) {
	wires := map[string]sdkWire{}
	for _, w := range sdkWires() {
		wires[w.name] = w
	}
	const token, user, login = "00TESTTOKEN", "00u1abcDEF2ghi3JKL4", "a.b+c@example.com"
	tr, fa := true, false

	got := rawRequest("DELETE", wires["Python v3.4.4"].revokeTarget(user, nil, nil), wires["Python v3.4.4"].head(token, false, nil), nil)
	want := "DELETE /api/v1/users/00u1abcDEF2ghi3JKL4/sessions HTTP/1.1\r\nHost: okta.test\r\nAccept: application/json\r\n" +
		"User-Agent: OpenAPI-Generator/1.0.0/python\r\nAuthorization: SSWS00TESTTOKEN\r\nContent-Length: 0\r\n\r\n"
	if got != want {
		t.Errorf("Python v3.4.4 R1:\n%q\nwant\n%q", got, want)
	}

	for name, want := range map[string]string{
		"Python v3.4.4":                  "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true&forgetDevices=false",
		"Java":                           "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true&forgetDevices=false",
		".NET v10.0.3":                   "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true&forgetDevices=false",
		"Node 8.2.0":                     "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true&forgetDevices=false",
		"Go v6.1.5":                      "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?forgetDevices=false&oauthTokens=true",
		".NET v9.2.3 (v7.0.0 to v9.2.3)": "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true",
		"Go v5.0.6":                      "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true",
		"Node 7.3.0":                     "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions?oauthTokens=true",
	} {
		if got := wires[name].revokeTarget(user, &tr, &fa); got != want {
			t.Errorf("%s R2: %s, want %s", name, got, want)
		}
	}
	if got := wires["Python 2.9.13"].revokeTarget(user, &tr, nil); got != "/api/v1/users/00u1abcDEF2ghi3JKL4/sessions/?oauthTokens=True" {
		t.Errorf("Python 2.9.13 R2: %s", got)
	}

	for name, want := range map[string]string{
		"Python v3.4.4": "/api/v1/users/a.b%2Bc%40example.com/sessions",
		"Java":          "/api/v1/users/a.b%2Bc%40example.com/sessions",
		".NET v10.0.3":  "/api/v1/users/a.b%2Bc%40example.com/sessions",
		"Node 8.2.0":    "/api/v1/users/a.b%2Bc%40example.com/sessions",
		"Go v6.1.5":     "/api/v1/users/a.b+c@example.com/sessions",
		"Python 2.9.13": "/api/v1/users/a.b+c@example.com/sessions",
	} {
		if got := wires[name].revokeTarget(login, nil, nil); got != want {
			t.Errorf("%s R3: %s, want %s", name, got, want)
		}
	}

	for name, length := range map[string]string{"Java": "26", ".NET v10.0.3": "20", "Go v6.0.0": "21", "Node 8.2.0": "20"} {
		body := endCalls[name][0].body
		head := wires[name].head(token, true, body)
		if !slices.Contains(head, "Content-Length: "+length) || !slices.Contains(head, "Content-Type: application/json") {
			t.Errorf("%s R4: %q for body %q", name, head, body)
		}
	}
}
