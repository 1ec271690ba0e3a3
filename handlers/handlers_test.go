package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// Credentials the test environment's authorizers know.
const (
	adminToken     = "static-admin-token-0123456789"
	goodBearer     = "bearer-admin-access-token"
	readOnlyBearer = "bearer-readonly-access-token"
	adminUser      = "root"
	// secret is the text of injected store failures; it must never reach a
	// client.
	secret = "pq: connection to db-7.internal.example refused: password=hunter2"
)

// failStore wraps a store and fails the operations it is told to, with an
// error whose text must not leak. It also counts token lookups, and calls
// of List, which reads every row of a user and which no request may call.
type failStore struct {
	store.SessionStore
	mu      sync.Mutex
	failing map[string]error
	lookups atomic.Int64
	lists   atomic.Int64
}

func (f *failStore) fail(ops ...string) { f.failWith(errors.New(secret), ops...) }

// failUnavailable fails ops as a store that missed its deadline does.
func (f *failStore) failUnavailable(ops ...string) {
	f.failWith(fmt.Errorf("memstore: %w: %s", store.ErrUnavailable, secret), ops...)
}

func (f *failStore) failWith(err error, ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range ops {
		f.failing[op] = err
	}
}

// heal ends every injected failure, so a test can inspect the store.
func (f *failStore) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.failing)
}

func (f *failStore) err(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing[op]
}

func (f *failStore) Get(ctx context.Context, id string) (store.Session, error) {
	if err := f.err("Get"); err != nil {
		return store.Session{}, err
	}
	return f.SessionStore.Get(ctx, id)
}

func (f *failStore) GetByTokenHash(ctx context.Context, h [32]byte) (store.Session, error) {
	f.lookups.Add(1)
	if err := f.err("GetByTokenHash"); err != nil {
		return store.Session{}, err
	}
	return f.SessionStore.GetByTokenHash(ctx, h)
}

func (f *failStore) List(ctx context.Context, userID string) ([]store.Session, error) {
	f.lists.Add(1)
	return f.SessionStore.List(ctx, userID)
}

func (f *failStore) ListPage(ctx context.Context, userID string, q store.PageQuery) (store.Page, error) {
	if err := f.err("ListPage"); err != nil {
		return store.Page{}, err
	}
	return f.SessionStore.ListPage(ctx, userID, q)
}

func (f *failStore) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	if err := f.err("Revoke"); err != nil {
		return nil, err
	}
	return f.SessionStore.Revoke(ctx, sel, now, reason)
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a server with every route mounted, over a memstore, and a few
// users with sessions:
//
//	alice: a1, a2      bob: b1      root (an admin): r1
type env struct {
	t     *testing.T
	st    *failStore
	m     *revoke.Manager
	h     *handlers.Handlers
	srv   *httptest.Server
	logs  *syncBuffer
	oauth atomic.Int64 // calls of the OAuth token revoker
	forgt atomic.Int64 // calls of the device forgetter

	a1, a2, b1, r1 session
}

type session struct {
	revoke.Session
	token string
}

type envConfig struct {
	manager  []revoke.Option
	handlers []handlers.Option
	wrap     func(e *env, h http.Handler) http.Handler
}

func newEnv(t *testing.T, hopts ...handlers.Option) *env {
	return newEnvWith(t, envConfig{handlers: hopts})
}

