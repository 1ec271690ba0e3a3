package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// The admin list carries how each session was authenticated and its labels,
// in camelCase, from a store that keeps them (the failing store of env does
// not).
func TestAdminListSessionsSignInDetails(t *testing.T) {
	is := is.New(t)
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := revoke.New(st)
	is.NoErr(err)
	h, err := handlers.New(m, handlers.WithAdminTokens(adminToken))
	is.NoErr(err)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)

	ctx := context.Background()
	checked := time.Now().Add(-time.Second).Truncate(time.Second)
	labelled, _, err := m.Create(ctx, "alice", revoke.Device{UserAgent: "test-agent/1.0"},
		revoke.AuthenticatedAt(checked),
		revoke.AuthenticatedWith(revoke.AuthMethod{Method: "password", AAL: revoke.AAL1}),
		revoke.Label("tenant", "acme"), revoke.Label("device", "work laptop"))
	is.NoErr(err)
	plain, _, err := m.Create(ctx, "alice", revoke.Device{})
	is.NoErr(err)

	req, err := http.NewRequest("GET", srv.URL+"/auth/admin/api/users/alice/sessions", nil)
	is.NoErr(err)
	req.Header.Set("Authorization", "SSWS "+adminToken)
	res, err := srv.Client().Do(req)
	is.NoErr(err)
	defer res.Body.Close()
	is.Equal(res.StatusCode, 200)
	var body struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	is.NoErr(json.NewDecoder(res.Body).Decode(&body))
	is.Equal(len(body.Sessions), 2)

	byID := map[string]map[string]json.RawMessage{}
	for _, s := range body.Sessions {
		var id string
		is.NoErr(json.Unmarshal(s["id"], &id))
		byID[id] = s
	}

	got := byID[labelled.ID]
	var methods []map[string]any
	is.NoErr(json.Unmarshal(got["authenticationMethods"], &methods))
	is.Equal(len(methods), 1)
	is.Equal(keys(methods[0]), []string{"aal", "completedAt", "method"}) // camelCase, nothing else
	is.Equal(methods[0]["method"], "password")
	is.Equal(methods[0]["aal"], "aal1")
	at, err := time.Parse(time.RFC3339Nano, methods[0]["completedAt"].(string))
	is.NoErr(err)
	is.True(at.Equal(checked)) // completed when the credentials were checked
	var labels map[string]string
	is.NoErr(json.Unmarshal(got["labels"], &labels))
	is.Equal(labels, map[string]string{"tenant": "acme", "device": "work laptop"})

	bare := byID[plain.ID]
	is.Equal(string(bare["authenticationMethods"]), "[]") // an empty list, never null
	_, hasLabels := bare["labels"]
	is.True(!hasLabels) // left out when there are none
}
