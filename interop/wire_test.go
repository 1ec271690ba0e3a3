package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

// The wire replay: every request that shared/research/okta-sdk-wire.md
// (section 7) records an Okta SDK sending for revokeUserSessions and
// endUserSessions, byte for byte, over a real connection to the mounted
// handlers; and a check, with the model of that SDK (sdkmodel_test.go),
// that the answer is one the SDK parses as the success or the Okta error it
// is. Each case is named after the SDK version and the file whose request it
// replays.

// The research file's user; and a login that needs escaping.
const (
	sdkUser  = "00u1abcDEF2ghi3JKL4"
	sdkLogin = "a.b+c@example.com"
)

// replay sends raw on a connection of its own and reads the answer.
func (e *env) replay(t *testing.T, raw string) answer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", e.srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(raw, " ")
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer to\n%s\n: %v", raw, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: body}
}

// checkAnswer checks a against what the contract and the SDK need: a 204
// with neither body nor Content-Type, a 200 with an empty body and no
// Content-Type, or an Okta error (JSON Content-Type, errorCode, errorLink,
// errorId, errorCauses a list); Date, X-Okta-Request-Id and the rate-limit
// headers on every answer. Then the SDK's model must read it as that
// success or that errorCode.
func (e *env) checkAnswer(t *testing.T, m sdkModel, op operation, a answer, status int, code string) {
	t.Helper()
	is := is.New(t)
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	_, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", a.header.Get("Date"))
	is.NoErr(err)                                    // Date, as Go's SDK parses it
	is.True(a.header.Get("X-Okta-Request-Id") != "") // X-Okta-Request-Id
	// With rate limiting off, only the answers Okta's SDKs retry carry
	// the reset they compute their wait from.
	if e.rateLimited || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		is.Equal(len(a.header.Values("X-Rate-Limit-Reset")), 1) // one X-Rate-Limit-Reset
		_, err = strconv.ParseInt(a.header.Get("X-Rate-Limit-Reset"), 10, 64)
		is.NoErr(err) // an integer
	}
	if e.rateLimited {
		is.True(a.header.Get("X-Rate-Limit-Limit") != "") // X-Rate-Limit-Limit
	}
	switch {
	case status == http.StatusNoContent:
		is.Equal(len(a.body), 0)                       // no body
		is.Equal(a.header.Values("Content-Type"), nil) // no Content-Type: Python parses a JSON one
	case status == http.StatusOK:
		is.Equal(len(a.body), 0)                       // empty body
		is.Equal(a.header.Get("Content-Length"), "0")  // Content-Length 0
		is.Equal(a.header.Values("Content-Type"), nil) // no Content-Type
	default:
		is.Equal(a.header.Get("Content-Type"), "application/json") // JSON Content-Type, as Python needs
		var v map[string]any
		is.NoErr(json.Unmarshal(a.body, &v))
		is.Equal(v["errorCode"], code)
		is.Equal(v["errorLink"], code)
		id, _ := v["errorId"].(string)
		is.True(strings.HasPrefix(id, "oae")) // errorId
		causes, isList := v["errorCauses"].([]any)
		is.True(isList) // errorCauses is a list
		for _, c := range causes {
			_, isObject := c.(map[string]any)
			is.True(isObject) // of objects
		}
	}
	got, err := m.outcome(op, a)
	if err != nil {
		t.Fatalf("the SDK cannot use the answer (%d %s %s): %v", a.status, a.header.Get("Content-Type"), a.body, err)
	}
	want := outcome{success: true}
	if status >= 300 {
		want = outcome{status: status, errorCode: code}
	}
	is.Equal(got, want) // what the SDK makes of the answer
}

// outage is a store that, while down, fails as one that missed its
// deadline does.
type outage struct {
	store.SessionStore
	down atomic.Bool
}

func (o *outage) err() error {
	if o.down.Load() {
		return fmt.Errorf("outage: %w: context deadline exceeded", store.ErrUnavailable)
	}
	return nil
}

func (o *outage) Get(ctx context.Context, id string) (store.Session, error) {
	if err := o.err(); err != nil {
		return store.Session{}, err
	}
	return o.SessionStore.Get(ctx, id)
}

