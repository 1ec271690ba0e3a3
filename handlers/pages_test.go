package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

// pagesEnv is an env without rate limits, for tests that walk many pages.
func pagesEnv(t *testing.T, hopts ...handlers.Option) *env {
	hopts = append([]handlers.Option{handlers.WithoutRateLimit()}, hopts...)
	return newEnvWith(t, envConfig{handlers: hopts})
}

// oldRows gives userID n revoked and n expired sessions, newer than every
// session logged in so far, so that a page that read them would show.
func (e *env) oldRows(userID string, n int) {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		for _, expired := range []bool{false, true} {
			s := revoke.Session{
				ID: store.NewID(), UserID: userID, TokenHash: revoke.HashToken(store.NewID()),
				CreatedAt: now.Add(time.Duration(i) * time.Millisecond), LastSeenAt: now,
				ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
			}
			if expired {
				s.IdleExpiresAt = now.Add(-time.Second)
			} else {
				s.RevokedAt, s.RevokeReason = now, "old"
			}
			if err := e.st.Create(ctx, s); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

var linkPart = regexp.MustCompile(`^<([^>]*)>; rel="([a-z]+)"$`)

// links parses a Link header into rel -> URL, failing on any other form.
func links(t *testing.T, header string) map[string]*url.URL {
	t.Helper()
	out := map[string]*url.URL{}
	for part := range strings.SplitSeq(header, ",") {
		m := linkPart.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			t.Fatalf("Link part %q is not <url>; rel=\"...\"", part)
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		out[m[2]] = u
	}
	return out
}

// walkMySessions follows GET /auth/sessions from path through its next
// links and returns the ids listed, page by page.
func walkMySessions(t *testing.T, e *env, path, token string) [][]string {
	t.Helper()
	var pages [][]string
	for range 1000 {
		r := e.do("GET", path, "", "X-Session-Token", token)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, r.StatusCode, r.body)
		}
		var list []map[string]any
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range list {
			ids = append(ids, s["id"].(string))
		}
		pages = append(pages, ids)
		l := links(t, r.Header.Get("Link"))
		first := l["first"]
		if first == nil || first.Path != "/auth/sessions" || first.Query().Get("page_token") != "" {
			t.Fatalf("no first link to the first page: %q", r.Header.Get("Link"))
		}
		next := l["next"]
		if next == nil {
			return pages
		}
		if next.Query().Get("page_size") != first.Query().Get("page_size") || next.Query().Get("page_token") == "" {
			t.Fatalf("next link %q", next)
		}
		path = next.String()
	}
	t.Fatal("no last page")
	return nil
}

