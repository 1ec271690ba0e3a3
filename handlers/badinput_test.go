package handlers_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// Cookie keys of the bad-input server: the current pair signs new cookies,
// the previous pair is still accepted (a rotation in progress), and the
// retired pair was dropped, so its cookies must not work any more.
var (
	curHashKey      = bytes.Repeat([]byte("c"), 32)
	curBlockKey     = bytes.Repeat([]byte("C"), 16)
	prevHashKey     = bytes.Repeat([]byte("p"), 32)
	prevBlockKey    = bytes.Repeat([]byte("P"), 16)
	retiredHashKey  = bytes.Repeat([]byte("r"), 32)
	retiredBlockKey = bytes.Repeat([]byte("R"), 16)
)

// knownUsers is what the app's user lookup knows. erin exists but has no
// session, so a valid revocation of her sessions revokes nothing.
var knownUsers = map[string]bool{"alice": true, "bob": true, adminUser: true, "carol@example.com": true, "erin": true}

// sessionUsers are the users who hold sessions in the bad-input server.
var sessionUsers = []string{"alice", "bob", adminUser, "carol@example.com"}

// newBadInputEnv is the standard env (alice: a1, a2; bob: b1; root, an
// admin: r1) plus a session of carol@example.com, with a user lookup,
// rotated cookie keys and an OAuth token revoker, served the way an app
// serves it: Mount on its own ServeMux, on 127.0.0.1. Its client does not
// follow redirects, so a redirect is seen as what it is.
func newBadInputEnv(t *testing.T) (*env, *syncBuffer) {
	t.Helper()
	var e *env
	e = newEnvWith(t, envConfig{
		manager: []revoke.Option{
			revoke.WithCookieKeys(curHashKey, curBlockKey, prevHashKey, prevBlockKey),
			revoke.WithOAuthTokenRevoker(func(context.Context, string) error { e.oauth.Add(1); return nil }),
		},
		handlers: []handlers.Option{
			handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return knownUsers[id], nil }),
		},
	})
	e.login("carol@example.com")

	mux := http.NewServeMux()
	e.h.Mount(mux)
	serverLog := &syncBuffer{}
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(serverLog, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e.srv = srv
	return e, serverLog
}

