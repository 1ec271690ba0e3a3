package interop

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/matryer/is"
	"github.com/peterhellberg/link"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// pageTokens reads a response's Link header as Ory's keysetpagination
// package (ParseHeader) does, with the parser it uses: the page_token of
// the rel="next" and rel="first" links, and whether there are such links.
func pageTokens(resp *http.Response) (next string, hasNext, hasFirst bool) {
	for rel, l := range link.ParseResponse(resp) {
		u, err := url.Parse(l.URI)
		if err != nil {
			continue
		}
		switch rel {
		case "next":
			next, hasNext = u.Query().Get("page_token"), true
		case "first":
			hasFirst = u.Query().Get("page_token") == ""
		}
	}
	return next, hasNext, hasFirst
}

// TestOryListMySessionsPages pages through a user's other sessions with
// Ory's client, passing the page_token of each next link back as Ory's
// clients do, past revoked sessions and the current one.
func TestOryListMySessionsPages(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	var others []session
	for range 4 {
		others = append(others, e.login("ory-user"))
	}
	current := e.login("ory-user")
	for range 4 {
		others = append(others, e.login("ory-user"))
	}
	if _, err := e.m.RevokeSession(ctx, "ory-user", others[6].ID, revoke.Cause{Actor: "test", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	// What the pages must list: the other active sessions, newest first.
	all, err := e.m.Sessions(ctx, "ory-user", 100, store.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range all.Sessions {
		if s.ID != current.ID {
			want = append(want, s.ID)
		}
	}

	for _, c := range e.credentials(current) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			var got []string
			token, pages := "", 0
			for {
				req := e.oryClient().FrontendAPI.ListMySessions(ctx).PageSize(3)
				if token != "" {
					req = req.PageToken(token)
				}
				list, resp, err := presenting(req, c).Execute()
				is.NoErr(err)
				is.Equal(resp.StatusCode, http.StatusOK)
				pages++
				is.True(len(list) <= 3)
				for _, s := range list {
					got = append(got, s.Id)
				}
				next, hasNext, hasFirst := pageTokens(resp)
				is.True(hasFirst) // every page links the first
				if !hasNext {
					break
				}
				is.True(next != "")
				token = next
			}
			is.Equal(got, want) // each other active session once, newest first
			is.Equal(pages, 3)  // 3 + 3 + 1
		})
	}
}
