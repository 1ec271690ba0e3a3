package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.SignInStore = (*Store)(nil)

// sqlReauthenticate records a new authentication on an active session,
// checking its user's not-before time against the new authentication time
// ?4 in the same statement.
var sqlReauthenticate = `UPDATE sessions SET token_hash = ?2, authenticated_at = ?4, auth_methods = ?5
	WHERE id = ?3 AND ` + activeAt + ` AND NOT ` + refusedFor("sessions.user_id", "?4")

// Reauthenticate implements store.SignInStore. Like Create, it refuses
// times outside the storable range (years 1678 to 2262).
func (s *Store) Reauthenticate(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) error {
	return s.ReauthenticateWith(ctx, id, newHash, at, methods, now)
}

// ReauthenticateActive implements store.SignInDatabase.
func (d database) ReauthenticateActive(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) (bool, error) {
	res, err := d.reauthenticate.ExecContext(ctx, nanos(now), newHash[:], id, at.UnixNano(), methodsArg(methods))
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("reauthenticate", res, err)
}

// methodsArg and labelsArg are the columns of a session's sign-in details.
func methodsArg(m []store.AuthMethod) sql.NullString {
	s, ok := store.EncodeMethods(m)
	return sql.NullString{String: s, Valid: ok}
}

func labelsArg(l map[string]string) sql.NullString {
	s, ok := store.EncodeLabels(l)
	return sql.NullString{String: s, Valid: ok}
}

// readSignIn sets the sign-in details of sess from their columns.
func readSignIn(sess *store.Session, methods, labels string) (err error) {
	if sess.AuthMethods, err = store.DecodeMethods(methods); err != nil {
		return err
	}
	sess.Labels, err = store.DecodeLabels(labels)
	return err
}