func newEnvWith(t *testing.T, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}}
	e.st = &failStore{SessionStore: memstore.New(), failing: map[string]error{}}
	t.Cleanup(func() { _ = e.st.Close() })

	cookie := revoke.DefaultCookie()
	cookie.Secure = false
	mopts := []revoke.Option{
		revoke.WithCookieKeys(bytes.Repeat([]byte("k"), 32)),
		revoke.WithCookie(cookie),
		revoke.WithDeviceForgetter(func(context.Context, string) error { e.forgt.Add(1); return nil }),
	}
	m, err := revoke.New(e.st, append(mopts, cfg.manager...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m

	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	hopts := []handlers.Option{
		handlers.WithLogger(logger),
		handlers.WithAdminTokens(adminToken),
		handlers.WithBearerAuthorizer(func(_ context.Context, token string) (string, error) {
			switch token {
			case goodBearer:
				return "ops-service", nil
			case readOnlyBearer:
				return "", handlers.ErrNotPermitted
			}
			return "", handlers.ErrInvalidCredentials
		}),
		handlers.WithAdminSessions(func(_ context.Context, userID string) (bool, error) {
			return userID == adminUser, nil
		}),
	}
	h, err := handlers.New(m, append(hopts, cfg.handlers...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	var root http.Handler = h.Handler()
	if cfg.wrap != nil {
		root = cfg.wrap(e, root)
	}
	e.srv = httptest.NewServer(root)
	t.Cleanup(e.srv.Close)

	e.a1 = e.login("alice")
	e.a2 = e.login("alice")
	e.b1 = e.login("bob")
	e.r1 = e.login(adminUser)
	return e
}

func (e *env) login(userID string) session {
	e.t.Helper()
	s, token, err := e.m.Create(context.Background(), userID, revoke.Device{IP: "203.0.113.7", UserAgent: "test-agent/1.0"})
	if err != nil {
		e.t.Fatal(err)
	}
	return session{s, token}
}

// expired stores a session of userID that expired an hour ago.
func (e *env) expired(userID string) session {
	e.t.Helper()
	now := time.Now()
	token := "expiredSessionToken0123456789abcdef"
	s := revoke.Session{
		ID: "expired-" + userID, UserID: userID, TokenHash: revoke.HashToken(token),
		CreatedAt: now.Add(-3 * time.Hour), LastSeenAt: now.Add(-2 * time.Hour),
		ExpiresAt: now.Add(-time.Hour), IdleExpiresAt: now.Add(-time.Hour),
	}
	if err := e.st.Create(context.Background(), s); err != nil {
		e.t.Fatal(err)
	}
	return session{s, token}
}

// cookie returns the Cookie header value that carries token.
func (e *env) cookie(token string) string {
	e.t.Helper()
	return cookieHeader(e.t, e.m, token)
}

// cookieHeader returns the Cookie header value, name=value, of the session
// cookie m sets for token.
func cookieHeader(tb testing.TB, m *revoke.Manager, token string) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	if err := m.SetCookie(rec, token, time.Now().Add(time.Hour)); err != nil {
		tb.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	return c.Name + "=" + c.Value
}

// active reports whether the session behind token still resolves. It ends
// injected store failures first.
func (e *env) active(token string) bool {
	e.st.heal()
	_, err := e.m.Resolve(context.Background(), token)
	return err == nil
}

// revokeNow revokes a session directly, for fixtures.
func (e *env) revokeNow(s session) {
	if _, err := e.m.RevokeSession(context.Background(), s.UserID, s.ID, revoke.Cause{Actor: "test", Reason: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

type response struct {
	*http.Response
	body []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return v
}

// do sends a request; headers come as name, value pairs.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return send(e.t, e.srv, method, path, body, headers...)
}

// send sends a request to srv and reads the whole answer.
func send(t testing.TB, srv *httptest.Server, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res, b}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkOkta asserts an Okta Error body.
func checkOkta(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	is := is.New(t)
	is.Equal(r.StatusCode, status)                                               // status
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")) // JSON error
	v := r.json(t)
	is.Equal(keys(v), []string{"errorCauses", "errorCode", "errorId", "errorLink", "errorSummary"})
	is.Equal(v["errorCode"], code)
	is.Equal(v["errorLink"], code)
	is.True(strings.HasPrefix(v["errorId"].(string), "oae"))
	_, isList := v["errorCauses"].([]any)
	is.True(isList) // errorCauses is a list
	is.True(!strings.Contains(string(r.body), "hunter2"))
	return v
}

// checkKratos asserts an errorGeneric body and returns its error object.
func checkKratos(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	is := is.New(t)
	is.Equal(r.StatusCode, status) // status
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	v := r.json(t)
	is.Equal(keys(v), []string{"error"})
	e := v["error"].(map[string]any)
	is.Equal(e["code"], float64(status))
	is.Equal(e["status"], http.StatusText(status))
	is.True(e["message"].(string) != "")
	is.Equal(e["request"], r.Header.Get("X-Request-Id")) // request carries the request id
	_, hasDebug := e["debug"]
	is.True(!hasDebug || status == http.StatusInternalServerError)
	is.True(!strings.Contains(string(r.body), "hunter2") || hasDebug)
	return e
}

// checkAdmin asserts an ApiErrorResponseDto body.
func checkAdmin(t *testing.T, r response, status int, code string) {
	t.Helper()
	is := is.New(t)
	is.Equal(r.StatusCode, status) // status
	is.True(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	v := r.json(t)
	is.Equal(keys(v), []string{"code", "error", "message", "statusCode"})
	is.Equal(v["statusCode"], float64(status))
	is.Equal(v["error"], http.StatusText(status))
	is.Equal(v["code"], code)
	is.True(v["message"].(string) != "")
	is.True(!strings.Contains(string(r.body), "hunter2"))
}

func TestRoutesMountWithoutConflict(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/", http.NotFoundHandler())
	e.h.Mount(mux) // panics on a conflicting pattern

	seen := map[string]bool{}
	names := map[handlers.RouteName]bool{}
	for _, rt := range handlers.Routes() {
		key := rt.Method + " " + rt.Pattern
		is.True(!seen[key]) // routes are unique
		seen[key] = true
		is.True(!names[rt.Name]) // and so are their names
		names[rt.Name] = true
		is.True(rt.Name != "" && rt.Summary != "")
		_, pattern := mux.Handler(httptest.NewRequest(rt.Method, strings.NewReplacer(
			"{userId}", "u1", "{id}", "x1", "{sessionId}", "s1").Replace(rt.Pattern), nil))
		is.Equal(pattern, key) // each route is served by its own pattern
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	for name, opt := range map[string]handlers.Option{
		"short admin token":  handlers.WithAdminTokens("short"),
		"no admin token":     handlers.WithAdminTokens(),
		"nil logger":         handlers.WithLogger(nil),
		"nil lookup":         handlers.WithUserLookup(nil),
		"nil authorizer":     handlers.WithAuthorizer(nil),
		"nil bearer":         handlers.WithBearerAuthorizer(nil),
		"nil admin sessions": handlers.WithAdminSessions(nil),
		"bad origin":         handlers.WithTrustedOrigins("not an origin"),
		"unknown family":     handlers.WithRateLimit("soap", handlers.RateLimit{Requests: 1, Window: time.Second}),
		"no window":          handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: 1}),
		"negative limit":     handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: -1, Window: time.Second}),
		"unknown family off": handlers.WithoutRateLimit("soap"),
		"nil option":         nil,
	} {
		_, err := handlers.New(m, opt)
		if err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	_, err = handlers.New(nil)
	is.True(err != nil) // nil manager
}

func TestRequestID(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)

	r := e.do("GET", "/auth/sessions/whoami", "", "X-Request-ID", "req-42.abc")
	is.Equal(r.Header.Get("X-Request-Id"), "req-42.abc") // a sane id is echoed
	is.Equal(checkKratos(t, r, 401)["request"], "req-42.abc")

	r = e.do("GET", "/auth/sessions/whoami", "", "X-Request-ID", "bad id <script>")
	got := r.Header.Get("X-Request-Id")
	is.True(got != "" && !strings.Contains(got, "script")) // an odd one is replaced
	is.Equal(len(got), 36)

	r = e.do("DELETE", "/api/v1/users/alice/sessions", "")
	is.Equal(len(r.Header.Get("X-Request-Id")), 36) // every family answers with one
	r = e.do("GET", "/auth/admin/api/users/alice/sessions", "")
	is.Equal(len(r.Header.Get("X-Request-Id")), 36)
}

func TestInternalErrorsAreLoggedWithRequestID(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.st.fail("ListPage")
	r := e.do("GET", "/auth/admin/api/users/alice/sessions", "", "Authorization", "SSWS "+adminToken, "X-Request-Id", "trace-500")
	checkAdmin(t, r, 500, "INTERNAL_ERROR")
	logs := e.logs.String()
	is.True(strings.Contains(logs, "request_id=trace-500")) // the log names the request
	is.True(strings.Contains(logs, "hunter2"))              // and keeps the detail the client does not get
}

// An app may also wrap everything in the Manager's Middleware: the session
// is then resolved once, not twice.
func TestOuterMiddlewareResolvesOnce(t *testing.T) {
	is := is.New(t)
	e := newEnvWith(t, envConfig{wrap: func(e *env, h http.Handler) http.Handler { return e.m.Middleware(h) }})
	before := e.st.lookups.Load()
	r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
	is.Equal(r.StatusCode, 200)
	is.Equal(e.st.lookups.Load()-before, int64(1)) // one token lookup for the request

	r = e.do("DELETE", "/auth/sessions", "", "X-Session-Token", e.a1.token)
	is.Equal(r.StatusCode, 200)
	is.True(!e.active(e.a2.token))
}

// Every handler works when mounted alone, on a path of the app's choosing.
func TestStandaloneHandler(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("DELETE /ops/users/{id}/sessions/{sessionId}", e.h.AdminRevokeSession())
	mux.Handle("GET /me", e.h.WhoAmI())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("DELETE", srv.URL+"/ops/users/alice/sessions/"+e.a1.ID, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := srv.Client().Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, 200)
	is.True(!e.active(e.a1.token))

	req, _ = http.NewRequest("GET", srv.URL+"/me", nil)
	req.Header.Set("Cookie", e.cookie(e.b1.token))
	res, err = srv.Client().Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, 200)
}

// TestOuterMiddlewareStoreFailure pins what the package documentation says
// of the Manager's Middleware: around the whole mux, a store failure while
// resolving is answered by the Middleware's error func before any handler
// runs; around the app's own routes only, the handlers answer it in their
// family's shape; and revoke.WithErrorFunc lets an app that wraps
// everything answer JSON.
func TestOuterMiddlewareStoreFailure(t *testing.T) {
	get := func(t *testing.T, e *env) response {
		t.Helper()
		e.st.fail("GetByTokenHash")
		return e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", e.a1.token)
	}

	t.Run("around the whole mux", func(t *testing.T) {
		is := is.New(t)
		e := newEnvWith(t, envConfig{wrap: func(e *env, h http.Handler) http.Handler { return e.m.Middleware(h) }})
		r := get(t, e)
		is.Equal(r.StatusCode, 500)
		is.Equal(r.Header.Get("X-Request-Id"), "")      // no handler ran
		is.Equal(r.Header.Get("X-RateLimit-Limit"), "") // nor its rate limit
		is.True(!strings.Contains(string(r.body), "hunter2"))
	})

	t.Run("around the app's own routes", func(t *testing.T) {
		is := is.New(t)
		e := newEnvWith(t, envConfig{wrap: func(e *env, h http.Handler) http.Handler {
			app := http.NewServeMux()
			app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
			mux := http.NewServeMux()
			e.h.Mount(mux)
			mux.Handle("/", e.m.Middleware(app))
			return mux
		}})
		r := get(t, e)
		checkKratos(t, r, 500)
		is.True(r.Header.Get("X-RateLimit-Limit") != "")
	})

	t.Run("around the whole mux, with an error func", func(t *testing.T) {
		is := is.New(t)
		e := newEnvWith(t, envConfig{
			manager: []revoke.Option{revoke.WithErrorFunc(func(w http.ResponseWriter, _ *http.Request, _ error) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":"unavailable"}`))
			})},
			wrap: func(e *env, h http.Handler) http.Handler { return e.m.Middleware(h) },
		})
		r := get(t, e)
		is.Equal(r.StatusCode, 503)
		is.Equal(r.Header.Get("Content-Type"), "application/json")
		is.Equal(r.json(t)["error"], "unavailable")
	})
}
