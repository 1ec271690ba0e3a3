package revoke

import (
	"context"
	"errors"
	"fmt"

	"github.com/revokehq/revoke/store"
)

// Page sizes of Sessions.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Sessions returns a page of the user's active sessions, newest first: at
// most limit of them (DefaultPageLimit for a limit of 0 or less, and never
// more than MaxPageLimit), after the position after (the zero store.Cursor
// for the first page). The page's Next is where the next page starts, zero
// on the last page:
//
//	var after store.Cursor
//	for {
//		page, err := m.Sessions(ctx, userID, 50, after)
//		if err != nil {
//			return err
//		}
//		// ... use page.Sessions
//		if page.Next.IsZero() {
//			break // the last page
//		}
//		after = page.Next
//	}
//
// Revoked and expired sessions are not listed, and the page costs what the
// store's ListPage does: never more for the user's revoked sessions,
// however many there are.
func (m *Manager) Sessions(ctx context.Context, userID string, limit int, after store.Cursor) (store.Page, error) {
	if userID == "" {
		return store.Page{}, errors.New("revoke: empty user id")
	}
	if limit <= 0 {
		limit = DefaultPageLimit
	}
	q := store.PageQuery{Limit: min(limit, MaxPageLimit), After: after, Now: m.now()}
	p, err := m.calls.ListPage(ctx, userID, q)
	if err != nil {
		return store.Page{}, fmt.Errorf("revoke: list sessions: %w", err)
	}
	return p, nil
}
