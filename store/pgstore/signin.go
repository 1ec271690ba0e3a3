package pgstore

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/revokehq/revoke/store"
)

var (
	_ store.SignInStore    = (*Store)(nil)
	_ store.SignInDatabase = database{}
)

// reauthenticateQuery records a new authentication on an active session,
// checking its user's not-before time against the new authentication time
// $4 in the same statement, and publishes the session's invalidation (see
// announced). It needs no user lock, unlike an insert: a revocation racing
// it locks the same row, and whichever waits re-checks its condition on the
// other's result.
var reauthenticateQuery = announced(`UPDATE {table} AS s
	SET token_hash = $2, authenticated_at = $4::timestamptz, auth_methods = $5
	WHERE s.id = $3 AND ` + activeAt + ` AND NOT ` + `(s.user_id <> '' AND EXISTS (SELECT 1 FROM {not_before} AS nb
		WHERE nb.user_id = s.user_id AND nb.not_before > $4::timestamptz))`)

// Reauthenticate implements store.SignInStore. Times are stored truncated
// to the microsecond.
func (s *Store) Reauthenticate(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) error {
	return s.ReauthenticateWith(ctx, id, newHash, at, methods, now)
}

// ReauthenticateActive implements store.SignInDatabase.
func (d database) ReauthenticateActive(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) (bool, error) {
	tag, err := d.pool.Exec(ctx, d.q.reauthenticate, ts(now), newHash[:], id, ts(at), methodsArg(methods))
	if isDuplicate(err) {
		return false, store.ErrDuplicate
	}
	return d.changed("reauthenticate", tag, err)
}

// methodsArg and labelsArg are the columns of a session's sign-in details:
// JSON text, or NULL for none.
func methodsArg(m []store.AuthMethod) *string {
	if s, ok := store.EncodeMethods(m); ok {
		return &s
	}
	return nil
}

func labelsArg(l map[string]string) *string {
	if s, ok := store.EncodeLabels(l); ok {
		return &s
	}
	return nil
}

// readSignIn sets the sign-in details of sess from their columns.
func readSignIn(sess *store.Session, methods, labels *string) (err error) {
	if methods != nil {
		if sess.AuthMethods, err = store.DecodeMethods(*methods); err != nil {
			return err
		}
	}
	if labels != nil {
		sess.Labels, err = store.DecodeLabels(*labels)
	}
	return err
}
