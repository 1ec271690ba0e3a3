package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/revokehq/revoke"
)

// maxLoginBody bounds the login request; real credentials are far smaller.
const maxLoginBody = 4 << 10

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// TransmitterSession, with -caep-transmitter, is the id of the
	// transmitter's session this sign-in belongs to (see caep.go).
	TransmitterSession string `json:"transmitterSession,omitempty"`
}

type loginResponse struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	// Token is for clients that send X-Session-Token instead of the cookie.
	Token string `json:"token"`
}

type meResponse struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	Admin     bool   `json:"admin"`
	// MaxSessions is the cap of -max-sessions on the user's active
	// sessions; left out when there is none.
	MaxSessions int `json:"maxSessions,omitempty"`
	// FreshFor is how many seconds after typing the password the session
	// may sign out everywhere (-fresh-for).
	FreshFor int64 `json:"freshForSeconds"`
	// LastNewDevice is the user's last sign-in from a browser that had
	// never signed them in before; null when there was none since the
	// server started.
	LastNewDevice *newDeviceSignIn `json:"lastNewDevice"`
}

// errorResponse is the error shape of the demo's own routes, the same as
// revoke's default 401 body.
type errorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// login handles POST /login: JSON credentials in, a new session out, as the
// session cookie and as a token in the body. Attempts are limited per
// client address, and failed ones per username and address (see
// signInLimits).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ip := a.m.DeviceOf(r).IP
	if !a.signIn.admit(w, r, ip) {
		a.logger.WarnContext(r.Context(), "login rate limited", "by", "address", "ip", ip)
		return
	}
	body, ok := readLoginBody(w, r)
	if !ok {
		return
	}
	var req loginRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `the body must be JSON: {"username": "...", "password": "..."}`)
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "username and password are required")
		return
	}
	refund, ok := a.signIn.reserveFailure(w, r, ip, req.Username)
	if !ok {
		a.logger.WarnContext(r.Context(), "login rate limited", "by", "failures", "ip", ip)
		return
	}
	checked := a.m.Now() // before the check: see revoke.AuthenticatedAt
	u, ok := a.users.authenticate(req.Username, req.Password)
	if !ok {
		// The username is logged only when it names an account: anything
		// else may be a password typed into the username field.
		if known, exists := a.users.lookup(req.Username); exists {
			a.logger.InfoContext(r.Context(), "login failed", "user", known.ID, "ip", ip)
		} else {
			a.logger.InfoContext(r.Context(), "login failed", "user_known", false, "ip", ip)
		}
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong username or password")
		return
	}
	refund() // the right password: not a failure
	linked, err := a.transmitterSession(u.ID, req.TransmitterSession)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	opts := append([]revoke.LoginOption{revoke.AuthenticatedAt(checked)}, linked...)
	if a.keepsSignIns() {
		opts = append(opts, revoke.AuthenticatedWith(passwordMethod))
	}
	s, token, err := a.m.Login(w, r, u.ID, opts...)
	if errors.Is(err, revoke.ErrProviderSessionEnded) {
		writeError(w, http.StatusConflict, "signed_out_meanwhile", "the transmitter's session has ended; sign in there again")
		return
	}
	if errors.Is(err, revoke.ErrNotBefore) {
		// Every session of the account was revoked after the password
		// check: this sign-in must not outlive that.
		writeError(w, http.StatusConflict, "signed_out_meanwhile", "this account was just signed out everywhere; sign in again")
		return
	}
	if errors.Is(err, revoke.ErrSessionLimit) {
		writeError(w, http.StatusConflict, "session_limit",
			"this account is signed in on as many devices as allowed; sign out on one of them first")
		return
	}
	if err != nil {
		a.logger.ErrorContext(r.Context(), "login: creating the session failed", "user", u.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the session could not be created")
		return
	}
	a.logger.InfoContext(r.Context(), "signed in", "user", u.ID, "session", s.ID, "ip", s.IP)
	writeJSON(w, http.StatusOK, loginResponse{UserID: u.ID, SessionID: s.ID, Token: token})
}

// logout handles POST /logout: it revokes the current session, if any, and
// expires the cookie. Signing out twice is not an error.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Logout(w, r); err != nil {
		a.logger.ErrorContext(r.Context(), "logout failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the session could not be revoked")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// me handles GET /me: who the current session belongs to.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	cur, ok := revoke.FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid session is required")
		return
	}
	res := meResponse{UserID: cur.UserID, SessionID: cur.ID, Admin: a.users.isAdmin(cur.UserID),
		MaxSessions: a.cfg.maxSessions, FreshFor: int64(a.cfg.freshFor / time.Second)}
	if ev, ok := a.seen.last(cur.UserID); ok {
		res.LastNewDevice = &ev
	}
	writeJSON(w, http.StatusOK, res)
}

// listUsers handles GET /demo/users (administrators): the user table, for
// the page's user picker.
func (a *app) listUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, demoUsers)
}

// listAudit handles GET /demo/audit (administrators): what the revocation
// hooks recorded, newest first.
func (a *app) listAudit(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.audit.list())
}

// requireAdmin lets through requests from an administrator's session or with
// the admin API token (Authorization: Bearer or SSWS); it answers 401 or 403
// otherwise.
func (a *app) requireAdmin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := apiToken(r); ok {
			// Digests, so that the comparison's time does not depend on
			// the length of either token.
			got := sha256.Sum256([]byte(token))
			if subtle.ConstantTimeCompare(got[:], a.adminTokenHash[:]) != 1 {
				writeError(w, http.StatusUnauthorized, "unauthorized", "invalid API token")
				return
			}
			next(w, r)
			return
		}
		cur, ok := revoke.FromContext(r.Context())
		switch {
		case !ok:
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid session is required")
		case !a.users.isAdmin(cur.UserID):
			writeError(w, http.StatusForbidden, "forbidden", "administrators only")
		default:
			next(w, r)
		}
	})
}

// apiToken returns the token of an "Authorization: Bearer" or "SSWS" header.
func apiToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "SSWS")) {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// Responses carry session ids and tokens: never cache them.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorResponse{Error: code, Message: message})
}

// readLoginBody reads a sign-in request's body, bounded, and answers 413 or
// 400 itself when it cannot.
func readLoginBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLoginBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the request body is too large")
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", "the request body could not be read")
		return nil, false
	}
	return body, true
}
