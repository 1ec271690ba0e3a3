package caep

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// ReasonSecurityEvent is recorded for the sessions a received
// session-revoked event revokes.
const ReasonSecurityEvent = "revoked by a security event"

// maxSETBody bounds a push delivery: one signed JWT.
const maxSETBody = 16 << 10

// Receiver is the http.Handler of POST /auth/ssf/events (RFC 8935 push
// delivery; see ServeHTTP), and the work behind it (Receive).
type Receiver struct {
	m           *revoke.Manager
	verifier    *Verifier
	userByEmail func(ctx context.Context, email string) (string, error)
	log         *slog.Logger
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Audience is this receiver's name, the aud its SETs carry.
	Audience     string
	Transmitters []Transmitter
	// UserByEmail maps an email subject to the app's user; without it,
	// email subjects revoke nothing. An unknown email is store.ErrNotFound
	// or "".
	UserByEmail func(ctx context.Context, email string) (string, error)
	Logger      *slog.Logger // default slog.Default()
}

// NewReceiver returns the Receiver of SETs for m. m's store must be a
// store.TokenIDStore (replays) and a store.ProviderStore (subjects).
func NewReceiver(m *revoke.Manager, cfg ReceiverConfig) (*Receiver, error) {
	if _, ok := m.Store().(store.TokenIDStore); !ok {
		return nil, errors.New("caep: the receiver needs a store that remembers token ids (store.TokenIDStore)")
	}
	if _, ok := m.Store().(store.ProviderStore); !ok {
		return nil, errors.New("caep: the receiver needs a store of provider sessions (store.ProviderStore)")
	}
	v, err := NewVerifier(cfg.Audience, cfg.Transmitters)
	if err != nil {
		return nil, err
	}
	v.now = m.Now
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{m: m, verifier: v, userByEmail: cfg.UserByEmail, log: log}, nil
}

// ServeHTTP answers a push delivery: 202 for a SET it accepted, 400 with
// {"err","description"} for one it refused, which then revoked nothing,
// 405 for a method other than POST, and 500 or 503 (with only a
// description) when the receiver failed, which a transmitter retries.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, refuse(ErrInvalidRequest, "Use POST."))
		return
	}
	raw, refused := ReadSET(w, r)
	if refused != nil {
		writeJSON(w, http.StatusBadRequest, refused)
		return
	}
	_, err := rc.Receive(r.Context(), raw)
	var e *Error
	switch {
	case errors.As(err, &e):
		writeJSON(w, http.StatusBadRequest, e)
	case err != nil:
		rc.log.ErrorContext(r.Context(), "caep: SET not processed", "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		// No RFC 8935 code fits a failure of the receiver; the
		// transmitter retries a 5xx.
		writeJSON(w, status, map[string]string{"description": "The SET could not be processed; try again later."})
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
	}
}

// ReadSET reads the SET of a push delivery: a body of ContentType, of at
// most 16 KiB. A request that is not one gets the refusal to answer with
// 400.
func ReadSET(w http.ResponseWriter, r *http.Request) (string, *Error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentType {
		return "", refuse(ErrInvalidRequest, "The body must be application/secevent+jwt.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSETBody))
	if err != nil {
		return "", refuse(ErrInvalidRequest, "The body is too large or could not be read.")
	}
	return string(body), nil
}

// Received is what Receive did with a SET it accepted.
type Received struct {
	Issuer, ID     string // the SET's iss and jti
	SessionRevoked bool   // it carried a session-revoked event
	Revoked        int    // the sessions that event revoked
}

// Receive verifies raw, a SET, and acts on it: a session-revoked event
// revokes the sessions its subject names; other events are acknowledged
// and ignored. A SET refused (unverifiable, not addressed to this
// receiver, replayed) is an *Error, to answer with 400, and has revoked
// nothing; any other error is the receiver's own failure (store.ErrUnavailable
// when the store did not answer), which the transmitter should retry.
func (rc *Receiver) Receive(ctx context.Context, raw string) (Received, error) {
	set, err := rc.verifier.Verify(ctx, raw)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = refuse(ErrInvalidRequest, "The SET could not be verified.")
		}
		rc.log.WarnContext(ctx, "caep: SET refused", "err", err)
		return Received{}, e
	}
	ev, subject, isRevoked, err := set.SessionRevoked()
	if err != nil {
		return Received{}, refuse(ErrInvalidRequest, "The session-revoked event is malformed.")
	}

	// The jti is recorded once the revocation succeeded, so that a
	// transmitter retrying after a failure is not refused as a replay.
	st := rc.m.Store()
	now := rc.m.Now()
	switch used, err := store.TokenIDUsed(ctx, st, set.Issuer, set.ID, now); {
	case err != nil:
		return Received{}, err
	case used:
		rc.log.WarnContext(ctx, "caep: SET replayed", "iss", set.Issuer, "jti", set.ID)
		return Received{}, refuse(ErrInvalidRequest, "The SET's jti was used before.")
	}
	got := Received{Issuer: set.Issuer, ID: set.ID, SessionRevoked: isRevoked}
	if isRevoked {
		if got.Revoked, err = rc.revoke(ctx, set.Issuer, subject); err != nil {
			return Received{}, err
		}
	}
	if err := store.UseTokenID(ctx, st, set.Issuer, set.ID, now, rc.verifier.remember(set)); err != nil && !errors.Is(err, store.ErrReplayed) {
		return Received{}, err
	}
	rc.log.InfoContext(ctx, "caep: SET accepted", "iss", set.Issuer, "jti", set.ID,
		"session_revoked", isRevoked, "revoked", got.Revoked, "reason_admin", ev.ReasonAdmin["en"])
	return got, nil
}

// revoke revokes what subject names, as issuer means it: a session of
// issuer (the sid of revoke.FromProvider), else every session of a user.
// A subject that names nothing known revokes nothing.
func (rc *Receiver) revoke(ctx context.Context, issuer string, subject *Subject) (int, error) {
	cause := revoke.Cause{Actor: revoke.ProviderActor(issuer), Reason: ReasonSecurityEvent}
	user := subject.user()
	if sid := subject.sessionID(); sid != "" {
		return rc.m.RevokeProviderSession(ctx, issuer, sid, providerSubject(issuer, user), cause)
	}
	if user == nil {
		return 0, nil
	}
	var userID string
	var err error
	switch {
	case user.Format == FormatIssSub && user.Issuer == issuer && user.Sub != "":
		userID, err = rc.m.ProviderUser(ctx, issuer, user.Sub)
	case user.Format == FormatOpaque && user.ID != "":
		userID, err = rc.m.ProviderUser(ctx, issuer, user.ID)
	case user.Format == FormatEmail && user.Email != "" && rc.userByEmail != nil:
		userID, err = rc.userByEmail(ctx, user.Email)
	default:
		return 0, nil
	}
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && userID == ""):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return rc.m.RevokeAll(ctx, userID, cause)
}

// providerSubject is the issuer's subject a user part names, which narrows
// a session's revocation to that subject's sessions; "" for any.
func providerSubject(issuer string, user *Subject) string {
	switch {
	case user == nil:
		return ""
	case user.Format == FormatIssSub && user.Issuer == issuer:
		return user.Sub
	case user.Format == FormatOpaque:
		return user.ID
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
