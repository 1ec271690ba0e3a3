package revoke

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/revokehq/revoke/internal/option"
	"github.com/revokehq/revoke/store"
)

// Reasons recorded by the library itself. Apps may record any other text.
const (
	ReasonLogout        = "logout"
	ReasonUserRevoked   = "revoked by user"
	ReasonSignOutOthers = "signed out of other sessions"
	ReasonSignOutAll    = "signed out of all sessions"
	ReasonAdminRevoked  = "revoked by administrator"
)

// Actors recorded by the library, built by the functions below so that an
// audit trail can be read back: "user:alice", "admin:bob",
// "admin-token:1a2b3c4d", "provider:https://idp.example", "system".
const (
	ActorSystem = "system" // the app itself: a cleanup, a session cap, a job
)

// UserActor is the actor of a revocation a user asked for themselves.
func UserActor(userID string) string { return "user:" + userID }

// AdminActor is the actor of a revocation an administrator's session asked for.
func AdminActor(userID string) string { return "admin:" + userID }

// ProviderActor is the actor of a revocation an identity provider asked for
// (a back-channel logout, a security event), named by its issuer.
func ProviderActor(issuer string) string { return "provider:" + issuer }

// Cause says who asked for a revocation and why. It is stored with each
// revoked session (the reason) and passed to every revocation hook.
type Cause struct {
	// Actor identifies who asked, for the audit trail: UserActor,
	// AdminActor, ProviderActor, ActorSystem, or the app's own text. The
	// library does not interpret it.
	Actor string
	// Reason is stored with each session the call revokes.
	Reason string
}

// Event describes one revocation call, for auditing. It is delivered to the
// hooks registered with OnRevoke after the store has committed it.
type Event struct {
	Cause
	UserID     string    // whose sessions were revoked
	SessionIDs []string  // the sessions this call revoked; already revoked ones are not listed
	At         time.Time // when, on the Manager's clock
	// OAuthTokensRevoked and DevicesForgotten report what RevokeAll did
	// beyond the sessions.
	OAuthTokensRevoked bool
	DevicesForgotten   bool
	// Labels holds, by session id, the labels of the revoked sessions
	// that carry any (see Label), so that an audit trail can say which
	// device or sign-in a revocation ended.
	Labels map[string]map[string]string
}

// OAuthTokenRevoker revokes the OAuth and OpenID Connect tokens an app has
// issued to a user. See WithOAuthTokenRevoker.
type OAuthTokenRevoker func(ctx context.Context, userID string) error

// DeviceForgetter clears what an app remembers of a user's devices (trusted
// devices, remembered factors). See WithDeviceForgetter.
type DeviceForgetter func(ctx context.Context, userID string) error

// ErrNoOAuthTokenRevoker is returned by RevokeAll when OAuth tokens are to be
// revoked but no OAuthTokenRevoker is configured. Nothing is revoked then.
var ErrNoOAuthTokenRevoker = errors.New("revoke: no OAuth token revoker configured")

// ErrSessionsRevokedHookFailed is wrapped in the error RevokeAll returns
// when the sessions were revoked but the OAuthTokenRevoker or the
// DeviceForgetter then failed. The sessions go first, so that an outage of
// an identity provider cannot keep them alive; calling RevokeAll again
// retries the hooks.
var ErrSessionsRevokedHookFailed = errors.New("revoke: sessions revoked, but a revocation hook failed")

// WithOAuthTokenRevoker registers the function RevokeAll calls when asked to
// revoke the user's OAuth tokens as well.
func WithOAuthTokenRevoker(f OAuthTokenRevoker) Option {
	return func(m *Manager) error {
		m.oauthRevoker = f
		return nil
	}
}

// WithDeviceForgetter registers the function RevokeAll calls when asked to
// forget the user's devices. Without one there is nothing to forget.
func WithDeviceForgetter(f DeviceForgetter) Option {
	return func(m *Manager) error {
		m.deviceForgetter = f
		return nil
	}
}

// OnRevoke registers a hook called after every revocation that revoked at
// least one session or did more (OAuth tokens, devices): who, whom, which
// sessions, why. Hooks run synchronously, in registration order, after the
// store has committed; keep them fast or hand off to a queue.
func OnRevoke(f func(context.Context, Event)) Option {
	return func(m *Manager) error {
		if f == nil {
			return errors.New("revoke: nil revoke hook")
		}
		m.onRevoke = append(m.onRevoke, f)
		return nil
	}
}

