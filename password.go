package revoke

import (
	"net/http"

	"github.com/revokehq/revoke/store"
)

// ReasonPasswordChanged is recorded for the sessions PasswordChanged ends.
const ReasonPasswordChanged = "password changed"

// PasswordChanged is what an app calls once it has stored a user's new
// password, on the request that changed it: every other session of the
// user is revoked, the current one gets a new token (its lifetime stays),
// and the user's not-before time moves to now, so that a sign-in that
// checked the old password before this call and creates its session after
// it is refused (see AuthenticatedAt). The OnRevoke hooks hear of it once.
// It returns the current session's new token (also set in the cookie when
// the session came from it) and how many sessions it revoked.
func (m *Manager) PasswordChanged(w http.ResponseWriter, r *http.Request) (token string, revoked int, err error) {
	cur, err := m.current(r)
	if err != nil {
		return "", 0, err
	}
	if cur.bare {
		return "", 0, ErrRenewElsewhere
	}
	// The new token first: if the session has just been revoked, nothing
	// else changes.
	token, err = m.renew(w, r, cur)
	if err != nil {
		return "", 0, err
	}
	c := Cause{Actor: UserActor(cur.UserID), Reason: ReasonPasswordChanged}
	ids, at, err := m.revoke(r.Context(), store.Selection{UserID: cur.UserID, ExceptID: cur.ID}, c, true)
	if err != nil {
		return token, 0, err
	}
	m.emit(r.Context(), Event{Cause: c, UserID: cur.UserID, SessionIDs: ids, At: at})
	return token, len(ids), nil
}