// wantOthers is what alice's GET /auth/sessions must list, as current:
// her other active sessions, newest first.
func wantOthers(t *testing.T, e *env, current string) []string {
	t.Helper()
	var ids []string
	var after store.Cursor
	for {
		p, err := e.m.Sessions(context.Background(), "alice", revoke.MaxPageLimit, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Sessions {
			if s.ID != current {
				ids = append(ids, s.ID)
			}
		}
		if p.Next.IsZero() {
			return ids
		}
		after = p.Next
	}
}

func TestListMySessionsPages(t *testing.T) {
	e := pagesEnv(t)
	mine := []session{e.a1, e.a2}
	for range 7 {
		mine = append(mine, e.login("alice"))
	}
	e.oldRows("alice", 40)
	e.revokeNow(mine[4])
	current := mine[5] // in the middle of the order, so pages have to skip it

	want := wantOthers(t, e, current.ID)
	if len(want) != 7 {
		t.Fatalf("fixture: %d other active sessions", len(want))
	}
	for _, size := range []int{1, 2, 3, 6, 7, 8, 250} {
		t.Run("page_size "+strconv.Itoa(size), func(t *testing.T) {
			is := is.New(t)
			pages := walkMySessions(t, e, "/auth/sessions?page_size="+strconv.Itoa(size), current.token)
			for i, p := range pages {
				is.True(len(p) <= size)
				if i < len(pages)-1 {
					is.Equal(len(p), size) // only the last page is short
				}
			}
			is.Equal(slices.Concat(pages...), want) // every other active one, once, newest first
			is.Equal(len(pages), max(1, (len(want)+size-1)/size))
		})
	}
}

func TestListMySessionsPageSize(t *testing.T) {
	e := pagesEnv(t)
	for _, c := range []struct{ query, size string }{
		{"", "250"},
		{"?page_size=", "250"},
		{"?page_size=0", "250"}, // Kratos's default for 0
		{"?page_size=7", "7"},
		{"?page_size=1000", "1000"},
		{"?page_size=5000", "1000"}, // Kratos's maximum
		{"?page_token=", "250"},     // the first link's empty token
	} {
		t.Run(c.query, func(t *testing.T) {
			is := is.New(t)
			r := e.do("GET", "/auth/sessions"+c.query, "", "X-Session-Token", e.a1.token)
			is.Equal(r.StatusCode, 200)
			l := links(t, r.Header.Get("Link"))
			is.Equal(l["first"].Query().Get("page_size"), c.size)
			is.True(l["next"] == nil) // one other session: one page
		})
	}
}

func TestListMySessionsBadPageParams(t *testing.T) {
	e := pagesEnv(t)
	valid, err := store.Cursor{CreatedAt: time.Now(), ID: e.a2.ID}.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{
		"page_size=abc", "page_size=-1", "page_size=1.5", "page_size=99999999999999999999", "page_size=1&page_size=2",
		"page_token=garbage!", "page_token=" + string(valid) + "%3D", "page_token=" + strings.Repeat("A", 5000),
		"page_token=AAAAAAAAAAAAAAAAAA", // decodes, but carries no id
		"page_token=" + string(valid) + "&page_token=" + string(valid),
		"page_size=%zz",
	} {
		t.Run(query, func(t *testing.T) {
			is := is.New(t)
			r := e.do("GET", "/auth/sessions?"+query, "", "X-Session-Token", e.a1.token)
			checkKratos(t, r, 400)
			is.Equal(r.Header.Get("Link"), "")
			// Credentials come first: without them, the same query is a 401.
			r = e.do("GET", "/auth/sessions?"+query, "")
			checkKratos(t, r, 401)
		})
	}
}

// TestListMySessionsLinkKeepsTheRequest checks that the links name the
// path the client asked for, behind a prefix too, and keep the request's
// other parameters.
func TestListMySessionsLinkKeepsTheRequest(t *testing.T) {
	is := is.New(t)
	e := pagesEnv(t)
	e.login("alice")
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", e.h.ListMySessions()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/app/auth/sessions?page_size=1&x=a+b", nil)
	is.NoErr(err)
	req.Header.Set("X-Session-Token", e.a1.token)
	res, err := srv.Client().Do(req)
	is.NoErr(err)
	res.Body.Close()
	is.Equal(res.StatusCode, 200)
	l := links(t, res.Header.Get("Link"))
	is.Equal(l["first"].Path, "/app/auth/sessions")
	is.Equal(l["next"].Path, "/app/auth/sessions")
	is.Equal(l["next"].Query().Get("x"), "a b")
	is.Equal(l["next"].Query().Get("page_size"), "1")
}