// HasOAuthTokenRevoker reports whether an OAuthTokenRevoker is configured.
func (m *Manager) HasOAuthTokenRevoker() bool { return m.oauthRevoker != nil }

// HasDeviceForgetter reports whether a DeviceForgetter is configured: that
// is, whether RevokeAll with AlsoForgetDevices forgets anything.
func (m *Manager) HasDeviceForgetter() bool { return m.deviceForgetter != nil }

// RevokeSession revokes one session of a user and returns it as stored
// afterwards. It fails with ErrNotFound when the session is unknown or
// belongs to another user. Revoking a revoked session succeeds again and
// returns the original revocation time and reason.
func (m *Manager) RevokeSession(ctx context.Context, userID, sessionID string, c Cause) (Session, error) {
	ids, at, err := m.revoke(ctx, store.Selection{UserID: userID, SessionID: sessionID}, c, false)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, err
	}
	// The revocation has committed: it is reported before anything else
	// can fail.
	m.emit(ctx, Event{Cause: c, UserID: userID, SessionIDs: ids, At: at})
	s, err := m.calls.Get(ctx, sessionID)
	switch {
	case err == nil && s.UserID == userID:
		return s, nil
	case len(ids) == 1:
		// Revoked by this call, so its revocation is known without the
		// read-back, which failed or raced a cleanup.
		return Session{ID: sessionID, UserID: userID, RevokedAt: at, RevokeReason: c.Reason}, nil
	case err == nil || errors.Is(err, store.ErrNotFound):
		return Session{}, ErrNotFound
	}
	return Session{}, fmt.Errorf("revoke: read revoked session: %w", err)
}

// RevokeOthers revokes every active session of a user except keepSessionID
// ("sign out everywhere else") and returns how many it revoked.
func (m *Manager) RevokeOthers(ctx context.Context, userID, keepSessionID string, c Cause) (int, error) {
	if keepSessionID == "" {
		return 0, errors.New("revoke: RevokeOthers needs the session to keep")
	}
	ids, at, err := m.revoke(ctx, store.Selection{UserID: userID, ExceptID: keepSessionID}, c, false)
	if err != nil {
		return 0, err
	}
	m.emit(ctx, Event{Cause: c, UserID: userID, SessionIDs: ids, At: at})
	return len(ids), nil
}

// RevokeAllOption adds work to RevokeAll beyond the sessions. Like an
// Option, it may refuse the call: RevokeAll then revokes nothing.
type RevokeAllOption func(*revokeAll) error

type revokeAll struct {
	m                          *Manager
	oauthTokens, forgetDevices bool
}

// AlsoOAuthTokens makes RevokeAll revoke the user's OAuth tokens too, through
// the OAuthTokenRevoker. Without one configured, RevokeAll fails with
// ErrNoOAuthTokenRevoker before revoking anything.
func AlsoOAuthTokens() RevokeAllOption {
	return func(o *revokeAll) error {
		if o.m.oauthRevoker == nil {
			return ErrNoOAuthTokenRevoker
		}
		o.oauthTokens = true
		return nil
	}
}

// AlsoForgetDevices makes RevokeAll call the DeviceForgetter, when one is
// configured.
func AlsoForgetDevices() RevokeAllOption {
	return func(o *revokeAll) error {
		o.forgetDevices = true
		return nil
	}
}

