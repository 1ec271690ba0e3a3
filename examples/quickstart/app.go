package main

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/device"
	"github.com/revokehq/revoke/store"
)

// app holds the app's own routes.
type app struct {
	m *revoke.Manager
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, loginPage, loginData{Next: r.FormValue("next")})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	checked := a.m.Now() // before the password check: see revoke.AuthenticatedAt
	user, next := r.PostFormValue("user"), r.PostFormValue("next")
	if !checkPassword(user, r.PostFormValue("password")) {
		render(w, r, http.StatusUnauthorized, loginPage, loginData{Next: next, Error: "Wrong user or password."})
		return
	}
	_, _, err := a.m.Login(w, r, user, revoke.AuthenticatedAt(checked))
	if errors.Is(err, revoke.ErrNotBefore) {
		// The user was signed out everywhere while the password was checked.
		render(w, r, http.StatusConflict, loginPage, loginData{Next: next, Error: "You were just signed out everywhere; sign in again."})
		return
	}
	if err != nil {
		fail(w, r, "login", err)
		return
	}
	http.Redirect(w, r, revoke.SafeNext(next), http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Logout(w, r); err != nil {
		fail(w, r, "logout", err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *app) sessionsPage(w http.ResponseWriter, r *http.Request) {
	cur, _ := revoke.FromContext(r.Context()) // RedirectToLogin lets only sessions in
	var after store.Cursor                    // the zero Cursor: the first page
	if err := after.UnmarshalText([]byte(r.FormValue("after"))); err != nil {
		http.Error(w, "bad page", http.StatusBadRequest)
		return
	}
	page, err := a.m.Sessions(r.Context(), cur.UserID, 20, after)
	if err != nil {
		fail(w, r, "listing sessions", err)
		return
	}
	data := sessionsData{User: cur.UserID, Admin: isAdmin(cur.UserID)}
	for _, s := range page.Sessions {
		data.Sessions = append(data.Sessions, sessionRow{
			ID:       s.ID,
			Device:   device.Describe(s.UserAgent).Name, // "Chrome 131 on macOS"
			IP:       s.IP,
			LastSeen: s.LastSeenAt,
			Current:  s.ID == cur.ID,
		})
	}
	if !page.Next.IsZero() {
		next, err := page.Next.MarshalText()
		if err != nil {
			fail(w, r, "listing sessions", err)
			return
		}
		data.More = string(next)
	}
	render(w, r, http.StatusOK, sessionsPage, data)
}

func (a *app) revokeSession(w http.ResponseWriter, r *http.Request) {
	cur, _ := revoke.FromContext(r.Context())
	cause := revoke.Cause{Actor: revoke.UserActor(cur.UserID), Reason: revoke.ReasonUserRevoked}
	_, err := a.m.RevokeSession(r.Context(), cur.UserID, r.PathValue("id"), cause)
	if errors.Is(err, revoke.ErrNotFound) { // unknown, or another user's
		http.NotFound(w, r)
		return
	}
	if err != nil {
		fail(w, r, "revoking a session", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) revokeOthers(w http.ResponseWriter, r *http.Request) {
	cur, _ := revoke.FromContext(r.Context())
	cause := revoke.Cause{Actor: revoke.UserActor(cur.UserID), Reason: revoke.ReasonSignOutOthers}
	n, err := a.m.RevokeOthers(r.Context(), cur.UserID, cur.ID, cause)
	if err != nil {
		fail(w, r, "signing out other sessions", err)
		return
	}
	slog.InfoContext(r.Context(), "signed out other sessions", "user", cur.UserID, "sessions", n)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) signOutUser(w http.ResponseWriter, r *http.Request) {
	cur, _ := revoke.FromContext(r.Context())
	if !isAdmin(cur.UserID) {
		http.Error(w, "administrators only", http.StatusForbidden)
		return
	}
	user := r.PostFormValue("user")
	cause := revoke.Cause{Actor: revoke.AdminActor(cur.UserID), Reason: revoke.ReasonAdminRevoked}
	n, err := a.m.RevokeAll(r.Context(), user, cause)
	if err != nil {
		fail(w, r, "signing a user out", err)
		return
	}
	slog.InfoContext(r.Context(), "signed a user out everywhere", "admin", cur.UserID, "user", user, "sessions", n)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// fail logs a failure and answers 500 without its details.
func fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	slog.ErrorContext(r.Context(), what+" failed", "err", err)
	http.Error(w, "something went wrong", http.StatusInternalServerError)
}

// checkPassword stands in for the app's own credential check.
func checkPassword(user, password string) bool {
	return subtle.ConstantTimeCompare([]byte(password), []byte("secret")) == 1 && knownUser(user)
}

// knownUser stands in for the app's user table.
func knownUser(userID string) bool {
	return userID == "alice" || userID == "bob" || userID == "admin"
}

func isAdmin(userID string) bool { return userID == "admin" }