// walkAdmin follows the admin list from query through nextCursor and
// returns the ids listed, page by page.
func walkAdmin(t *testing.T, e *env, user, query string) [][]string {
	t.Helper()
	var pages [][]string
	cursor := ""
	for range 1000 {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.do("GET", "/auth/admin/api/users/"+user+"/sessions?"+q, "", "Authorization", "SSWS "+adminToken)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", q, r.StatusCode, r.body)
		}
		var body struct {
			Sessions []struct {
				ID string `json:"id"`
			} `json:"sessions"`
			NextCursor *string `json:"nextCursor"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range body.Sessions {
			ids = append(ids, s.ID)
		}
		pages = append(pages, ids)
		if body.NextCursor == nil {
			return pages
		}
		if *body.NextCursor == "" {
			t.Fatal(`nextCursor is "" rather than left out`)
		}
		cursor = *body.NextCursor
	}
	t.Fatal("no last page")
	return nil
}

func TestAdminListSessionsPages(t *testing.T) {
	e := pagesEnv(t)
	for range 5 {
		e.login("alice")
	}
	e.oldRows("alice", 10)
	ctx := context.Background()
	var active, all []string
	for _, q := range []store.PageQuery{{Limit: 1000, Now: e.m.Now()}, {Limit: 1000, All: true}} {
		p, err := e.st.ListPage(ctx, "alice", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Sessions {
			if q.All {
				all = append(all, s.ID)
			} else {
				active = append(active, s.ID)
			}
		}
	}
	if len(active) != 7 || len(all) != 27 {
		t.Fatalf("fixture: %d active, %d in all", len(active), len(all))
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"limit=2", active},
		{"limit=2&active=true", active},
		{"limit=7", active},
		{"active=false&limit=4", all},
		{"active=false&limit=27", all},
		{"active=false", all},
	} {
		t.Run(c.query, func(t *testing.T) {
			is := is.New(t)
			pages := walkAdmin(t, e, "alice", c.query)
			q, _ := url.ParseQuery(c.query)
			limit := 100
			if v := q.Get("limit"); v != "" {
				limit, _ = strconv.Atoi(v)
			}
			for i, p := range pages {
				if i < len(pages)-1 {
					is.Equal(len(p), limit)
				}
			}
			is.Equal(slices.Concat(pages...), c.want)
			is.Equal(len(pages), (len(c.want)+limit-1)/limit) // no empty last page
		})
	}
}

func TestAdminListSessionsDefaultLimit(t *testing.T) {
	is := is.New(t)
	e := pagesEnv(t)
	for range 120 {
		e.login("alice")
	}
	pages := walkAdmin(t, e, "alice", "")
	is.Equal(len(pages), 2)
	is.Equal(len(pages[0]), 100)
	is.Equal(len(pages[1]), 22)
	pages = walkAdmin(t, e, "alice", "limit=1000")
	is.Equal(len(pages), 1)
}

func TestAdminListSessionsBadPageParams(t *testing.T) {
	e := pagesEnv(t)
	for _, query := range []string{
		"limit=0", "limit=-1", "limit=1001", "limit=abc", "limit=", "limit", "limit=1&limit=2", "limit=%201",
		"cursor=garbage!", "cursor=" + strings.Repeat("A", 5000), "cursor=AAAAAAAAAAAAAAAAAA", "cursor=a&cursor=b",
	} {
		t.Run(query, func(t *testing.T) {
			r := e.do("GET", "/auth/admin/api/users/alice/sessions?"+query, "", "Authorization", "SSWS "+adminToken)
			checkAdmin(t, r, 400, "VALIDATION_FAILED")
			// Credentials come first.
			r = e.do("GET", "/auth/admin/api/users/alice/sessions?"+query, "")
			checkAdmin(t, r, 401, "ADMIN_SESSION_INVALID")
		})
	}
}

func TestAdminListSessionsKnownUsers(t *testing.T) {
	is := is.New(t)
	e := pagesEnv(t)
	admin := []string{"Authorization", "SSWS " + adminToken}
	e.oldRows("carol", 1) // only a revoked and an expired session: known, none active

	r := e.do("GET", "/auth/admin/api/users/carol/sessions", "", admin...)
	is.Equal(r.StatusCode, 200)
	is.Equal(strings.TrimSpace(string(r.body)), `{"sessions":[]}`)
	is.Equal(len(walkAdmin(t, e, "carol", "active=false")[0]), 2)

	r = e.do("GET", "/auth/admin/api/users/nobody/sessions", "", admin...)
	checkAdmin(t, r, 404, "USER_NOT_FOUND")
	r = e.do("GET", "/auth/admin/api/users/nobody/sessions?active=false", "", admin...)
	checkAdmin(t, r, 404, "USER_NOT_FOUND")

	// A cursor past alice's last session: an empty page of a known user.
	c, err := store.Cursor{CreatedAt: time.Unix(1, 0), ID: "x"}.MarshalText()
	is.NoErr(err)
	r = e.do("GET", "/auth/admin/api/users/alice/sessions?cursor="+string(c), "", admin...)
	is.Equal(r.StatusCode, 200)
	is.Equal(strings.TrimSpace(string(r.body)), `{"sessions":[]}`)
}

// TestNoRequestListsEveryRow sends every route a request that succeeds and
// one for an unknown user where it names one: none reads all of a user's
// rows (List); each reads a page, or one row to know the user.
func TestNoRequestListsEveryRow(t *testing.T) {
	is := is.New(t)
	e := pagesEnv(t)
	e.oldRows("alice", 5)
	admin := []string{"Authorization", "SSWS " + adminToken}
	alice := []string{"X-Session-Token", e.a1.token}
	for _, c := range []struct {
		method, path string
		headers      []string
		status       int
	}{
		{"GET", "/auth/sessions", alice, 200},
		{"GET", "/auth/sessions/whoami", alice, 200},
		{"DELETE", "/auth/sessions/" + e.a2.ID, alice, 204},
		{"DELETE", "/auth/sessions", alice, 200},
		{"GET", "/auth/admin/api/users/alice/sessions", admin, 200},
		{"GET", "/auth/admin/api/users/alice/sessions?active=false", admin, 200},
		{"GET", "/auth/admin/api/users/nobody/sessions", admin, 404},
		{"DELETE", "/auth/admin/api/users/bob/sessions/" + e.b1.ID, admin, 200},
		{"DELETE", "/auth/admin/api/users/nobody/sessions/" + e.b1.ID, admin, 404},
		{"DELETE", "/auth/admin/api/users/alice/sessions", admin, 200},
		{"DELETE", "/auth/admin/api/users/nobody/sessions", admin, 404},
		{"DELETE", "/api/v1/users/alice/sessions", admin, 204},
		{"DELETE", "/api/v1/users/nobody/sessions", admin, 404},
		{"POST", "/api/v1/users/me/lifecycle/delete_sessions", []string{"Cookie", e.cookie(e.r1.token), "Sec-Fetch-Site", "same-origin"}, 200},
	} {
		r := e.do(c.method, c.path, "", c.headers...)
		is.Equal(r.StatusCode, c.status) // the request did its work
	}
	is.Equal(e.st.lists.Load(), int64(0)) // and no request listed every row
}
