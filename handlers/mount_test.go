package handlers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// Every method of a *Handlers that New did not return (most often the nil
// of a failed New whose error was ignored) panics with a message that says
// so, not with a nil dereference.
func TestNilHandlersPanicsSayingWhy(t *testing.T) {
	for _, h := range []*handlers.Handlers{nil, {}} {
		v := reflect.ValueOf(h)
		for i := range v.NumMethod() {
			method := v.Type().Method(i)
			t.Run(fmt.Sprintf("%v.%s", h != nil, method.Name), func(t *testing.T) {
				fn := v.Method(i)
				args := make([]reflect.Value, fn.Type().NumIn())
				for j := range args {
					args[j] = reflect.Zero(fn.Type().In(j))
				}
				defer func() {
					msg := fmt.Sprint(recover())
					if !strings.Contains(msg, "handlers.New") || !strings.Contains(msg, "nil or zero *Handlers") {
						t.Errorf("%s panicked with %q", method.Name, msg)
					}
				}()
				if method.Name == "Mount" {
					args[0] = reflect.ValueOf(http.NewServeMux())
				}
				fn.Call(args)
			})
		}
	}
}

// The documented token rule: at least 16 bytes, no whitespace; New's error
// says so and names the token by position, never by its text.
func TestAdminTokenRule(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	for _, bad := range []string{"fifteen-bytes!!", "sixteen bytes!!!", "token-with-newline\n"} {
		h, err := handlers.New(m, handlers.WithAdminTokens("a-good-admin-token-0123", bad))
		is.True(err != nil) // refused
		is.True(h == nil)
		is.True(strings.Contains(err.Error(), "admin token 2 of 2"))    // which one
		is.True(strings.Contains(err.Error(), "at least 16 bytes"))     // and the rule
		is.True(!strings.Contains(err.Error(), strings.TrimSpace(bad))) // but not the token
	}
	_, err = handlers.New(m, handlers.WithAdminTokens("sixteen-bytes!!!"))
	is.NoErr(err) // 16 bytes is enough
}

func TestEndpointOfUnknownRoutePanics(t *testing.T) {
	e := newEnv(t)
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, `no route is named "Nope"`) {
			t.Errorf("panic %q", msg)
		}
	}()
	e.h.Endpoint("Nope")
}

// A route mounted by the app on a pattern without one of its wildcards
// cannot work, whatever the client sends: it answers 500 in its family's
// shape (not a 400 that blames the client) and logs the wildcard it lacks.
func TestRouteWithoutItsWildcard(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("DELETE /ops/users/{user}/sessions", e.h.RevokeUserSessions())
	mux.Handle("DELETE /ops/mine/{session}", e.h.DisableMySession())
	mux.Handle("DELETE /ops/admin/{id}/sessions/{sid}", e.h.AdminRevokeSession())
	mux.Handle("DELETE /ops/admin/{id}/all", e.h.AdminRevokeAllSessions())
	mux.Handle("DELETE /ops/right/{sessionId}/of/{id}", e.h.AdminRevokeSession())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	admin := []string{"Authorization", "SSWS " + adminToken}

	for _, tc := range []struct {
		path, wildcard string
		fam            handlers.Family
		code           string
		headers        []string
	}{
		{"/ops/users/alice/sessions", "{userId}", handlers.FamilyOkta, "E0000009", admin},
		{"/ops/mine/" + e.a2.ID, "{id}", handlers.FamilyKratos, "", []string{"X-Session-Token", e.a1.token}},
		{"/ops/admin/alice/sessions/" + e.a2.ID, "{sessionId}", handlers.FamilyAdmin, "INTERNAL_ERROR", admin},
	} {
		t.Run(tc.path, func(t *testing.T) {
			is := is.New(t)
			r := e.do("DELETE", tc.path, "", tc.headers...)
			checkFamilyError(t, tc.fam, "DELETE", r, 500, tc.code)
			logs := e.logs.String()
			is.True(strings.Contains(logs, "misconfigured route"))   // logged
			is.True(strings.Contains(logs, "wildcard="+tc.wildcard)) // naming the wildcard
			is.True(strings.Contains(logs, "request_id="+r.Header.Get("X-Request-Id")))
			is.True(e.active(e.a1.token) && e.active(e.a2.token)) // nothing revoked
		})
	}

	is := is.New(t)
	// A route that needs no session id works on a pattern with its one
	// wildcard, and the wildcards' order in the pattern does not matter.
	r := e.do("DELETE", "/ops/admin/bob/all", "", admin...)
	is.Equal(r.StatusCode, 200)
	is.True(!e.active(e.b1.token))
	r = e.do("DELETE", "/ops/right/"+e.a2.ID+"/of/alice", "", admin...)
	is.Equal(r.StatusCode, 200)
	is.True(!e.active(e.a2.token))
}
