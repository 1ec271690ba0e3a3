package pgstore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

// pageQueries are the statements of ListPage, in store.Cursor's order (ids
// compared byte by byte, as the page index holds them). Each asks for one
// session more than the page holds, to tell whether another page follows;
// the "after" ones start past the cursor.
type pageQueries struct {
	all, allAfter, live, liveAfter string
}

func newPageQueries(n names) pageQueries {
	const order = ` ORDER BY created_at DESC, id COLLATE "C" DESC`
	// The user's live sessions (LEAST(...) > $2 is activeAt), from the live
	// index, which holds no revoked or expired one. MATERIALIZED keeps the
	// planner from walking the page index instead, in the order wanted,
	// past every revoked and expired row until the page is full: with a
	// LIMIT, that plan looks cheap, and for a user with thousands of old
	// rows it is not.
	// Only the keys are kept and sorted; the page's rows are read after,
	// through the primary key, from an array of their ids: with IN
	// (subquery) the planner may join against the whole table.
	live := func(after string) string {
		return `WITH live AS MATERIALIZED (
				SELECT id, created_at FROM {table}
				WHERE user_id = $1 AND revoked_at IS NULL AND LEAST(expires_at, idle_expires_at) > $2)
			SELECT ` + selected + ` FROM {table} WHERE id = ANY (ARRAY(
				SELECT id FROM live ` + after + order + ` LIMIT $3))` + order
	}
	return pageQueries{
		// A range of the page index, read in order and cut off at the limit.
		all: n.expand(`SELECT ` + selected + ` FROM {table} WHERE user_id = $1` +
			order + ` LIMIT $2`),
		allAfter: n.expand(`SELECT ` + selected + ` FROM {table}
			WHERE user_id = $1 AND (created_at, id COLLATE "C") < ($3, $4)` + order + ` LIMIT $2`),
		live:      n.expand(live("")),
		liveAfter: n.expand(live(`WHERE (created_at, id COLLATE "C") < ($4, $5)`)),
	}
}

// LoadPage implements store.Database. A page of all sessions costs the
// page. A page of active ones costs the page and a sort of the user's live
// sessions: revoked and expired rows cost it nothing.
func (d database) LoadPage(ctx context.Context, userID string, q store.PageQuery) ([]store.Session, error) {
	query, args := d.q.page.all, []any{userID}
	if !q.All {
		query = d.q.page.live
		args = append(args, ts(q.Now))
	}
	args = append(args, q.Limit+1)
	if !q.After.IsZero() {
		query = d.q.page.allAfter
		if !q.All {
			query = d.q.page.liveAfter
		}
		at, id := afterMicros(q.After)
		args = append(args, at, id)
	}
	return d.loadAll(ctx, "list page", query, args...)
}

// afterMicros returns the cursor as the table's microseconds can hold it.
// Stored times are whole microseconds, so one with a fraction of a
// microsecond lies strictly between two of them: every row up to the
// microsecond below it comes after it, whatever its id, which is the
// position before every row of the microsecond above.
func afterMicros(c store.Cursor) (time.Time, string) {
	t := ts(c.CreatedAt)
	if !t.Equal(c.CreatedAt) && !c.CreatedAt.Before(minTime) && !c.CreatedAt.After(maxTime) {
		return t.Add(time.Microsecond), ""
	}
	return t, c.ID
}
