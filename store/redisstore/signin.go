package redisstore

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.SignInStore = (*Store)(nil)

// Reauthenticate implements store.SignInStore. Like Create, it refuses
// times outside the storable range (the years 1700 to 2249).
func (s *Store) Reauthenticate(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) error {
	return s.ReauthenticateWith(ctx, id, newHash, at, methods, now)
}

// ReauthenticateActive implements store.SignInDatabase: one script, which
// checks that the session is active and that its user's not-before time
// allows at, then replaces the token hash, the authentication time and the
// methods.
func (d database) ReauthenticateActive(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []store.AuthMethod, now time.Time) (bool, error) {
	encoded, _ := store.EncodeMethods(methods) // "" for none
	return d.changed("reauthenticate", d.run(ctx, reauthenticateScript, nil, id, hashArg(newHash), microsArg(now), microsArg(at), encoded))
}
