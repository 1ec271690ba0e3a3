package memstore

import (
	"context"
	"slices"

	"github.com/revokehq/revoke/store"
)

// userPages holds one user's sessions in the order of store.Cursor,
// reversed: the oldest first, so that a new session, almost always the
// newest, is appended. A page is a binary search for its cursor and a walk
// from there.
type userPages struct {
	all       []*store.Session
	unrevoked []*store.Session // the ones not revoked, for active pages
}

// before reports whether a is older than b in the listing order.
func before(a, b *store.Session) int {
	return store.CursorOf(*b).Compare(store.CursorOf(*a))
}

// insertSorted puts p into list at its place.
func insertSorted(list []*store.Session, p *store.Session) []*store.Session {
	i, _ := slices.BinarySearchFunc(list, p, before)
	return slices.Insert(list, i, p)
}

// deleteSorted takes p out of list.
func deleteSorted(list []*store.Session, p *store.Session) []*store.Session {
	i, found := slices.BinarySearchFunc(list, p, before)
	if found && list[i] == p {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// pageIndexLocked adds p to its user's pages.
func (s *Store) pageIndexLocked(p *store.Session) {
	up := s.pages[p.UserID]
	if up == nil {
		up = new(userPages)
		s.pages[p.UserID] = up
	}
	up.all = insertSorted(up.all, p)
	if !p.Revoked() {
		up.unrevoked = insertSorted(up.unrevoked, p)
	}
}

// pageUnindexLocked takes p out of its user's pages.
func (s *Store) pageUnindexLocked(p *store.Session) {
	up := s.pages[p.UserID]
	if up == nil {
		return
	}
	up.all = deleteSorted(up.all, p)
	up.unrevoked = deleteSorted(up.unrevoked, p)
	if len(up.all) == 0 {
		delete(s.pages, p.UserID)
	}
}

// pruneRevokedLocked drops the user's revoked sessions from the pages of
// active ones, in one pass however many a revocation revoked.
func (s *Store) pruneRevokedLocked(userID string) {
	if up := s.pages[userID]; up != nil {
		up.unrevoked = slices.DeleteFunc(up.unrevoked, (*store.Session).Revoked)
	}
}

// pruneDeletedLocked drops the sessions no longer held from the pages of
// the given users, in one pass per user however many a cleanup deleted.
func (s *Store) pruneDeletedLocked(users map[string]struct{}) {
	gone := func(p *store.Session) bool { return s.byID[p.ID] != p }
	for u := range users {
		up := s.pages[u]
		if up == nil {
			continue
		}
		up.all = slices.DeleteFunc(up.all, gone)
		up.unrevoked = slices.DeleteFunc(up.unrevoked, gone)
		if len(up.all) == 0 {
			delete(s.pages, u)
		}
	}
}

// ListPage implements store.SessionStore. A page costs a binary search and
// a walk over the page: an active page skips no revoked session, but does
// walk past the expired ones not yet cleaned up that lie between the
// cursor and the page's last session.
func (s *Store) ListPage(_ context.Context, userID string, q store.PageQuery) (store.Page, error) {
	if err := q.Check(); err != nil {
		return store.Page{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Page{}, store.ErrClosed
	}
	up := s.pages[userID]
	if up == nil {
		return store.Page{}, nil
	}
	list := up.unrevoked
	if q.All {
		list = up.all
	}
	// Everything below i is listed after q.After.
	i := len(list)
	if !q.After.IsZero() {
		i, _ = slices.BinarySearchFunc(list, q.After, func(p *store.Session, c store.Cursor) int {
			return c.Compare(store.CursorOf(*p))
		})
	}
	var page store.Page
	for i--; i >= 0; i-- {
		p := list[i]
		if !q.All && !p.Active(q.Now) {
			continue
		}
		if len(page.Sessions) == q.Limit {
			page.Next = store.CursorOf(page.Sessions[q.Limit-1])
			break
		}
		if page.Sessions == nil {
			// Small at first: an active page is often far shorter than
			// its limit.
			page.Sessions = make([]store.Session, 0, min(q.Limit, i+1, 16))
		}
		page.Sessions = append(page.Sessions, copyOf(p))
	}
	return page, nil
}
