package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/revokehq/revoke/store"
)

// The statements of ListPage, in store.Cursor's order. Each asks for one
// session more than the page holds, to tell whether another page follows;
// the "after" ones start past the cursor (?3, ?4, or ?4, ?5).
const (
	// A page of all sessions is a range of the page index, read in order
	// and cut off at the limit.
	sqlPageAll = `SELECT ` + selected + ` FROM sessions INDEXED BY sessions_by_user_page
		WHERE user_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2`
	sqlPageAllAfter = `SELECT ` + selected + ` FROM sessions INDEXED BY sessions_by_user_page
		WHERE user_id = ?1 AND (created_at, id) < (?3, ?4)
		ORDER BY created_at DESC, id DESC LIMIT ?2`

	// A page of active sessions (MIN(...) > ?2 is activeAt) picks its rows
	// from the range of the user's live sessions in the live index, which
	// holds no revoked or expired one, sorting only those and reading
	// nothing but the index; then it reads the page's rows.
	sqlPageLive = `SELECT ` + selected + ` FROM sessions WHERE rowid IN (
			SELECT rowid FROM sessions INDEXED BY sessions_live_by_user
			WHERE user_id = ?1 AND revoked_at IS NULL AND MIN(expires_at, idle_expires_at) > ?2
			ORDER BY created_at DESC, id DESC LIMIT ?3)
		ORDER BY created_at DESC, id DESC`
	sqlPageLiveAfter = `SELECT ` + selected + ` FROM sessions WHERE rowid IN (
			SELECT rowid FROM sessions INDEXED BY sessions_live_by_user
			WHERE user_id = ?1 AND revoked_at IS NULL AND MIN(expires_at, idle_expires_at) > ?2
				AND (created_at, id) < (?4, ?5)
			ORDER BY created_at DESC, id DESC LIMIT ?3)
		ORDER BY created_at DESC, id DESC`
)

// LoadPage implements store.Database. A page of all sessions costs the
// page. A page of active ones costs the page and a sort of the user's live
// sessions' index entries: revoked and expired rows cost it nothing.
func (d database) LoadPage(ctx context.Context, userID string, q store.PageQuery) ([]store.Session, error) {
	var (
		st   *sql.Stmt
		args = []any{userID}
	)
	if !q.All {
		args = append(args, nanos(q.Now))
	}
	args = append(args, q.Limit+1)
	if !q.After.IsZero() {
		args = append(args, nanos(q.After.CreatedAt), q.After.ID)
	}
	switch {
	case q.All && q.After.IsZero():
		st = d.pageAll
	case q.All:
		st = d.pageAllAfter
	case q.After.IsZero():
		st = d.pageLive
	default:
		st = d.pageLiveAfter
	}
	return d.loadAll(ctx, "list page", st, args...)
}
