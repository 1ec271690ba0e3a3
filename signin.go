package revoke

import (
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/revokehq/revoke/store"
)

// AuthMethod is one way a user proved who they are for a session (see
// AuthenticatedWith and Reauthenticated); see store.AuthMethod.
type AuthMethod = store.AuthMethod

// The assurance levels of an AuthMethod, as Ory Kratos names them.
const (
	AAL1 = store.AAL1 // one factor: a password, a passkey, a code by mail
	AAL2 = store.AAL2 // a second factor as well: TOTP, a security key
	AAL3 = store.AAL3 // a hardware authenticator that resists phishing
)

// AuthenticatedWith records how the user signed in, such as
// AuthMethod{Method: "password", AAL: AAL1}, in the order the methods were
// completed. A method without a CompletedAt completed when the session was
// authenticated (see AuthenticatedAt). Whoami and the session lists show
// them, and the session's assurance level, the highest of theirs. The
// store must implement store.SignInStore; at most store.MaxMethods.
func AuthenticatedWith(methods ...AuthMethod) LoginOption {
	return func(l *login) error {
		if len(methods) == 0 {
			return errors.New("revoke: AuthenticatedWith needs a method")
		}
		l.methods = append(l.methods, methods...)
		return nil
	}
}

// Label attaches a small label to the session, such as the tenant or the
// device name the user typed, which the session lists and the OnLogin
// hooks carry. A session has at most store.MaxLabels, each key 1 to 32 of
// a-z, 0-9, _, . and -, each value 1 to 128 bytes of UTF-8 without
// control characters. The store must implement store.SignInStore.
func Label(key, value string) LoginOption {
	return func(l *login) error {
		if _, ok := l.labels[key]; ok {
			return fmt.Errorf("revoke: label %q given twice", key)
		}
		if l.labels == nil {
			l.labels = map[string]string{}
		}
		l.labels[key] = value
		return nil
	}
}

// applySignIn sets the sign-in details of l on s, whose authentication time
// is set, and refuses them, before anything is stored, when they are out of
// bounds or the store would not keep them.
func (m *Manager) applySignIn(s *Session, l login) error {
	if len(l.methods) == 0 && len(l.labels) == 0 {
		return nil
	}
	if _, ok := m.store.(store.SignInStore); !ok {
		return fmt.Errorf("revoke: authentication methods and labels: %w", store.ErrUnsupported)
	}
	s.AuthMethods = completed(l.methods, s)
	s.Labels = maps.Clone(l.labels)
	if err := s.CheckSignIn(s.Authenticated().AddDate(-1, 0, 0), s.CreatedAt); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}

// completed returns methods with the session's authentication time for
// each CompletedAt not given.
func completed(methods []AuthMethod, s *Session) []AuthMethod {
	out := make([]AuthMethod, len(methods))
	for i, am := range methods {
		if am.CompletedAt.IsZero() {
			am.CompletedAt = s.Authenticated()
		}
		out[i] = am
	}
	return out
}

// Reauthenticated records, on the current session of r, that the user has
// just proved who they are again with the given methods (the password
// typed again, a security key): the session's authentication time becomes
// now, so RequireFresh passes it, and the methods are added to its
// AuthMethods (the oldest dropped beyond store.MaxMethods). The session
// gets a new token at the same step, as a change of privilege wants; when
// it came from the cookie, a new cookie is set on w. The new token is
// returned. The request's context still holds the session as it was.
//
// It fails with ErrNoSession or another resolve error for a request without
// a usable session, with ErrRenewElsewhere for a session in another
// library's token cookie, and with store.ErrUnsupported when the store is
// not a store.SignInStore.
func (m *Manager) Reauthenticated(w http.ResponseWriter, r *http.Request, methods ...AuthMethod) (string, error) {
	if len(methods) == 0 {
		return "", errors.New("revoke: Reauthenticated needs a method")
	}
	cur, err := m.current(r)
	if err != nil {
		return "", err
	}
	if cur.bare {
		return "", ErrRenewElsewhere
	}
	now := m.now()
	fresh := cur.Session
	fresh.AuthenticatedAt = now
	all := append(append([]AuthMethod{}, cur.AuthMethods...), completed(methods, &fresh)...)
	if over := len(all) - store.MaxMethods; over > 0 {
		all = all[over:]
	}
	token := newToken()
	err = store.Reauthenticate(r.Context(), m.store, cur.ID, HashToken(token), now, all, now)
	switch {
	case errors.Is(err, store.ErrInactive), errors.Is(err, store.ErrNotFound):
		return "", ErrRevoked
	case err != nil:
		return "", fmt.Errorf("revoke: reauthenticate: %w", err)
	}
	if cur.Source == SourceCookie {
		m.warnDroppedCookie(r)
		if err := m.SetCookie(w, token, cur.ExpiresAt); err != nil {
			return "", err
		}
	}
	return token, nil
}