// RevokeAll revokes every active session of a user, atomically in the store,
// and returns how many it revoked. It also sets the user's not-before time
// (see store.Selection.NotBefore): no session authenticated before the call,
// such as a sign-in that checked the password just before it, or an scs
// request renewing a session it loaded before it, can be created
// afterwards.
func (m *Manager) RevokeAll(ctx context.Context, userID string, c Cause, opts ...RevokeAllOption) (int, error) {
	o := revokeAll{m: m}
	if err := option.Apply("revoke: RevokeAll", &o, opts); err != nil {
		return 0, err
	}
	ids, at, err := m.revoke(ctx, store.Selection{UserID: userID}, c, true)
	if err != nil {
		return 0, err
	}
	ev := Event{Cause: c, UserID: userID, SessionIDs: ids, At: at}
	// Sessions go first: they are what lets someone in right now, and a
	// failing hook must not leave them standing.
	if o.oauthTokens {
		if err := m.oauthRevoker(ctx, userID); err != nil {
			m.emit(ctx, ev)
			return len(ids), fmt.Errorf("%w: revoke OAuth tokens: %w", ErrSessionsRevokedHookFailed, err)
		}
		ev.OAuthTokensRevoked = true
	}
	if o.forgetDevices && m.deviceForgetter != nil {
		if err := m.deviceForgetter(ctx, userID); err != nil {
			m.emit(ctx, ev)
			return len(ids), fmt.Errorf("%w: forget devices: %w", ErrSessionsRevokedHookFailed, err)
		}
		ev.DevicesForgotten = true
	}
	m.emit(ctx, ev)
	return len(ids), nil
}

// ErrFutureTime is returned by RevokeAuthenticatedBefore for a time after
// the Manager's clock, or a zero one. Nothing is revoked then: a bound in
// the future would also refuse sign-ins that have not happened yet.
var ErrFutureTime = errors.New("revoke: the time is zero or in the future")

// RevokeAuthenticatedBefore revokes every active session of a user that
// was authenticated before t ("sign out every session from before the
// password reset"), atomically in the store, and returns how many it
// revoked; sessions authenticated at or after t are kept. It also moves
// the user's not-before time to t (see store.Selection.NotBefore), in the
// same step, so that no session authenticated before t can be created
// afterwards either. A zero t, or one after the Manager's clock, gives
// ErrFutureTime and revokes nothing. One OnRevoke event reports the call.
func (m *Manager) RevokeAuthenticatedBefore(ctx context.Context, userID string, t time.Time, c Cause) (int, error) {
	if t.IsZero() || t.After(m.now()) {
		return 0, ErrFutureTime
	}
	ids, at, err := m.revoke(ctx, store.Selection{UserID: userID, AuthenticatedBefore: t, NotBefore: t}, c, false)
	if err != nil {
		return 0, err
	}
	m.emit(ctx, Event{Cause: c, UserID: userID, SessionIDs: ids, At: at})
	return len(ids), nil
}

// revoke revokes sel now; with notBefore, the user's not-before time moves
// to now as well.
func (m *Manager) revoke(ctx context.Context, sel store.Selection, c Cause, notBefore bool) ([]string, time.Time, error) {
	if sel.UserID == "" {
		return nil, time.Time{}, errors.New("revoke: empty user id")
	}
	at := m.now()
	if notBefore {
		sel.NotBefore = at
	}
	ids, err := m.revokeInStore(ctx, sel, c, at)
	if err != nil {
		return nil, at, fmt.Errorf("revoke: revoke sessions: %w", err)
	}
	return ids, at, nil
}

// Report delivers ev to the OnRevoke hooks, for a revocation made in the
// store outside the Manager: scsstore reports scs's Destroy and RenewToken
// this way. An event that revoked nothing and did nothing more is dropped.
func (m *Manager) Report(ctx context.Context, ev Event) { m.emit(ctx, ev) }

func (m *Manager) emit(ctx context.Context, ev Event) {
	m.tel.revoked(ctx, ev)
	if len(ev.SessionIDs) == 0 && !ev.OAuthTokensRevoked && !ev.DevicesForgotten {
		return
	}
	if len(m.onRevoke) > 0 {
		ev.Labels = m.labelsOf(ctx, ev.SessionIDs)
	}
	for _, f := range m.onRevoke {
		f(ctx, ev)
	}
}

// labelsOf reads the labels of the sessions ids names, for the hooks. It
// costs a read per session, and only on a store that keeps labels; a read
// that fails leaves that session out rather than hold up the event.
func (m *Manager) labelsOf(ctx context.Context, ids []string) map[string]map[string]string {
	if _, ok := m.store.(store.SignInStore); !ok {
		return nil
	}
	var out map[string]map[string]string
	for _, id := range ids {
		s, err := m.calls.Get(ctx, id)
		if err != nil || len(s.Labels) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]map[string]string, len(ids))
		}
		out[id] = s.Labels
	}
	return out
}