// activeSessions returns the ids of every session of sessionUsers that the
// store holds as active.
func activeSessions(t *testing.T, e *env) []string {
	t.Helper()
	var ids []string
	now := time.Now()
	for _, u := range sessionUsers {
		ss, err := e.st.List(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.Active(now) {
				ids = append(ids, s.ID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// sealCookie builds a session cookie value the way securecookie does
// (base64url of "timestamp|base64url(AES-CTR(token))|HMAC-SHA256"), so that
// a test can sign with any key and any timestamp.
func sealCookie(name, token string, hashKey, blockKey []byte, timestamp int64) string {
	b := []byte(token)
	if blockKey != nil {
		block, err := aes.NewCipher(blockKey)
		if err != nil {
			panic(err)
		}
		iv := make([]byte, block.BlockSize())
		_, _ = rand.Read(iv)
		cipher.NewCTR(block, iv).XORKeyStream(b, b)
		b = append(iv, b...)
	}
	value := base64.URLEncoding.EncodeToString(b)
	mac := hmac.New(sha256.New, hashKey)
	fmt.Fprintf(mac, "%s|%d|%s", name, timestamp, value)
	return base64.URLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%s|%s", timestamp, value, mac.Sum(nil)))
}

// credInput is a credential-shaped bad input, sent to every route, and the
// answer each kind of route must give it. The inputs are built from the
// admin's session (r1), the most powerful one there is.
type credInput struct {
	name    string
	headers func(e *env) []string
	// Answers of the admin routes of the Okta family (RevokeUserSessions),
	// of its cookie-only route (EndUserSessions), of the Kratos family and
	// of the admin family. A Kratos code is the error id, when it has one.
	oktaAdmin, oktaCookie, kratos, admin answer
}

type answer struct {
	status int
	code   string
}

var (
	oktaNoToken       = answer{401, "E0000011"}
	oktaNoSession     = answer{403, "E0000005"}
	oktaTokenRefused  = answer{403, "E0000006"}
	kratosNoSession   = answer{401, "session_inactive"}
	kratosBadToken    = answer{400, ""}
	adminNoCredential = answer{401, "ADMIN_SESSION_INVALID"}
)

// withCookie returns headers carrying one session cookie whose value is
// made by value.
func withCookie(value func(e *env) string) func(e *env) []string {
	return func(e *env) []string { return []string{"Cookie", e.m.CookieName() + "=" + value(e)} }
}

func credInputs() []credInput {
	anonymous := func(name string, headers func(e *env) []string) credInput {
		return credInput{name, headers, oktaNoToken, oktaNoSession, kratosNoSession, adminNoCredential}
	}
	badToken := func(name string, headers func(e *env) []string) credInput {
		return credInput{name, headers, oktaNoToken, oktaTokenRefused, kratosBadToken, adminNoCredential}
	}
	tokenRefused := func(name string, headers func(e *env) []string) credInput {
		return credInput{name, headers, oktaNoToken, oktaTokenRefused, kratosNoSession, adminNoCredential}
	}
	h := func(kv ...string) func(*env) []string { return func(*env) []string { return kv } }
	bigToken := strings.Repeat("A", 10<<10)
	now := func() int64 { return time.Now().Unix() }
	return []credInput{
		anonymous("no credentials", h()),
		tokenRefused("Authorization repeated", h("Authorization", "SSWS "+adminToken, "Authorization", "SSWS "+adminToken)),
		tokenRefused("Authorization scheme without a token", h("Authorization", "SSWS")),
		tokenRefused("Authorization bearer 10 KB long", h("Authorization", "Bearer "+bigToken)),
		tokenRefused("Authorization empty", h("Authorization", "")),
		anonymous("Authorization Basic", h("Authorization", "Basic YWRtaW46YWRtaW4=")),
		badToken("X-Session-Token repeated", func(e *env) []string {
			return []string{"X-Session-Token", e.r1.token, "X-Session-Token", e.r1.token}
		}),
		badToken("X-Session-Token 10 KB long", h("X-Session-Token", bigToken)),
		badToken("X-Session-Token empty", h("X-Session-Token", "")),
		badToken("X-Session-Token with the token and a space", func(e *env) []string {
			return []string{"X-Session-Token", e.r1.token + " x"}
		}),
		// A cookie value is base64url too, and short enough: a well-formed
		// token that no session has.
		tokenRefused("X-Session-Token carrying the signed cookie", func(e *env) []string {
			_, value, _ := strings.Cut(e.cookie(e.r1.token), "=")
			return []string{"X-Session-Token", value}
		}),
		credInput{"X-Session-Token well-formed but unknown", h("X-Session-Token", strings.Repeat("A", 32)),
			oktaNoToken, oktaTokenRefused, kratosNoSession, adminNoCredential},
		credInput{"X-Session-Token of an expired session", func(e *env) []string {
			return []string{"X-Session-Token", e.expired(adminUser).token}
		}, oktaNoToken, oktaTokenRefused, kratosNoSession, adminNoCredential},
		anonymous("giant Cookie header without a session cookie", func(*env) []string {
			var b strings.Builder
			for i := range 2000 {
				fmt.Fprintf(&b, "c%d=%s; ", i, strings.Repeat("v", 24))
			}
			return []string{"Cookie", b.String()}
		}),
		anonymous("forged session cookie", withCookie(func(*env) string { return "forged" })),
		anonymous("session cookie 8 KB long", withCookie(func(*env) string { return strings.Repeat("A", 8<<10) })),
		anonymous("session cookie holding the bare token", withCookie(func(e *env) string { return e.r1.token })),
		anonymous("session cookie signed with an unknown key", withCookie(func(e *env) string {
			return sealCookie(e.m.CookieName(), e.r1.token, bytes.Repeat([]byte("x"), 32), curBlockKey, now())
		})),
		anonymous("session cookie signed with a retired key", withCookie(func(e *env) string {
			// Issued by the deployment that still used the retired key.
			cookie := revoke.DefaultCookie()
			cookie.Secure = false
			old, err := revoke.New(e.st, revoke.WithCookieKeys(retiredHashKey, retiredBlockKey), revoke.WithCookie(cookie))
			if err != nil {
				e.t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			if err := old.SetCookie(rec, e.r1.token, time.Now().Add(time.Hour)); err != nil {
				e.t.Fatal(err)
			}
			return rec.Result().Cookies()[0].Value
		})),
		anonymous("session cookie with one character changed", withCookie(func(e *env) string {
			_, v, _ := strings.Cut(e.cookie(e.r1.token), "=")
			b := []byte(v)
			i := len(b) / 2
			b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
			return string(b)
		})),
		anonymous("session cookie cut short", withCookie(func(e *env) string {
			_, v, _ := strings.Cut(e.cookie(e.r1.token), "=")
			return v[:len(v)-4]
		})),
		anonymous("session cookie signed longer ago than the lifetime", withCookie(func(e *env) string {
			old := time.Now().Add(-revoke.DefaultLifetime - time.Hour).Unix()
			return sealCookie(e.m.CookieName(), e.r1.token, curHashKey, curBlockKey, old)
		})),
		anonymous("session cookie of an expired session", withCookie(func(e *env) string {
			_, v, _ := strings.Cut(e.cookie(e.expired(adminUser).token), "=")
			return v
		})),
		anonymous("session cookie signed for another cookie name", withCookie(func(e *env) string {
			return sealCookie("other_cookie", e.r1.token, curHashKey, curBlockKey, now())
		})),
		anonymous("genuine cookie under another name", func(e *env) []string {
			_, v, _ := strings.Cut(e.cookie(e.r1.token), "=")
			return []string{"Cookie", "revoke_session_x=" + v}
		}),
		// A forged cookie placed before a genuine one does not hide it (see
		// the root package's cookie tests), so only forged ones are bad.
		anonymous("two forged session cookies", func(e *env) []string {
			return []string{"Cookie", e.m.CookieName() + "=forged; " + e.m.CookieName() + "=forged-too"}
		}),
	}
}

// badInput is one request that must be refused, and how.
type badInput struct {
	name    string
	method  string
	path    string // {a1}, {a2}, {b1}, {r1} stand for those sessions' ids
	body    string
	headers func(e *env) []string
	status  int
	// code is the Okta errorCode, the Kratos error id (when it has one) or
	// the admin code.
	code string
	// allow is the Allow header of a 405, as a comma-separated set.
	allow string
	// notOurs marks an answer that net/http or the ServeMux gives before
	// any handler runs (a redirect to the cleaned path, a 404 for a path
	// that is no route, 431): it is in no family's shape.
	notOurs bool
}

// Concrete paths of the routes, naming alice and her session a2.
const (
	pOktaRevoke = "/api/v1/users/alice/sessions"
	pOktaEnd    = "/api/v1/users/me/lifecycle/delete_sessions"
	pKratos     = "/auth/sessions"
	pKratosOne  = "/auth/sessions/{a2}"
	pWhoAmI     = "/auth/sessions/whoami"
	pAdminUser  = "/auth/admin/api/users/alice/sessions"
)

// concretePath fills a route pattern with alice and her session a2.
func concretePath(pattern string) string {
	return strings.NewReplacer("{userId}", "alice", "{sessionId}", "{a2}",
		"/auth/sessions/{id}", pKratosOne, "users/{id}", "users/alice").Replace(pattern)
}

// familyOfPath returns the family whose prefix is the longest that p lies
// under, as Mount routes it.
func familyOfPath(p string) handlers.Family {
	var fam handlers.Family
	longest := 0
	for _, f := range handlers.Families() {
		for _, prefix := range handlers.DocOf(f).Prefixes {
			if strings.HasPrefix(p, prefix) && len(prefix) > longest {
				fam, longest = f, len(prefix)
			}
		}
	}
	return fam
}

// credentialsFor returns credentials the route accepts, so that a case
// fails for its input alone: the admin token, or for the user routes a
// session of alice's.
func credentialsFor(rt handlers.Route) func(e *env) []string {
	switch {
	case rt.Name == "EndUserSessions":
		return func(e *env) []string {
			return []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "same-origin"}
		}
	case rt.Family == handlers.FamilyKratos:
		return func(e *env) []string { return []string{"X-Session-Token", e.a1.token} }
	}
	return func(*env) []string { return []string{"Authorization", "SSWS " + adminToken} }
}

// wrongMethodInputs sends every route's path each method it does not
// serve, with credentials the route accepts.
func wrongMethodInputs() []badInput {
	allowed := map[string][]string{}
	var paths []string
	creds := map[string]func(e *env) []string{}
	for _, rt := range handlers.Routes() {
		p := concretePath(rt.Pattern)
		if _, ok := allowed[p]; !ok {
			paths = append(paths, p)
			creds[p] = credentialsFor(rt)
		}
		allowed[p] = append(allowed[p], rt.Method)
		if rt.Method == http.MethodGet {
			allowed[p] = append(allowed[p], http.MethodHead)
		}
	}
	// The Okta routes' paths with a trailing slash are the same routes.
	for _, rt := range handlers.Routes() {
		if rt.Family != handlers.FamilyOkta {
			continue
		}
		p := concretePath(rt.Pattern)
		slashed := p + "/"
		if _, ok := allowed[slashed]; !ok {
			paths = append(paths, slashed)
			creds[slashed] = creds[p]
		}
		allowed[slashed] = append(allowed[slashed], rt.Method)
	}
	codes := map[handlers.Family]string{handlers.FamilyOkta: "E0000022", handlers.FamilyAdmin: "METHOD_NOT_ALLOWED",
		handlers.FamilyOIDC: "invalid_request", handlers.FamilySSF: "invalid_request"}
	var out []badInput
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "delete", "BREW"} {
			// DELETE on whoami answers whoami, as Kratos does.
			if slices.Contains(allowed[p], m) || (p == pWhoAmI && m == "DELETE") {
				continue
			}
			out = append(out, badInput{
				name: "method " + m + " on " + p, method: m, path: p, headers: creds[p],
				status: 405, code: codes[familyOfPath(p)], allow: strings.Join(allowed[p], ", "),
			})
		}
	}
	return out
}

// credentialInputs sends every credential input to every route.
func credentialInputs() []badInput {
	var out []badInput
	for _, in := range credInputs() {
		for _, rt := range handlers.Routes() {
			want := in.admin
			switch {
			case rt.Name == "EndUserSessions":
				want = in.oktaCookie
			case rt.Family == handlers.FamilyOkta:
				want = in.oktaAdmin
			case rt.Family == handlers.FamilyKratos:
				want = in.kratos
			case rt.Family == handlers.FamilyOIDC, rt.Family == handlers.FamilySSF:
				want = answer{400, "invalid_request"} // no logout token or SET, whatever the credentials
			}
			out = append(out, badInput{
				name: in.name + " to " + rt.Method + " " + rt.Pattern, method: rt.Method, path: concretePath(rt.Pattern),
				headers: in.headers, status: want.status, code: want.code,
			})
		}
	}
	return out
}

// endpointInputs are the inputs that belong to one route: query
// parameters, bodies, content types, ids and path tricks.
func endpointInputs() []badInput {
	admin := func(*env) []string { return []string{"Authorization", "SSWS " + adminToken} }
	alice := func(e *env) []string { return []string{"X-Session-Token", e.a1.token} }
	aliceCookie := func(contentType ...string) func(e *env) []string {
		return func(e *env) []string {
			h := []string{"Cookie", e.cookie(e.a1.token), "Sec-Fetch-Site", "same-origin"}
			for _, ct := range contentType {
				h = append(h, "Content-Type", ct)
			}
			return h
		}
	}
	jsonCookie := aliceCookie("application/json")
	okta := func(name, query string) badInput {
		return badInput{name: name, method: "DELETE", path: pOktaRevoke + "?" + query, headers: admin, status: 400, code: "E0000001"}
	}
	body := func(name, b string, code string) badInput {
		return badInput{name: name, method: "POST", path: pOktaEnd, body: b, headers: jsonCookie, status: 400, code: code}
	}
	deep := strings.Repeat("[", 2000) + strings.Repeat("]", 2000)
	id128 := strings.Repeat("u", 128)
	id129 := strings.Repeat("u", 129)
	odd := []struct{ name, id string }{
		{"unicode", "%C3%A5lice"},
		{"Cyrillic look-alike", "%D0%B0lice"},
		{"encoded slash", "al%2Fice"},
		{"encoded ../", "..%2Falice"},
		{"NUL", "alice%00"},
		{"CR LF", "alice%0D%0AX-Injected:%201"},
		{"129 bytes", id129},
		{"SQL-looking", "1'%20OR%20'1'='1"},
		{"SQL comment", "alice'--"},
		{"wildcard", "*"},
	}
	var out []badInput
	add := func(in ...badInput) { out = append(out, in...) }

	// Query parameters of RevokeUserSessions: true or false in any case,
	// once; anything else is 400 E0000001 naming the parameter.
	add(
		okta("oauthTokens=yes", "oauthTokens=yes"),
		okta("oauthTokens=1", "oauthTokens=1"),
		okta("oauthTokens= (empty)", "oauthTokens="),
		okta("oauthTokens without =", "oauthTokens"),
		okta("oauthTokens==true", "oauthTokens==true"),
		okta("oauthTokens with a leading space", "oauthTokens=%20true"),
		okta("oauthTokens with NUL", "oauthTokens=tru%00e"),
		okta("oauthTokens repeated, same value", "oauthTokens=true&oauthTokens=true"),
		okta("oauthTokens repeated, different values", "oauthTokens=false&oauthTokens=true"),
		okta("forgetDevices=no", "forgetDevices=no"),
		okta("forgetDevices=false; (semicolon)", "forgetDevices=false;"),
		okta("forgetDevices;oauthTokens=true (semicolon separator)", "forgetDevices=false;oauthTokens=true"),
		okta("forgetDevices with a bad escape", "forgetDevices=%ZZ"),
		okta("oauthTokens 10 KB long", "oauthTokens="+strings.Repeat("t", 10<<10)),
		badInput{name: "oauthTokens=yes for an unknown user", method: "DELETE", path: "/api/v1/users/nobody/sessions?oauthTokens=yes",
			headers: admin, status: 400, code: "E0000001"},
		badInput{name: "oauthTokens=TRUE for a user without sessions is fine", method: "DELETE",
			path: "/api/v1/users/erin/sessions?oauthTokens=TRUE&forgetDevices=False", headers: admin, status: 204},
		badInput{name: "admin list active=yes", method: "GET", path: pAdminUser + "?active=yes", headers: admin,
			status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "admin list active=true; (semicolon)", method: "GET", path: pAdminUser + "?active=true;", headers: admin,
			status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "admin list active repeated", method: "GET", path: pAdminUser + "?active=true&active=false", headers: admin,
			status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "admin list active with a bad escape", method: "GET", path: pAdminUser + "?active=%zz", headers: admin,
			status: 400, code: "VALIDATION_FAILED"},
	)

	// The body of EndUserSessions: nothing, or {"keepCurrent": bool}.
	add(
		body("truncated JSON", `{"keepCurrent":`, "E0000003"),
		body("unterminated object", `{"keepCurrent":false`, "E0000003"),
		body("trailing garbage", `{"keepCurrent":false}garbage`, "E0000003"),
		body("two documents", `{"keepCurrent":true}{"keepCurrent":false}`, "E0000003"),
		body("trailing comma", `{"keepCurrent":false,}`, "E0000003"),
		body("single quotes", `{'keepCurrent':false}`, "E0000003"),
		body("a comment", `{"keepCurrent":false /* all */}`, "E0000003"),
		body("NaN", `{"keepCurrent":NaN}`, "E0000003"),
		body("a literal in the wrong case", `{"keepCurrent":FALSE}`, "E0000003"),
		body("a byte order mark", "\ufeff{\"keepCurrent\":false}", "E0000003"),
		body("NUL bytes", "\x00\x00\x00", "E0000003"),
		body("a no-break space (not JSON whitespace)", "\u00a0", "E0000003"),
		body("a next-line character (not JSON whitespace)", "\u0085", "E0000003"),
		body("an array", `[{"keepCurrent":false}]`, "E0000003"),
		body("a string", `"keepCurrent"`, "E0000003"),
		body("a boolean", `false`, "E0000003"),
		body("2000-deep nesting", deep, "E0000003"),
		body("unbalanced deep nesting", `{"keepCurrent":false,"x":`+strings.Repeat(`{"x":`, 800), "E0000003"),
		body(`keepCurrent "true" (a string)`, `{"keepCurrent":"true"}`, "E0000001"),
		body(`keepCurrent "false" (a string)`, `{"keepCurrent":"false"}`, "E0000001"),
		body("keepCurrent 0", `{"keepCurrent":0}`, "E0000001"),
		body("keepCurrent 1", `{"keepCurrent":1}`, "E0000001"),
		body("keepCurrent empty string", `{"keepCurrent":""}`, "E0000001"),
		body("keepCurrent an array", `{"keepCurrent":[false]}`, "E0000001"),
		body("keepCurrent an object", `{"keepCurrent":{"value":false}}`, "E0000001"),
		body("keepCurrent 2000-deep nesting", `{"keepCurrent":`+deep+`}`, "E0000001"),
		body("4 KB + 1 byte", `{"keepCurrent":false,"pad":"`+strings.Repeat("x", 4097-len(`{"keepCurrent":false,"pad":""}`))+`"}`, "E0000003"),
		body("1 MB", `{"keepCurrent":false,"pad":"`+strings.Repeat("x", 1<<20)+`"}`, "E0000003"),
	)

	// Content types: JSON is read only from a body that says it is JSON
	// (or says nothing).
	ct := func(name, contentType, b string) badInput {
		return badInput{name: name, method: "POST", path: pOktaEnd, body: b, headers: aliceCookie(contentType), status: 400, code: "E0000003"}
	}
	add(
		ct("text/plain JSON", "text/plain", `{"keepCurrent":false}`),
		ct("text/plain;charset=UTF-8 JSON", "text/plain;charset=UTF-8", `{"keepCurrent":false}`),
		ct("multipart form", "multipart/form-data; boundary=XyZ",
			"--XyZ\r\nContent-Disposition: form-data; name=\"keepCurrent\"\r\n\r\nfalse\r\n--XyZ--\r\n"),
		ct("urlencoded form", "application/x-www-form-urlencoded", "keepCurrent=false"),
		ct("urlencoded JSON", "application/x-www-form-urlencoded", `{"keepCurrent":false}`),
		ct("malformed Content-Type", "application/json; charset", `{"keepCurrent":false}`),
		badInput{name: "two Content-Type headers", method: "POST", path: pOktaEnd, body: `{"keepCurrent":false}`,
			headers: aliceCookie("application/json", "text/plain"), status: 400, code: "E0000003"},
	)

	// Ids with odd characters, in every route that takes one. The Okta
	// route answers an id that cannot exist as an unknown user, as Okta
	// does; the others refuse it as invalid.
	for _, o := range odd {
		add(
			badInput{name: "user id " + o.name + " to revoke user sessions", method: "DELETE",
				path: "/api/v1/users/" + o.id + "/sessions", headers: admin, status: 404, code: "E0000007"},
			badInput{name: "session id " + o.name + " to disable my session", method: "DELETE",
				path: "/auth/sessions/" + o.id, headers: alice, status: 400},
			badInput{name: "user id " + o.name + " to admin revoke session", method: "DELETE",
				path: "/auth/admin/api/users/" + o.id + "/sessions/{a2}", headers: admin, status: 400, code: "VALIDATION_FAILED"},
			badInput{name: "session id " + o.name + " to admin revoke session", method: "DELETE",
				path: "/auth/admin/api/users/alice/sessions/" + o.id, headers: admin, status: 400, code: "VALIDATION_FAILED"},
			badInput{name: "user id " + o.name + " to admin list", method: "GET",
				path: "/auth/admin/api/users/" + o.id + "/sessions", headers: admin, status: 400, code: "VALIDATION_FAILED"},
			badInput{name: "user id " + o.name + " to admin revoke all", method: "DELETE",
				path: "/auth/admin/api/users/" + o.id + "/sessions", headers: admin, status: 400, code: "VALIDATION_FAILED"},
		)
	}
	// An empty last id: refused in the family's shape, and only after the
	// credentials.
	add(
		badInput{name: "empty session id (trailing slash) to disable my session", method: "DELETE", path: "/auth/sessions/",
			headers: alice, status: 400},
		badInput{name: "empty session id (trailing slash) to disable my session, no credentials", method: "DELETE",
			path: "/auth/sessions/", status: 401, code: "session_inactive"},
		badInput{name: "empty session id (trailing slash), method GET", method: "GET", path: "/auth/sessions/",
			headers: alice, status: 405, allow: "DELETE"},
		badInput{name: "empty session id (trailing slash) to admin revoke session", method: "DELETE",
			path: "/auth/admin/api/users/alice/sessions/", headers: admin, status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "empty session id (trailing slash) to admin revoke session, no credentials", method: "DELETE",
			path: "/auth/admin/api/users/alice/sessions/", status: 401, code: "ADMIN_SESSION_INVALID"},
		badInput{name: "empty session id (trailing slash) to admin revoke session, method POST", method: "POST",
			path: "/auth/admin/api/users/alice/sessions/", headers: admin, status: 405, code: "METHOD_NOT_ALLOWED", allow: "DELETE"},
	)

	// Ids that are well-formed but name nothing that may be revoked.
	add(
		badInput{name: "user id 128 bytes, unknown", method: "DELETE", path: "/api/v1/users/" + id128 + "/sessions",
			headers: admin, status: 404, code: "E0000007"},
		badInput{name: "user id %2E%2E (..)", method: "DELETE", path: "/api/v1/users/%2E%2E/sessions",
			headers: admin, status: 404, code: "E0000007"},
		badInput{name: "user id me", method: "DELETE", path: "/api/v1/users/me/sessions",
			headers: admin, status: 404, code: "E0000007"},
		badInput{name: "user id in another case", method: "DELETE", path: "/api/v1/users/ALICE/sessions",
			headers: admin, status: 404, code: "E0000007"},
		badInput{name: "session id %2E%2E (..) to disable my session", method: "DELETE", path: "/auth/sessions/%2E%2E",
			headers: alice, status: 404},
		badInput{name: "session id 128 bytes, unknown, to disable my session", method: "DELETE", path: "/auth/sessions/" + id128,
			headers: alice, status: 404},
		badInput{name: "another user's session id to disable my session", method: "DELETE", path: "/auth/sessions/{b1}",
			headers: alice, status: 404},
		badInput{name: "my current session id to disable my session", method: "DELETE", path: "/auth/sessions/{a1}",
			headers: alice, status: 400},
		badInput{name: "admin revoke session: user id %2E%2E (..)", method: "DELETE", path: "/auth/admin/api/users/%2E%2E/sessions/{a2}",
			headers: admin, status: 404, code: "USER_NOT_FOUND"},
		badInput{name: "admin revoke session: user id in another case", method: "DELETE", path: "/auth/admin/api/users/ALICE/sessions/{a2}",
			headers: admin, status: 404, code: "USER_NOT_FOUND"},
		badInput{name: "admin revoke session: session id %2E%2E (..)", method: "DELETE", path: "/auth/admin/api/users/alice/sessions/%2E%2E",
			headers: admin, status: 404, code: "SESSION_NOT_FOUND"},
		badInput{name: "admin revoke session: session id 128 bytes, unknown", method: "DELETE", path: "/auth/admin/api/users/alice/sessions/" + id128,
			headers: admin, status: 404, code: "SESSION_NOT_FOUND"},
		badInput{name: "admin revoke session: another user's session", method: "DELETE", path: "/auth/admin/api/users/alice/sessions/{b1}",
			headers: admin, status: 404, code: "SESSION_NOT_FOUND"},
		badInput{name: "admin revoke session: alice's session under bob", method: "DELETE", path: "/auth/admin/api/users/bob/sessions/{a2}",
			headers: admin, status: 404, code: "SESSION_NOT_FOUND"},
		badInput{name: "admin revoke session: a session id with ../ into another user", method: "DELETE",
			path: "/auth/admin/api/users/alice/sessions/..%2F..%2Fbob%2Fsessions%2F{b1}", headers: admin, status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "admin revoke all: known user without sessions is fine", method: "DELETE", path: "/auth/admin/api/users/erin/sessions",
			headers: admin, status: 200},
		badInput{name: "admin revoke all: unknown user", method: "DELETE", path: "/auth/admin/api/users/nobody/sessions",
			headers: admin, status: 404, code: "USER_NOT_FOUND"},
	)

	// Path tricks. The ServeMux redirects a path with // or dot segments
	// to its cleaned form (307, which this client does not follow), before
	// any handler. A path under a family's prefix that is no route gets
	// 404 in the family's shape; only one outside every prefix gets the
	// ServeMux's own 404.
	moved := func(name, method, p string, headers func(*env) []string) badInput {
		return badInput{name: name, method: method, path: p, headers: headers, status: http.StatusTemporaryRedirect, notOurs: true}
	}
	none := func(name, method, p string, headers func(*env) []string) badInput {
		return badInput{name: name, method: method, path: p, headers: headers, status: 404, notOurs: true}
	}
	noRoute := func(name, method, p string, headers func(*env) []string) badInput {
		codes := map[handlers.Family]string{handlers.FamilyOkta: "E0000007", handlers.FamilyAdmin: "ROUTE_NOT_FOUND"}
		return badInput{name: name, method: method, path: p, headers: headers, status: 404, code: codes[familyOfPath(p)]}
	}
	add(
		moved("leading double slash", "DELETE", "/"+pOktaRevoke, admin),
		moved("double slash inside", "DELETE", "/api/v1/users/alice//sessions", admin),
		moved("dot segment", "DELETE", "/api/v1/users/./alice/sessions", admin),
		moved("dot-dot segment into another user", "DELETE", "/api/v1/users/bob/../alice/sessions", admin),
		moved("dot-dot segment as a session id", "DELETE", "/auth/admin/api/users/alice/sessions/..", admin),
		moved("dot segment as my session id", "DELETE", "/auth/sessions/.", alice),
		moved("double slash before the session id", "DELETE", "/auth/admin/api/users/alice/sessions//{a2}", admin),
		moved("double slash in the cookie route", "POST", "/api/v1/users/me/lifecycle//delete_sessions", jsonCookie),
		none("encoded slash between literal segments", "DELETE", "/auth%2Fsessions", alice),
		none("path in upper case", "DELETE", "/API/V1/users/alice/sessions", admin),
		noRoute("encoded slash joining id and literal", "DELETE", "/auth/admin/api/users/alice%2Fsessions", admin),
		noRoute("path parameter after the literal", "DELETE", pOktaRevoke+";jsessionid=1", admin),
		noRoute("encoded question mark in the literal", "DELETE", pOktaRevoke+"%3F", admin),
		noRoute("extra segment", "DELETE", "/auth/admin/api/users/alice/sessions/{a2}/x", admin),
		moved("two trailing slashes", "DELETE", pOktaRevoke+"//", admin),
		noRoute("segment after the trailing slash", "DELETE", pOktaRevoke+"/x", admin),
		// The ServeMux takes a segment of exactly %2F for a trailing slash,
		// which no wildcard matches.
		noRoute("user id exactly %2F to revoke user sessions", "DELETE", "/api/v1/users/%2F/sessions", admin),
		noRoute("user id exactly %2F to admin revoke all", "DELETE", "/auth/admin/api/users/%2F/sessions", admin),
		badInput{name: "session id exactly %2F to admin revoke session", method: "DELETE",
			path: "/auth/admin/api/users/alice/sessions/%2F", headers: admin, status: 400, code: "VALIDATION_FAILED"},
		badInput{name: "session id exactly %2F to disable my session", method: "DELETE",
			path: "/auth/sessions/%2F", headers: alice, status: 400},
	)
	// Paths under each family's prefix that are no route, with and
	// without credentials and with several methods.
	for _, p := range []string{
		"/api/v1/", "/api/v1/users", "/api/v1/users/alice", "/api/v1/users/alice/sessions/" + "{a2}",
		"/api/v1/users/me/lifecycle", "/api/v1/users/me/lifecycle/delete_sessions/x", "/api/v1/groups/g1/users",
		"/auth/", "/auth/nothing", "/auth/sessions/whoami/", "/auth/sessions/{a2}/x", "/auth/self-service/logout",
		"/auth/admin/", "/auth/admin/api/users", "/auth/admin/api/users/alice", "/auth/admin/api/users/alice/x",
	} {
		creds := admin
		if familyOfPath(p) == handlers.FamilyKratos {
			creds = alice
		}
		add(
			noRoute("no route "+p, "GET", p, creds),
			noRoute("no route "+p+", DELETE, no credentials", "DELETE", p, nil),
			noRoute("no route "+p+", POST", "POST", p, creds),
		)
	}

	// Headers no handler sees: net/http refuses a header block over its
	// limit (1 MB and some slack) itself, credentials and all.
	add(
		badInput{name: "Cookie header over the server's header limit", method: "DELETE", path: pKratos,
			headers: func(e *env) []string {
				return []string{"X-Session-Token", e.a1.token, "Cookie", "c=" + strings.Repeat("v", 2<<20)}
			}, status: 431, notOurs: true},
		badInput{name: "X-Request-Id 10 KB long", method: "GET", path: pWhoAmI,
			headers: func(*env) []string { return []string{"X-Request-Id", strings.Repeat("r", 10<<10)} },
			status:  401, code: "session_inactive"},
	)

	// Cookies the rotation still accepts: they work, so these are the
	// controls of the cookie inputs above (on a read, which revokes
	// nothing).
	add(
		badInput{name: "session cookie signed with the current key is fine", method: "GET", path: pWhoAmI,
			headers: withCookie(func(e *env) string {
				return sealCookie(e.m.CookieName(), e.a1.token, curHashKey, curBlockKey, time.Now().Unix())
			}), status: 200},
		badInput{name: "session cookie signed with the previous key is fine", method: "GET", path: pWhoAmI,
			headers: withCookie(func(e *env) string {
				return sealCookie(e.m.CookieName(), e.a1.token, prevHashKey, prevBlockKey, time.Now().Unix())
			}), status: 200},
	)
	return out
}

// TestBadInput sends each bad input over HTTP to the mounted handlers. Each
// must get its family's 4xx (never a 5xx), and revoke nothing: every
// session of every user is still active afterwards.
func TestBadInput(t *testing.T) {
	var cases []badInput
	cases = append(cases, wrongMethodInputs()...)
	cases = append(cases, credentialInputs()...)
	cases = append(cases, endpointInputs()...)
	t.Logf("%d bad inputs", len(cases))

	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("two cases are named %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			e, serverLog := newBadInputEnv(t)
			var headers []string
			if tc.headers != nil {
				headers = tc.headers(e)
			}
			path := strings.NewReplacer("{a1}", e.a1.ID, "{a2}", e.a2.ID, "{b1}", e.b1.ID, "{r1}", e.r1.ID).Replace(tc.path)
			before := activeSessions(t, e)
			is.Equal(len(before), 5) // every fixture session is active to begin with

			r := e.do(tc.method, path, tc.body, headers...)

			if r.StatusCode >= 500 {
				t.Fatalf("%s %s: %d %s", tc.method, path, r.StatusCode, r.body)
			}
			is.Equal(r.StatusCode, tc.status) // status
			switch {
			case tc.notOurs:
				if tc.status == http.StatusTemporaryRedirect {
					loc, err := url.Parse(r.Header.Get("Location"))
					is.NoErr(err)
					is.True(!strings.Contains(loc.Path, "//") && !strings.Contains(loc.Path, "/.")) // redirected to the cleaned path
				}
			case tc.status >= 400:
				checkFamilyError(t, familyOfPath(tc.path), tc.method, r, tc.status, tc.code)
			}
			if tc.allow != "" {
				got := strings.Split(r.Header.Get("Allow"), ", ")
				want := strings.Split(tc.allow, ", ")
				slices.Sort(got)
				slices.Sort(want)
				is.Equal(got, want) // Allow
			}
			is.Equal(activeSessions(t, e), before) // nothing revoked
			if tc.status >= 300 {
				is.Equal(e.oauth.Load(), int64(0)) // no OAuth token revoked
				is.Equal(e.forgt.Load(), int64(0)) // no device forgotten
			}
			is.True(!strings.Contains(serverLog.String(), "panic")) // no handler panicked
		})
	}
}

// checkFamilyError asserts an error answer in the family's shape. A HEAD
// answer has no body to check.
func checkFamilyError(t *testing.T, fam handlers.Family, method string, r response, status int, code string) {
	t.Helper()
	if method == http.MethodHead {
		is.New(t).True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
		return
	}
	switch fam {
	case handlers.FamilyOkta:
		checkOkta(t, r, status, code)
	case handlers.FamilyOIDC:
		checkOAuth(t, r, status, code)
	case handlers.FamilySSF:
		checkSSF(t, r, status, code)
	case handlers.FamilyKratos:
		v := checkKratos(t, r, status)
		if code != "" {
			is.New(t).Equal(v["id"], code) // Kratos error id
		}
	case handlers.FamilyAdmin:
		checkAdmin(t, r, status, code)
	default:
		t.Fatalf("checkFamilyError knows no error shape of family %q: add its check", fam)
	}
}
