package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// ErrNotBefore is returned by Create and Login when every session of the
// user was revoked after the credentials were checked (see
// AuthenticatedAt and RevokeAll): the sign-in must be done again. It is the
// same value as store.ErrNotBefore.
var ErrNotBefore = store.ErrNotBefore

// ReasonReplaced is recorded for the session a browser presented when Login
// started another one on it (see KeepPreviousSession).
const ReasonReplaced = "replaced by a new sign-in"

// A LoginOption changes how Create or Login starts a session.
type LoginOption func(*login) error

type login struct {
	authenticatedAt time.Time
	keepPrevious    bool
	provider        *ProviderIdentity // see FromProvider
	methods         []AuthMethod      // see AuthenticatedWith
	labels          map[string]string // see Label
}

// AuthenticatedAt records when the user's credentials were checked, when
// that was before the call: pass the time taken just before checking the
// password. A RevokeAll of the user that lands between that time and the
// session's creation (a password change elsewhere, an administrator) then
// refuses the sign-in with ErrNotBefore instead of letting it outlive the
// revocation. Without it the session counts as authenticated when created.
// A time in the future is an error.
func AuthenticatedAt(t time.Time) LoginOption {
	return func(l *login) error {
		if t.IsZero() {
			return errors.New("revoke: AuthenticatedAt needs a time")
		}
		l.authenticatedAt = t
		return nil
	}
}

// KeepPreviousSession makes Login leave the session the request already
// presents active, for apps that let one browser hold several accounts.
// By default Login revokes it, so that the previous person's session does
// not outlive the next sign-in on a shared browser.
func KeepPreviousSession() LoginOption {
	return func(l *login) error {
		l.keepPrevious = true
		return nil
	}
}

func loginOptions(opts []LoginOption) (login, error) {
	var l login
	if err := option.Apply("revoke: login", &l, opts); err != nil {
		return login{}, err
	}
	return l, nil
}

// Create starts a session for userID and returns it with its token. The
// token is shown only here: keep it on the client, it cannot be recovered.
// It fails with ErrSessionLimit when WithMaxSessions refuses the sign-in,
// and with ErrNotBefore when the user's sessions were all revoked
// after the time given by AuthenticatedAt.
func (m *Manager) Create(ctx context.Context, userID string, d Device, opts ...LoginOption) (Session, string, error) {
	if userID == "" {
		return Session{}, "", errors.New("revoke: empty user id")
	}
	l, err := loginOptions(opts)
	if err != nil {
		return Session{}, "", err
	}
	now := m.now()
	auth := now
	if !l.authenticatedAt.IsZero() {
		if l.authenticatedAt.After(now) {
			return Session{}, "", fmt.Errorf("revoke: AuthenticatedAt %v is in the future", l.authenticatedAt)
		}
		auth = l.authenticatedAt
	}
	if len(d.UserAgent) > maxUserAgent {
		d.UserAgent = d.UserAgent[:maxUserAgent]
	}
	s := Session{
		ID:              store.NewID(),
		UserID:          userID,
		CreatedAt:       now,
		AuthenticatedAt: auth,
		LastSeenAt:      now,
		ExpiresAt:       now.Add(m.lifetime),
		IdleExpiresAt:   m.idleDeadline(now),
		IP:              d.IP,
		UserAgent:       d.UserAgent,
	}
	if err := m.applySignIn(&s, l); err != nil {
		return Session{}, "", err
	}
	if err := m.checkProvider(l.provider); err != nil {
		return Session{}, "", err
	}
	token := newToken()
	s.TokenHash = HashToken(token)
	if err := m.insert(ctx, s); err != nil {
		return Session{}, "", err
	}
	m.tel.created.Add(ctx, 1)
	if err := m.linkProvider(ctx, s, l.provider); err != nil {
		return Session{}, "", err
	}
	return s, token, nil
}

// insert stores s, within the user's session cap when there is one, and
// reports the sessions the cap revoked to the OnRevoke hooks.
func (m *Manager) insert(ctx context.Context, s Session) error {
	if m.limit == nil {
		if err := m.calls.Create(ctx, s); err != nil {
			return fmt.Errorf("revoke: create session: %w", err)
		}
		return nil
	}
	evicted, err := m.createLimited(ctx, s)
	if err != nil {
		return fmt.Errorf("revoke: create session: %w", err)
	}
	m.emit(ctx, Event{
		Cause:      Cause{Actor: ActorSystem, Reason: ReasonSessionLimit},
		UserID:     s.UserID,
		SessionIDs: evicted,
		At:         s.CreatedAt,
	})
	return nil
}

// Login starts a session for userID with the device of r, sets the session
// cookie on w and returns the session and its token (for clients that send
// it in the X-Session-Token header instead).
//
// The session r already presents, if any, is revoked first (reason
// ReasonReplaced), unless KeepPreviousSession is given. The OnLogin hooks
// then hear of the sign-in, and whether it comes from a new device.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, userID string, opts ...LoginOption) (Session, string, error) {
	l, err := loginOptions(opts)
	if err != nil {
		return Session{}, "", err
	}
	if !l.keepPrevious {
		if err := m.endPrevious(r); err != nil {
			return Session{}, "", err
		}
	}
	s, token, err := m.Create(r.Context(), userID, m.DeviceOf(r), opts...)
	if err != nil {
		return Session{}, "", err
	}
	m.warnDroppedCookie(r)
	if err := m.SetCookie(w, token, s.ExpiresAt); err != nil {
		return Session{}, "", err
	}
	m.reportLogin(w, r, s)
	return s, token, nil
}

// endPrevious revokes the session r presents before a new sign-in replaces
// it. A request without a usable session has nothing to end.
func (m *Manager) endPrevious(r *http.Request) error {
	cur, err := m.current(r)
	if Anonymous(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = m.RevokeSession(r.Context(), cur.UserID, cur.ID, Cause{Actor: UserActor(cur.UserID), Reason: ReasonReplaced})
	if errors.Is(err, ErrNotFound) {
		return nil // gone meanwhile
	}
	return err
}
