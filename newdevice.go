package revoke

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/revokehq/revoke/device"
)

// LoginEvent describes a sign-in, for the OnLogin hooks: the session it
// started, whether the browser had never signed this user in before, and
// the device it came from in readable form.
type LoginEvent struct {
	Session   Session
	NewDevice bool
	Device    device.Info
}

// OnLogin registers a hook that Login calls after each sign-in, so that an
// app can send the "new sign-in to your account" message people expect
// when NewDevice is set. Browsers are told apart by a long-lived, signed,
// HttpOnly device cookie that remembers (as keyed digests, not names) which
// users signed in with it; a browser without it, or one that never signed
// this user in, is a new device. Hooks run synchronously, in registration
// order; keep them fast or hand off to a queue.
func OnLogin(f func(context.Context, LoginEvent)) Option {
	return func(m *Manager) error {
		if f == nil {
			return errors.New("revoke: nil login hook")
		}
		m.onLogin = append(m.onLogin, f)
		return nil
	}
}

// The device cookie holds a random device id and, for each user who signed
// in with the browser, the first bytes of an HMAC of the user id keyed by
// the device id: enough to recognise a user, not to name one.
const (
	deviceIDBytes     = 16
	deviceUserBytes   = 8
	deviceMaxUsers    = 16
	deviceCookieLife  = 400 * 24 * time.Hour // the longest browsers keep a cookie
	deviceCookieAfter = "_device"
)

// deviceCookieName is the session cookie's name with a suffix, so that it
// keeps its prefix (__Host-) and attributes.
func (m *Manager) deviceCookieName() string { return m.cookie.Name + deviceCookieAfter }

// noteDevice reports whether r's browser is new for userID, and sets the
// device cookie on w to remember userID from now on.
func (m *Manager) noteDevice(w http.ResponseWriter, r *http.Request, userID string) (isNew bool) {
	name := m.deviceCookieName()
	var raw []byte
	if c, err := r.Cookie(name); err == nil {
		if securecookie.DecodeMulti(name, c.Value, &raw, m.codecs...) != nil || len(raw) < deviceIDBytes ||
			(len(raw)-deviceIDBytes)%deviceUserBytes != 0 {
			raw = nil
		}
	}
	if raw == nil {
		raw = make([]byte, deviceIDBytes)
		_, _ = rand.Read(raw) // never fails: see crypto/rand.Read
	}
	id, users := raw[:deviceIDBytes], raw[deviceIDBytes:]
	mac := hmac.New(sha256.New, id)
	mac.Write([]byte(userID))
	mine := mac.Sum(nil)[:deviceUserBytes]
	isNew = true
	kept := make([]byte, 0, deviceMaxUsers*deviceUserBytes)
	for i := 0; i < len(users); i += deviceUserBytes {
		if hmac.Equal(users[i:i+deviceUserBytes], mine) {
			isNew = false
			continue // moved to the end: most recent last
		}
		kept = append(kept, users[i:i+deviceUserBytes]...)
	}
	kept = append(kept, mine...)
	if over := len(kept) - deviceMaxUsers*deviceUserBytes; over > 0 {
		kept = kept[over:] // forget the oldest
	}
	value, err := securecookie.EncodeMulti(name, append(append([]byte{}, id...), kept...), m.codecs...)
	if err != nil {
		m.logger.WarnContext(r.Context(), "revoke: encode device cookie", "err", err)
		return isNew
	}
	c := m.newCookie(value)
	c.Name = name
	c.MaxAge = int(deviceCookieLife / time.Second)
	c.Expires = m.now().Add(deviceCookieLife).UTC()
	http.SetCookie(w, c)
	return isNew
}

// reportLogin tells the OnLogin hooks of a sign-in on r.
func (m *Manager) reportLogin(w http.ResponseWriter, r *http.Request, s Session) {
	if len(m.onLogin) == 0 {
		return
	}
	ev := LoginEvent{Session: s, NewDevice: m.noteDevice(w, r, s.UserID), Device: device.Describe(s.UserAgent)}
	for _, f := range m.onLogin {
		f(r.Context(), ev)
	}
}
