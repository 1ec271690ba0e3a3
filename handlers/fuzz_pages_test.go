package handlers_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// pageQueryOK says whether a query of the paged lists is valid, from the
// contract: it parses; each page parameter appears at most once; the size
// is a whole number (Kratos: 0 or more, empty allowed; admin: 1 to 1000);
// the token is empty or one a page gave out; active is true or false in
// any case. size is the page size the query asks for.
func pageQueryOK(raw string, admin bool) (size int, ok bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return 0, false
	}
	sizeName, tokenName, size := "page_size", "page_token", 250
	if admin {
		sizeName, tokenName, size = "limit", "cursor", 100
		if vs, present := q["active"]; present && (len(vs) != 1 || !strings.EqualFold(vs[0], "true") && !strings.EqualFold(vs[0], "false")) {
			return 0, false
		}
	}
	for _, name := range []string{sizeName, tokenName} {
		if len(q[name]) > 1 {
			return 0, false
		}
	}
	if vs, present := q[sizeName]; present && (vs[0] != "" || admin) {
		n, err := strconv.Atoi(vs[0])
		switch {
		case err != nil || n < 0 || admin && (n < 1 || n > 1000):
			return 0, false
		case n > 0:
			size = min(n, 1000)
		}
	}
	if v := q.Get(tokenName); v != "" {
		var c store.Cursor
		if c.UnmarshalText([]byte(v)) != nil {
			return 0, false
		}
	}
	return size, true
}

// FuzzListQueries sends the paged lists any query: a valid one gets a page
// of the caller's sessions only, an invalid one a 400 in the family's
// shape; none is a server error, and none revokes anything.
func FuzzListQueries(f *testing.F) {
	w := newFzWorld(f)
	tok, err := store.Cursor{CreatedAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), ID: "a2"}.MarshalText()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "page_size=1", "page_size=0", "page_size=5000", "page_size=-1", "page_size=abc", "page_size=",
		"page_token=", "page_token=" + string(tok), "page_token=garbage!", "page_size=1&page_size=1",
		"limit=1", "limit=0", "limit=1001", "limit=", "cursor=" + string(tok), "cursor=AAAA", "active=false&limit=1",
		"active=FALSE", "active=maybe", "limit=%31", "page_size=+5", "limit=1;cursor=x", "%zz",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, query string, admin bool) {
		path, auth := "/auth/sessions", "X-Session-Token: "+fzSessions[0].token
		if admin {
			path, auth = "/auth/admin/api/users/alice/sessions", "Authorization: SSWS "+adminToken
		}
		raw := "GET " + path + "?" + query + " HTTP/1.1\r\nHost: example.com\r\n" + auth + "\r\n\r\n"
		r, req, ok := w.serve(t, raw)
		if !ok || req.URL.Path != path {
			return
		}
		noServerError(t, r)
		if revoked := w.revoked(t); len(revoked) > 0 {
			t.Fatalf("a list revoked %v", revoked)
		}
		size, valid := pageQueryOK(req.URL.RawQuery, admin)
		if !valid {
			if admin {
				checkAdmin(t, r, 400, "VALIDATION_FAILED")
			} else {
				checkKratos(t, r, 400)
			}
			return
		}
		if r.StatusCode != 200 {
			t.Fatalf("a valid query %q got %d %s", req.URL.RawQuery, r.StatusCode, r.body)
		}
		// alice's sessions share one creation time: a2 comes before a1.
		mine := []string{"a2", "a1"}
		var ids []string
		if admin {
			var body struct {
				Sessions []struct {
					ID string `json:"id"`
				} `json:"sessions"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			for _, s := range body.Sessions {
				ids = append(ids, s.ID)
			}
		} else {
			mine = []string{"a2"} // the current session, a1, is whoami's
			var list []struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r.body, &list); err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			if !strings.Contains(r.Header.Get("Link"), "page_size="+strconv.Itoa(size)+"&") {
				t.Fatalf("query %q: Link %q does not carry page_size %d", req.URL.RawQuery, r.Header.Get("Link"), size)
			}
		}
		if len(ids) > size {
			t.Fatalf("query %q: %d sessions on a page of %d", req.URL.RawQuery, len(ids), size)
		}
		// A page is a run of the caller's sessions in order.
		if i := slices.Index(mine, firstOr(ids, "")); len(ids) > 0 && (i < 0 || !slices.Equal(mine[i:min(len(mine), i+len(ids))], ids)) {
			t.Fatalf("query %q listed %v; the caller's sessions in order are %v", req.URL.RawQuery, ids, mine)
		}
	})
}

func firstOr(ids []string, none string) string {
	if len(ids) == 0 {
		return none
	}
	return ids[0]
}