func (o *outage) GetByTokenHash(ctx context.Context, h [32]byte) (store.Session, error) {
	if err := o.err(); err != nil {
		return store.Session{}, err
	}
	return o.SessionStore.GetByTokenHash(ctx, h)
}

func (o *outage) List(ctx context.Context, userID string) ([]store.Session, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.SessionStore.List(ctx, userID)
}

func (o *outage) Revoke(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.SessionStore.Revoke(ctx, sel, now, reason)
}

func ptr(b bool) *bool { return &b }

// revokeTarget is the request target of revokeUserSessions for user.
func (s sdkWire) revokeTarget(user string, oauthTokens, forgetDevices *bool) string {
	if !s.forgetDevices {
		forgetDevices = nil
	}
	return "/api/v1/users/" + s.escape(user) + "/sessions" + s.query(oauthTokens, forgetDevices)
}

// revokeRequest is revokeUserSessions as the SDK sends it, with token.
func (s sdkWire) revokeRequest(token, user string, oauthTokens, forgetDevices *bool, extra ...string) string {
	return rawRequest("DELETE", s.revokeTarget(user, oauthTokens, forgetDevices), append(s.head(token, false, nil), extra...), nil)
}

func TestOktaSDKWireReplay(t *testing.T) {
	for _, sdk := range sdkWires() {
		t.Run(sdk.name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range revokeScenarios() {
				t.Run(sdk.revokeSrc+" "+sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, sdk)
				})
			}
			for _, call := range endCalls[sdk.name] {
				t.Run(sdk.endSrc+" "+call.call, func(t *testing.T) {
					t.Parallel()
					replayEnd(t, sdk, call)
				})
			}
		})
	}
}

// TestOktaSDKWireCoverage keeps the replay in step with the research file:
// every SDK line it names is replayed, and every endUserSessions call is
// replayed for an SDK that has the operation.
func TestOktaSDKWireCoverage(t *testing.T) {
	is := is.New(t)
	var names []string
	for _, s := range sdkWires() {
		names = append(names, s.name)
		is.True(s.revokeSrc != "")                          // every SDK has revokeUserSessions
		is.Equal(s.endSrc != "", len(endCalls[s.name]) > 0) // endUserSessions where the SDK has it
	}
	for _, want := range []string{"Python v3.4.4", "Python 2.9.13", "Java", ".NET v10.0.3", ".NET v9.2.3 (v7.0.0 to v9.2.3)",
		"Go v6.1.5", "Go v6.0.0", "Go v5.0.6", "Node 8.2.0", "Node 7.3.0"} {
		is.True(slices.Contains(names, want)) // SDK replayed
	}
	for name := range endCalls {
		is.True(slices.Contains(names, name)) // endUserSessions calls belong to a replayed SDK
	}
}

type revokeScenario struct {
	name string
	run  func(t *testing.T, sdk sdkWire)
}

