package revoke

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/revokehq/revoke/store"
)

// ReasonProviderLogout is recorded for the sessions revoked because the
// identity provider signed the user out (back-channel logout, Universal
// Logout).
const ReasonProviderLogout = "signed out at the identity provider"

// ErrProviderSessionEnded is returned by Create and Login with FromProvider
// when the provider ended its session (a back-channel logout for its sid)
// before the sign-in finished: the sign-in must be done again. It is the
// same value as store.ErrProviderSessionEnded.
var ErrProviderSessionEnded = store.ErrProviderSessionEnded

// ProviderSessionMemory is how long a provider session that a logout ended
// is remembered, so that a sign-in it overtook (an authorization code
// exchanged before the logout, its session created after) is refused.
const ProviderSessionMemory = 24 * time.Hour

// ProviderIdentity is where a sign-in through an OpenID provider came from,
// as its ID token says.
type ProviderIdentity struct {
	Issuer  string // iss
	Subject string // sub
	SID     string // sid, the provider's session id; empty when it sent none
}

// FromProvider records with the session that the user signed in through the
// OpenID provider issuer as subject, in the provider's session sid (all
// three from the verified ID token; sid may be empty), and maps (issuer,
// subject) to the session's user. A back-channel logout from the provider
// for sid, or for subject, then revokes the session. It needs a store
// that implements store.ProviderStore.
//
// When the provider's logout for sid arrives while the sign-in is still
// being made, the sign-in fails with ErrProviderSessionEnded and leaves no
// usable session.
func FromProvider(issuer, subject, sid string) LoginOption {
	return func(l *login) error {
		if issuer == "" || subject == "" {
			return errors.New("revoke: FromProvider needs an issuer and a subject")
		}
		l.provider = &ProviderIdentity{Issuer: issuer, Subject: subject, SID: sid}
		return nil
	}
}

// checkProvider refuses FromProvider on a store that cannot keep it, before
// anything is created.
func (m *Manager) checkProvider(p *ProviderIdentity) error {
	if p == nil {
		return nil
	}
	if _, ok := m.store.(store.ProviderStore); !ok {
		return fmt.Errorf("revoke: FromProvider: %w: provider sessions", store.ErrUnsupported)
	}
	return nil
}

// linkProvider links the new session s to its provider sign-in. The link
// comes after the session, so that a logout racing the sign-in either finds
// the link or has ended the provider session first, which the link then
// refuses; a refused or failed link revokes s.
func (m *Manager) linkProvider(ctx context.Context, s Session, p *ProviderIdentity) error {
	if p == nil {
		return nil
	}
	err := store.LinkProviderSession(ctx, m.store, store.ProviderLink{
		Issuer: p.Issuer, Subject: p.Subject, SID: p.SID,
		SessionID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt,
	}, m.now())
	if err == nil {
		return nil
	}
	reason := ReasonProviderLogout
	if !errors.Is(err, store.ErrProviderSessionEnded) {
		reason = "sign-in not completed"
	}
	if _, rerr := m.store.Revoke(context.WithoutCancel(ctx), store.Selection{UserID: s.UserID, SessionID: s.ID}, m.now(), reason); rerr != nil {
		// The session is unusable only once revoked; say so loudly.
		m.logger.ErrorContext(ctx, "revoke: a session whose provider link failed could not be revoked",
			"session_id", s.ID, "err", rerr)
		return fmt.Errorf("revoke: link provider session: %w (and revoking the session failed: %w)", err, rerr)
	}
	if errors.Is(err, store.ErrProviderSessionEnded) {
		return err
	}
	return fmt.Errorf("revoke: link provider session: %w", err)
}

// ProviderUser returns the app user that subject of the OpenID provider
// issuer signed in as last (see FromProvider), or ErrNotFound.
func (m *Manager) ProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	return store.ProviderUser(ctx, m.store, issuer, subject)
}

// RevokeProviderSession revokes the sessions that the OpenID provider's
// session sid started (see FromProvider), as a back-channel logout asks,
// and returns how many it revoked. With a subject, only the sessions
// signed in as that subject are revoked. It costs O(those sessions). The
// provider session is remembered as ended for ProviderSessionMemory, so
// that a sign-in still in flight for it is refused too. Each user whose
// sessions it revoked gets one Event.
func (m *Manager) RevokeProviderSession(ctx context.Context, issuer, sid, subject string, c Cause) (int, error) {
	if issuer == "" || sid == "" {
		return 0, errors.New("revoke: RevokeProviderSession needs an issuer and a sid")
	}
	now := m.now()
	links, err := store.EndProviderSession(ctx, m.store, issuer, sid, now, now.Add(ProviderSessionMemory))
	if err != nil {
		return 0, fmt.Errorf("revoke: end provider session: %w", err)
	}
	byUser := make(map[string][]string)
	var users []string
	for _, l := range links {
		if subject != "" && l.Subject != subject {
			continue
		}
		ids, err := m.revokeInStore(ctx, store.Selection{UserID: l.UserID, SessionID: l.SessionID}, c, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue // cleaned up meanwhile
		case err != nil:
			m.emitByUser(ctx, c, users, byUser, now)
			return countIDs(byUser), fmt.Errorf("revoke: revoke provider session: %w", err)
		}
		if _, seen := byUser[l.UserID]; !seen {
			users = append(users, l.UserID)
		}
		byUser[l.UserID] = append(byUser[l.UserID], ids...)
	}
	m.emitByUser(ctx, c, users, byUser, now)
	return countIDs(byUser), nil
}

func (m *Manager) emitByUser(ctx context.Context, c Cause, users []string, byUser map[string][]string, at time.Time) {
	for _, u := range users {
		m.emit(ctx, Event{Cause: c, UserID: u, SessionIDs: byUser[u], At: at})
	}
}

func countIDs(byUser map[string][]string) int {
	n := 0
	for _, ids := range byUser {
		n += len(ids)
	}
	return n
}
