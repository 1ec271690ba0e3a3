package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
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
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// The fuzz targets serve requests in process (parsed from wire text by
// http.ReadRequest, as the server parses them) against a fresh store for
// every input, holding sessions with fixed ids and tokens so that a seed
// means the same in every fuzzing process.
type fzSession struct{ id, user, token string }

var fzSessions = []fzSession{
	{"a1", "alice", "fuzzAliceOneToken_0123456789-abcd"},
	{"a2", "alice", "fuzzAliceTwoToken_0123456789-abcd"},
	{"b1", "bob", "fuzzBobOneToken_0123456789-abcdef"},
	{"r1", adminUser, "fuzzRootOneToken_0123456789-abcde"},
	{"c1", "carol@example.com", "fuzzCarolOneToken_0123456789-abcd"},
}

// swapStore lets the fuzz world give the Manager a fresh store per input.
type swapStore struct{ store.SessionStore }

type fzWorld struct {
	st      *swapStore
	m       *revoke.Manager
	h       http.Handler
	cookie  string // Cookie header carrying a1's session
	oauth   int    // OAuth token revoker calls for the current input
	devices int    // device forgetter calls for the current input
}

func newFzWorld(t testing.TB) *fzWorld {
	t.Helper()
	w := &fzWorld{st: &swapStore{memstore.New()}}
	cookie := revoke.DefaultCookie()
	cookie.Secure = false
	m, err := revoke.New(w.st,
		revoke.WithCookieKeys(curHashKey, curBlockKey, prevHashKey, prevBlockKey),
		revoke.WithCookie(cookie),
		revoke.WithOAuthTokenRevoker(func(context.Context, string) error { w.oauth++; return nil }),
		revoke.WithDeviceForgetter(func(context.Context, string) error { w.devices++; return nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	h, err := handlers.New(m,
		handlers.WithLogger(slog.New(slog.DiscardHandler)),
		handlers.WithoutRateLimit(),
		handlers.WithAdminTokens(adminToken),
		handlers.WithAdminSessions(func(_ context.Context, userID string) (bool, error) { return userID == adminUser, nil }),
		handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return knownUsers[id], nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	w.m, w.h = m, h.Handler()
	w.cookie = cookieHeader(t, m, fzSessions[0].token)
	return w
}

// reset gives the world a fresh store with every fixture session active.
func (w *fzWorld) reset(t *testing.T) {
	t.Helper()
	w.st.SessionStore = memstore.New()
	w.oauth, w.devices = 0, 0
	now := time.Now()
	for _, s := range fzSessions {
		err := w.st.Create(context.Background(), store.Session{
			ID: s.id, UserID: s.user, TokenHash: revoke.HashToken(s.token),
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// serve parses raw as the server would and serves it. ok is false when the
// server would refuse the text before any handler runs.
func (w *fzWorld) serve(t *testing.T, raw string) (r response, req *http.Request, ok bool) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return response{}, nil, false
	}
	req.RemoteAddr = "192.0.2.1:5555"
	w.reset(t)
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return response{rec.Result(), rec.Body.Bytes()}, req, true
}

// revoked returns the ids of the fixture sessions no longer active.
func (w *fzWorld) revoked(t *testing.T) []string {
	t.Helper()
	var ids []string
	now := time.Now()
	for _, s := range fzSessions {
		got, err := w.st.Get(context.Background(), s.id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Active(now) {
			ids = append(ids, s.id)
		}
	}
	return ids
}

func noServerError(t *testing.T, r response) {
	t.Helper()
	if r.StatusCode >= 500 {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
}

// keepCurrentDoc says what a body of EndUserSessions asks for, written from
// the contract rather than from the handler: nothing (only JSON
// whitespace), a JSON null, or a JSON object whose keepCurrent member, if any (the last
// one, as Okta's parser reads it), is true, false or null; at most 4 KiB;
// from a request whose one Content-Type, if any, is JSON. code is the Okta
// errorCode of a body that is not such a document.
func keepCurrentDoc(body []byte, contentTypes []string) (keep bool, code string) {
	const malformed, invalid = "E0000003", "E0000001"
	if len(body) > 4<<10 {
		return false, malformed
	}
	if len(bytes.Trim(body, " \t\r\n")) == 0 {
		return true, ""
	}
	if len(contentTypes) > 1 {
		return false, malformed
	}
	if len(contentTypes) == 1 {
		mt, _, err := mime.ParseMediaType(contentTypes[0])
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return false, malformed
		}
	}
	if string(bytes.Trim(body, " \t\r\n")) == "null" {
		return true, ""
	}
	if !json.Valid(body) || bytes.Trim(body, " \t\r\n")[0] != '{' {
		return false, malformed
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	_, _ = dec.Token() // {
	value := []byte("null")
	for dec.More() {
		name, _ := dec.Token()
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err) // json.Valid said it is valid
		}
		if name == "keepCurrent" {
			value = v
		}
	}
	switch string(value) {
	case "true", "null":
		return true, ""
	case "false":
		return false, ""
	}
	return false, invalid
}

func FuzzEndUserSessionsBody(f *testing.F) {
	w := newFzWorld(f)
	for _, s := range []struct{ body, contentType string }{
		{"", ""}, {" \r\n\t", "text/plain"}, {"null", "application/json"}, {"{}", "application/json"},
		{`{"keepCurrent":true}`, "application/json"}, {`{"keepCurrent":false}`, ""},
		{`{"keepCurrent":false}`, "application/json; charset=utf-8"}, {`{"keepCurrent":false}`, "application/merge-patch+json"},
		{`{"keepCurrent":false}`, "text/plain"}, {`{"keepCurrent":false}`, "multipart/form-data; boundary=x"},
		{`{"keepCurrent":false}`, "application/json; charset"}, {"keepCurrent=false", "application/x-www-form-urlencoded"},
		{`{"keepCurrent":"false"}`, ""}, {`{"keepCurrent":0}`, ""}, {`{"keepCurrent":null}`, ""},
		{`{"keep\u0043urrent":false}`, ""}, {`{"keepCurrent":true,"keepCurrent":false}`, ""},
		{`{"KeepCurrent":false}`, ""}, {`{"keepCurrent":false}x`, ""}, {`[false]`, ""}, {"\ufeff{}", ""},
		{"\u00a0", ""}, {"\u0085", ""}, {"\x85", ""}, {`{"keepCurrent":false,"x":"\xff"}`, ""},
		{strings.Repeat("[", 3000), ""}, {`{"keepCurrent":false,"p":"` + strings.Repeat("x", 4070) + `"}`, ""},
	} {
		f.Add([]byte(s.body), s.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		if strings.ContainsAny(contentType, "\r\n") {
			return // not one header value
		}
		raw := "POST /api/v1/users/me/lifecycle/delete_sessions HTTP/1.1\r\nHost: example.com\r\n" +
			"Cookie: " + w.cookie + "\r\nSec-Fetch-Site: same-origin\r\n"
		if contentType != "" {
			raw += "Content-Type: " + contentType + "\r\n"
		}
		raw += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + string(body)
		r, req, ok := w.serve(t, raw)
		if !ok {
			return
		}
		noServerError(t, r)
		keep, code := keepCurrentDoc(body, req.Header.Values("Content-Type"))
		revoked := w.revoked(t)
		if code != "" {
			checkOkta(t, r, 400, code)
			if len(revoked) > 0 {
				t.Fatalf("a refused body revoked %v", revoked)
			}
			return
		}
		if r.StatusCode != 200 || len(r.body) != 0 {
			t.Fatalf("a valid body (keepCurrent %v) got %d %s", keep, r.StatusCode, r.body)
		}
		want := []string{"a2"}
		if !keep {
			want = []string{"a1", "a2"}
		}
		if !slices.Equal(revoked, want) {
			t.Fatalf("keepCurrent %v revoked %v, want %v", keep, revoked, want)
		}
	})
}

// okQuery says whether a RevokeUserSessions query is valid, from the
// contract: it parses, and oauthTokens and forgetDevices appear at most
// once each, as true or false in any case.
func okQuery(raw string) (q url.Values, ok bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, false
	}
	for _, name := range []string{"oauthTokens", "forgetDevices"} {
		if vs, present := q[name]; present && (len(vs) != 1 || !strings.EqualFold(vs[0], "true") && !strings.EqualFold(vs[0], "false")) {
			return nil, false
		}
	}
	return q, true
}

func FuzzRevokeUserSessionsQuery(f *testing.F) {
	w := newFzWorld(f)
	for _, s := range []string{
		"", "oauthTokens=true", "oauthTokens=TRUE&forgetDevices=False", "forgetDevices=false", "oauthTokens=yes",
		"oauthTokens=", "oauthTokens", "oauthTokens=true&oauthTokens=true", "forgetDevices=false;", "a=1;b=2",
		"forgetDevices=%ZZ", "forgetDevices=%66alse", "oauth%54okens=true", "unknown=1&x", "&&&", "=", "==",
		"oauthTokens=tru%00e", "forgetDevices=false#frag", "oauthTokens=%E2%80%8Btrue",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		raw := "DELETE /api/v1/users/alice/sessions?" + query + " HTTP/1.1\r\nHost: example.com\r\n" +
			"Authorization: SSWS " + adminToken + "\r\n\r\n"
		r, req, ok := w.serve(t, raw)
		if !ok || req.URL.Path != "/api/v1/users/alice/sessions" {
			return
		}
		noServerError(t, r)
		revoked := w.revoked(t)
		q, valid := okQuery(req.URL.RawQuery)
		if !valid {
			checkOkta(t, r, 400, "E0000001")
			if len(revoked) > 0 || w.oauth > 0 || w.devices > 0 {
				t.Fatalf("a refused query revoked %v (OAuth %d, devices %d)", revoked, w.oauth, w.devices)
			}
			return
		}
		if r.StatusCode != 204 {
			t.Fatalf("a valid query %q got %d %s", req.URL.RawQuery, r.StatusCode, r.body)
		}
		if !slices.Equal(revoked, []string{"a1", "a2"}) {
			t.Fatalf("revoked %v, want alice's a1 and a2", revoked)
		}
		wantOAuth := strings.EqualFold(q.Get("oauthTokens"), "true")
		wantDevices := !strings.EqualFold(q.Get("forgetDevices"), "false")
		if (w.oauth == 1) != wantOAuth || (w.devices == 1) != wantDevices {
			t.Fatalf("query %q: OAuth revoker called %d times, device forgetter %d", req.URL.RawQuery, w.oauth, w.devices)
		}
	})
}

func FuzzAdminIDs(f *testing.F) {
	w := newFzWorld(f)
	for _, s := range []struct {
		id, sessionID string
		op, caller    uint8
	}{
		{"alice", "a2", 0, 0}, {"alice", "b1", 0, 0}, {"bob", "a2", 0, 0}, {"alice", "", 1, 0}, {"alice", "", 2, 0},
		{"alice", "a2", 0, 1}, {"alice", "a2", 0, 2}, {"alice", "a2", 0, 3}, {"nobody", "a2", 0, 0}, {"erin", "", 1, 0},
		{"carol@example.com", "c1", 0, 0}, {"..", "a2", 0, 0}, {".", "", 1, 0}, {"", "a2", 0, 0}, {"alice", "..", 0, 0},
		{"al/ice", "a2", 0, 0}, {"alice\x00", "a2", 0, 0}, {"ålice", "", 1, 0}, {"1' OR '1'='1", "", 1, 0},
		{strings.Repeat("u", 129), "", 2, 0}, {"alice", "a2/../b1", 0, 0}, {"ALICE", "a2", 0, 0}, {"alice", "A2", 0, 0},
		{"alice%2Fsessions", "a2", 0, 0}, {"alice?x=", "a2", 0, 0},
	} {
		f.Add(s.id, s.sessionID, s.op, s.caller)
	}
	f.Fuzz(func(t *testing.T, id, sessionID string, op, caller uint8) {
		path := "/auth/admin/api/users/" + url.PathEscape(id) + "/sessions"
		method := "DELETE"
		switch op % 3 {
		case 0:
			path += "/" + url.PathEscape(sessionID)
		case 2:
			method = "GET"
		}
		var auth string
		switch caller % 4 {
		case 0:
			auth = "Authorization: SSWS " + adminToken
		case 1:
			auth = "X-Session-Token: " + fzSessions[3].token // root, an admin
		case 2:
			auth = "Cookie: " + cookieHeader(t, w.m, fzSessions[3].token) + "\r\nSec-Fetch-Site: same-origin"
		case 3:
			auth = "X-Session-Token: " + fzSessions[2].token // bob, not an admin
		}
		raw := method + " " + path + " HTTP/1.1\r\nHost: example.com\r\n" + auth + "\r\n\r\n"
		r, _, ok := w.serve(t, raw)
		if !ok {
			return
		}
		noServerError(t, r)
		revoked := w.revoked(t)

		if r.StatusCode >= 300 && r.StatusCode < 400 {
			// The ServeMux redirects a path with dot segments or an empty
			// segment to its cleaned form, before any handler.
			if len(revoked) > 0 {
				t.Fatalf("a redirect revoked %v", revoked)
			}
			return
		}
		if r.StatusCode >= 400 {
			var v map[string]any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("%d with a body that is not JSON: %q", r.StatusCode, r.body)
			}
			codes := map[int][]string{400: {"VALIDATION_FAILED"}, 403: {"FORBIDDEN"}, 404: {"USER_NOT_FOUND", "SESSION_NOT_FOUND"}}
			code, _ := v["code"].(string)
			// The ServeMux takes a segment of exactly %2F for a trailing
			// slash, so no route's wildcard matches it: the admin prefix
			// answers.
			if id == "/" && r.StatusCode == 404 {
				codes[404] = []string{"ROUTE_NOT_FOUND"}
			}
			if !slices.Contains(codes[r.StatusCode], code) {
				t.Fatalf("%d with code %q", r.StatusCode, code)
			}
			checkAdmin(t, r, r.StatusCode, code)
			if len(revoked) > 0 {
				t.Fatalf("%d %s revoked %v", r.StatusCode, code, revoked)
			}
			return
		}
		if caller%4 == 3 {
			t.Fatalf("a non-admin got %d", r.StatusCode)
		}
		is := is.New(t)
		is.Equal(r.StatusCode, 200) // the only success status
		var want []string
		for _, s := range fzSessions {
			switch op % 3 {
			case 0:
				if s.user == id && s.id == sessionID {
					want = append(want, s.id)
				}
			case 1:
				if s.user == id {
					want = append(want, s.id)
				}
			}
		}
		if op%3 == 0 && len(want) == 0 {
			t.Fatalf("revoking %q of %q, which is no session of that user, got 200", sessionID, id)
		}
		if !slices.Equal(revoked, want) {
			t.Fatalf("%s %s revoked %v, want %v", method, path, revoked, want)
		}
	})
}

func FuzzKratosToken(f *testing.F) {
	w := newFzWorld(f)
	for _, s := range fzSessions {
		for op := range uint8(4) {
			f.Add(s.token, op)
		}
	}
	for _, s := range []string{"", " ", fzSessions[0].token + " x", strings.Repeat("A", 32), strings.Repeat("A", 300),
		fzSessions[0].token + "\r\nX-Session-Token: " + fzSessions[1].token, "\x00", "Bearer " + fzSessions[0].token} {
		f.Add(s, uint8(0))
	}
	ops := []struct{ method, path string }{
		{"DELETE", "/auth/sessions"}, {"GET", "/auth/sessions"}, {"DELETE", "/auth/sessions/a2"}, {"GET", "/auth/sessions/whoami"},
	}
	byToken := map[string]fzSession{}
	for _, s := range fzSessions {
		byToken[s.token] = s
	}
	f.Fuzz(func(t *testing.T, token string, op uint8) {
		o := ops[op%4]
		raw := o.method + " " + o.path + " HTTP/1.1\r\nHost: example.com\r\nX-Session-Token: " + token + "\r\n\r\n"
		r, req, ok := w.serve(t, raw)
		if !ok {
			return
		}
		noServerError(t, r)
		revoked := w.revoked(t)
		vs := req.Header.Values(revoke.HeaderName)
		var caller fzSession
		if len(vs) == 1 {
			caller = byToken[vs[0]]
		}
		if caller.id == "" {
			status := 401
			if len(vs) > 1 || len(vs) == 1 && !revoke.ValidToken(vs[0]) {
				status = 400 // a malformed X-Session-Token
			}
			checkKratos(t, r, status)
			if len(revoked) > 0 {
				t.Fatalf("an anonymous request revoked %v", revoked)
			}
			return
		}
		// A session's own token: what it may do depends on the route.
		var want []string
		status := 200
		switch op % 4 {
		case 0:
			for _, s := range fzSessions {
				if s.user == caller.user && s.id != caller.id {
					want = append(want, s.id)
				}
			}
		case 2:
			switch {
			case caller.id == "a2":
				status = 400 // the current session
			case caller.user == "alice":
				status, want = 204, []string{"a2"}
			default:
				status = 404 // another user's
			}
		}
		if r.StatusCode != status {
			t.Fatalf("%s %s as %s: %d %s, want %d", o.method, o.path, caller.id, r.StatusCode, r.body, status)
		}
		if !slices.Equal(revoked, want) {
			t.Fatalf("%s %s as %s revoked %v, want %v", o.method, o.path, caller.id, revoked, want)
		}
	})
}
