package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/revokehq/revoke/store"
)

// Page sizes of the lists, as the contract sets them: Kratos's own for
// GET /auth/sessions, and the admin family's.
const (
	kratosDefaultPageSize = 250
	kratosMaxPageSize     = 1000
	adminDefaultLimit     = 100
	adminMaxLimit         = 1000
)

// errBadPageParam is a page parameter no list accepts.
var errBadPageParam = errors.New("handlers: bad page parameter")

// storeHasUser reports whether the store holds a session of the user, in
// any state: one indexed read of one row, however many the user has.
func (h *Handlers) storeHasUser(ctx context.Context, userID string) (bool, error) {
	p, err := h.m.Store().ListPage(ctx, userID, store.PageQuery{Limit: 1, All: true})
	return len(p.Sessions) > 0, err
}

// singleParam returns the one value of the query parameter name, "" when it
// is absent, and an error when it is given more than once: which one was
// meant cannot be known.
func singleParam(q url.Values, name string) (string, error) {
	vs := q[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", errBadPageParam
}

// pageCursor reads the opaque cursor of a list; empty is the first page.
func pageCursor(q url.Values, name string) (store.Cursor, error) {
	v, err := singleParam(q, name)
	if err != nil {
		return store.Cursor{}, err
	}
	var c store.Cursor
	if err := c.UnmarshalText([]byte(v)); err != nil {
		return store.Cursor{}, errBadPageParam
	}
	return c, nil
}

// cursorText is the opaque token of c, "" for the zero Cursor.
func cursorText(c store.Cursor) (string, error) {
	b, err := c.MarshalText()
	return string(b), err
}

// kratosPageSize reads page_size as Kratos does: absent, empty or 0 is the
// default, more than the maximum is the maximum; anything but a
// non-negative integer is refused.
func kratosPageSize(q url.Values) (int, error) {
	v, err := singleParam(q, "page_size")
	if err != nil {
		return 0, err
	}
	if v == "" {
		return kratosDefaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 0:
		return 0, errBadPageParam
	case n == 0:
		return kratosDefaultPageSize, nil
	}
	return min(n, kratosMaxPageSize), nil
}

// adminLimit reads limit: absent is the default, and anything but an
// integer from 1 to the maximum is refused.
func adminLimit(q url.Values) (int, error) {
	v, err := singleParam(q, "limit")
	if err != nil {
		return 0, err
	}
	if v == "" && !q.Has("limit") {
		return adminDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > adminMaxLimit {
		return 0, errBadPageParam
	}
	return n, nil
}

// kratosLink is the Link header of a page of GET /auth/sessions, as Kratos
// writes it and Ory's clients read it: the first page always, the next one
// when more follow, each with page_size and page_token and the request's
// other parameters. The path is the one the client asked for (RequestURI),
// so the links hold behind http.StripPrefix too.
func kratosLink(r *http.Request, q url.Values, size int, next string) string {
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		path = u.EscapedPath()
	}
	link := func(token, rel string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page_size", strconv.Itoa(size))
		v.Set("page_token", token)
		return "<" + path + "?" + v.Encode() + `>; rel="` + rel + `"`
	}
	out := link("", "first")
	if next != "" {
		out += "," + link(next, "next")
	}
	return out
}