// revokeScenarios are the requests of 7.1 (R1 to R3) and the answers of
// 7.2 (S1, E1, E3, L1, L2) for revokeUserSessions.
func revokeScenarios() []revokeScenario {
	return []revokeScenario{
		{"R1 no parameters: S1 204", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkUser}})
			s1, s2, other := e.login(sdkUser), e.login(sdkUser), e.login("00u2bob")
			raw := sdk.revokeRequest(adminToken, sdkUser, nil, nil)
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusNoContent, "")
			is.True(!e.active(s1.token) && !e.active(s2.token)) // the user's sessions are revoked
			is.True(e.active(other.token))                      // nobody else's
			is.Equal(len(e.oauth.calls()), 0)                   // oauthTokens defaults to false
			is.Equal(e.forget.calls(), []string{sdkUser})       // forgetDevices to true
			seen := e.tap.exchanges()[0]
			is.Equal(seen.path, "/api/v1/users/"+sdkUser+"/sessions") // the route, as the server read it
		}},
		{"R2 oauthTokens=true forgetDevices=false", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkUser}})
			s1 := e.login(sdkUser)
			raw := sdk.revokeRequest(adminToken, sdkUser, ptr(true), ptr(false))
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusNoContent, "")
			is.True(!e.active(s1.token))
			is.Equal(e.oauth.calls(), []string{sdkUser}) // oauthTokens read, in its spelling
			if sdk.forgetDevices {
				is.Equal(len(e.forget.calls()), 0) // forgetDevices=false read
			} else {
				is.Equal(e.forget.calls(), []string{sdkUser}) // not sent: the default
			}
		}},
		{"R2 oauthTokens=true alone", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkUser}})
			s1 := e.login(sdkUser)
			raw := sdk.revokeRequest(adminToken, sdkUser, ptr(true), nil)
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusNoContent, "")
			is.True(!e.active(s1.token))
			is.Equal(e.oauth.calls(), []string{sdkUser})
			is.Equal(e.forget.calls(), []string{sdkUser}) // forgetDevices not sent: the default
		}},
		{"R3 a login that needs escaping", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkLogin}})
			s1, alice := e.login(sdkLogin), e.login("00u1alice")
			raw := sdk.revokeRequest(adminToken, sdkLogin, nil, nil)
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusNoContent, "")
			is.True(!e.active(s1.token)) // the same login, '+' not read as a space
			is.True(e.active(alice.token))
		}},
		{"E1 unknown user: 404 E0000007", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{})
			alice := e.login("00u1alice")
			raw := sdk.revokeRequest(adminToken, sdkUser, ptr(true), nil)
			a := e.replay(t, raw)
			e.checkAnswer(t, sdk.model, opRevoke, a, http.StatusNotFound, "E0000007")
			is.True(strings.Contains(string(a.body), "Resource not found: "+sdkUser+" (User)"))
			is.True(e.active(alice.token))
			is.Equal(len(e.oauth.calls()), 0)
		}},
		{"E3 unknown token: 401 E0000011", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkUser}})
			s1 := e.login(sdkUser)
			raw := sdk.revokeRequest("00TESTTOKEN-not-an-admin-token", sdkUser, nil, nil)
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusUnauthorized, "E0000011")
			is.True(e.active(s1.token))
		}},
		{"E3 oauthTokens without a revoker: 400 E0000001", func(t *testing.T, sdk sdkWire) {
			is := is.New(t)
			e := newEnv(t, envConfig{users: []string{sdkUser}, noOAuthRevoker: true})
			s1 := e.login(sdkUser)
			raw := sdk.revokeRequest(adminToken, sdkUser, ptr(true), ptr(true))
			e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, raw), http.StatusBadRequest, "E0000001")
			is.True(e.active(s1.token))
			is.Equal(len(e.forget.calls()), 0)
		}},
		{"L1 429 and the retry", replayRateLimited},
		{"L2 503 while the store does not answer", func(t *testing.T, sdk sdkWire) { replayUnavailable(t, sdk, true) }},
		{"L2 503 while the store does not answer, rate limiting off", func(t *testing.T, sdk sdkWire) { replayUnavailable(t, sdk, false) }},
	}
}

// replayRateLimited: over a limit of one request a second, the SDK's request
// gets a 429 that the SDK reads as E0000047 and from which it computes its
// wait; the retry, sent after that wait with the SDK's retry headers, is
// served.
func replayRateLimited(t *testing.T, sdk sdkWire) {
	is := is.New(t)
	e := newEnv(t, envConfig{users: []string{sdkUser}, handlers: []handlers.Option{
		handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: 1, Window: time.Second}),
	}})
	e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, sdk.revokeRequest(adminToken, sdkUser, nil, nil)), http.StatusNoContent, "")
	s1 := e.login(sdkUser)

	a := e.replay(t, sdk.revokeRequest(adminToken, sdkUser, nil, nil))
	if a.status == http.StatusNoContent {
		// The first request fell at the very end of a window; this one,
		// in the next, had a budget of its own (and revoked s1).
		s1 = e.login(sdkUser)
		a = e.replay(t, sdk.revokeRequest(adminToken, sdkUser, nil, nil))
	}
	e.checkAnswer(t, sdk.model, opRevoke, a, http.StatusTooManyRequests, "E0000047")
	is.Equal(a.header.Get("X-Rate-Limit-Remaining"), "0")
	is.True(e.active(s1.token)) // nothing revoked by a 429

	plan, err := sdk.model.retry(a)
	is.NoErr(err) // the SDK can compute its retry
	is.True(plan.retries)
	is.True(plan.wait >= time.Second && plan.wait <= 4*time.Second) // reset - Date + 1: by the end of the next window
	time.Sleep(plan.wait)
	retry := sdk.revokeRequest(adminToken, sdkUser, nil, nil, sdk.retryHead(1, a.header.Get("X-Okta-Request-Id"))...)
	e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, retry), http.StatusNoContent, "")
	is.True(!e.active(s1.token)) // the retry revoked
}

// replayUnavailable: with the store down, the answer is a 503 that the SDK
// reads as E0000010. Python and Java retry a 503 (Python only with Date and
// X-Rate-Limit-Reset, which the answer carries with rate limiting off too),
// and their retry, once the store is back, is served.
func replayUnavailable(t *testing.T, sdk sdkWire, limited bool) {
	is := is.New(t)
	o := &outage{}
	cfg := envConfig{users: []string{sdkUser}, wrapStore: func(st store.SessionStore) store.SessionStore {
		o.SessionStore = st
		return o
	}}
	cfg.noRateLimit = !limited
	e := newEnv(t, cfg)
	s1 := e.login(sdkUser)
	o.down.Store(true)
	a := e.replay(t, sdk.revokeRequest(adminToken, sdkUser, nil, nil))
	e.checkAnswer(t, sdk.model, opRevoke, a, http.StatusServiceUnavailable, "E0000010")
	is.True(a.header.Get("Retry-After") != "")
	is.True(!strings.Contains(string(a.body), "deadline")) // no internal text
	o.down.Store(false)
	is.True(e.active(s1.token))
	if !slices.Contains(sdk.model.retried, http.StatusServiceUnavailable) {
		return
	}
	plan, err := sdk.model.retry(a)
	is.NoErr(err) // the SDK can retry it
	is.True(plan.retries)
	time.Sleep(plan.wait)
	retry := sdk.revokeRequest(adminToken, sdkUser, nil, nil, sdk.retryHead(1, a.header.Get("X-Okta-Request-Id"))...)
	e.checkAnswer(t, sdk.model, opRevoke, e.replay(t, retry), http.StatusNoContent, "")
	is.True(!e.active(s1.token))
}

// replayEnd replays a call of endUserSessions (R4, R5): as the SDK sends
// it, with its API token and no cookie (R6), it is refused with 403
// E0000006, since the route takes the session cookie only; with the
// session cookie in place of the token, the body is read as the call
// means it.
func replayEnd(t *testing.T, sdk sdkWire, call endCall) {
	const path = "/api/v1/users/me/lifecycle/delete_sessions"
	body := call.body
	if body == nil {
		body = []byte{}
	}

	t.Run("as sent, with the API token", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, envConfig{})
		cur, other := e.login("00u1alice"), e.login("00u1alice")
		a := e.replay(t, rawRequest("POST", path, sdk.head(adminToken, true, body), body))
		e.checkAnswer(t, sdk.model, opEnd, a, http.StatusForbidden, "E0000006")
		is.True(e.active(cur.token) && e.active(other.token)) // nothing revoked
	})

	t.Run("with the session cookie instead", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, envConfig{})
		cur, other, bob := e.login("00u1alice"), e.login("00u1alice"), e.login("00u2bob")
		head := withCookie(sdk.head(adminToken, true, body), e.cookie(cur.token))
		a := e.replay(t, rawRequest("POST", path, head, body))
		e.checkAnswer(t, sdk.model, opEnd, a, http.StatusOK, "")
		is.True(!e.active(other.token))                 // the other sessions end
		is.Equal(e.active(cur.token), call.keepCurrent) // the current one as the body says
		is.True(e.active(bob.token))                    // nobody else's
		expired := strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0")
		is.Equal(expired, !call.keepCurrent) // the cookie is expired with the session
	})
}
