package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/revokehq/revoke/internal/demoproc"
)

// TestActiveSessionsPage signs alice in from separate browsers and ends
// sessions from the "Active sessions" page: one with its Revoke button, the
// rest with "Sign out everywhere else". A revoked browser still holds its
// cookie, so what is tested is that the server refuses it.
func TestActiveSessionsPage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo server and drives a browser")
	}
	execPath := chromiumPath(t)
	began := time.Now()
	lap := func(what string) {
		t.Logf("%-34s %6.2fs", what, time.Since(began).Seconds())
	}

	srv := startServer(t, demoproc.Build(t, t.TempDir()))
	lap("server built and ready")
	br := newBrowser(t, execPath)
	a := br.newPage(t, "A", srv.base)
	b := br.newPage(t, "B", srv.base)
	lap("Chromium started")

	// A signs in: one session, marked as this device, with nothing to revoke.
	a.signIn(t, "alice")
	rows := a.sessions(t)
	if len(rows) != 1 || !rows[0].Current || rows[0].Badge != "This device" || rows[0].Revoke {
		t.Fatalf("browser A after signing in: sessions %+v, want only this device's, without a Revoke button", rows)
	}
	aID := rows[0].ID
	aCookie := a.sessionCookie(t)
	if aCookie == nil {
		t.Fatal("browser A holds no session cookie after signing in")
	}
	// The browser, not just the server, must treat the cookie as intended.
	if !aCookie.HTTPOnly || aCookie.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%q, want HttpOnly and Lax", aCookie.HTTPOnly, aCookie.SameSite)
	}

	// B, with cookies of its own, signs in as alice too and sees both.
	b.signIn(t, "alice")
	bID := currentID(t, b, b.sessions(t), aID)
	if bCookie := b.sessionCookie(t); bCookie == nil || bCookie.Value == aCookie.Value {
		t.Fatal("browser B does not hold a session cookie of its own")
	}

	// A refreshes and sees B's session, with a Revoke button.
	a.do(t, "click Refresh",
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(revokeButtonOf(bID)),
	)
	if got := currentID(t, a, a.sessions(t), bID); got != aID {
		t.Fatalf("browser A: this device is %s, want %s", got, aID)
	}
	a.screenshot(t, "sessions.png")
	lap("two browsers signed in")

	// A revokes B's session.
	a.do(t, "revoke B's session",
		chromedp.Click(revokeButtonOf(bID)),
		chromedp.WaitNotPresent(rowOf(bID)),
	)
	a.waitText(t, "status", "The session was revoked. That device is signed out.")
	onlyThisDevice(t, a, aID)
	checkRevoked(t, srv, aID, bID)

	// B is not told: it still holds its cookie, and the server refuses it
	// (and expires it, as the middleware does with stale cookies).
	if b.sessionCookie(t) == nil {
		t.Fatal("browser B lost its cookie before asking the server")
	}
	if got := b.meStatus(t); got != http.StatusUnauthorized {
		t.Fatalf("browser B: GET /me after the revocation: status %d, want 401", got)
	}
	if b.sessionCookie(t) != nil {
		t.Error("browser B still holds its session cookie after the server refused it")
	}
	// The page, at its next request, says why and asks to sign in again.
	b.do(t, "click Refresh after the revocation",
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.WaitNotVisible(chromedp.ID("sessions-view")),
	)
	b.waitText(t, "status", "Your session has ended: it was revoked or it expired. Please sign in again.")

	// A stays signed in, also after a reload.
	a.do(t, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(currentRow)))
	onlyThisDevice(t, a, aID)
	if got := a.meStatus(t); got != http.StatusOK {
		t.Fatalf("browser A: GET /me: status %d, want 200", got)
	}
	lap("revoked from another browser")

	// "Sign out everywhere else": B signs in again and C too; A ends both.
	c := br.newPage(t, "C", srv.base)
	b.signIn(t, "alice")
	b2ID := currentID(t, b, b.sessions(t), aID)
	c.signIn(t, "alice")
	cID := currentID(t, c, c.sessions(t), aID, b2ID)
	a.do(t, "click Refresh",
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(rowOf(b2ID)),
		chromedp.WaitVisible(rowOf(cID)),
	)
	a.do(t, `click "Sign out everywhere else"`,
		chromedp.Click(chromedp.CSS(`button[data-action="revoke-others"]`)),
		chromedp.WaitNotPresent(rowOf(b2ID)),
		chromedp.WaitNotPresent(rowOf(cID)),
	)
	a.waitText(t, "status", "Signed out of 2 other sessions.")
	onlyThisDevice(t, a, aID)
	checkRevoked(t, srv, aID, b2ID, cID)
	for _, p := range []*page{b, c} {
		if got := p.meStatus(t); got != http.StatusUnauthorized {
			t.Errorf("browser %s: GET /me after sign-out everywhere else: status %d, want 401", p.name, got)
		}
	}
	// Opened afresh, the page shows the sign-in form.
	c.do(t, "reload after the sign-out",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.WaitNotVisible(chromedp.ID("sessions-view")),
	)
	if got := a.meStatus(t); got != http.StatusOK {
		t.Fatalf("browser A: GET /me after sign-out everywhere else: status %d, want 200", got)
	}
	lap("signed out everywhere else")

	for _, p := range []*page{a, b, c} {
		p.checkConsole(t)
	}
}

// currentID returns the id of the session marked as this device in rows,
// and checks that rows also list the sessions others, and nothing more.
func currentID(t *testing.T, p *page, rows []row, others ...string) string {
	t.Helper()
	want := map[string]bool{}
	for _, id := range others {
		want[id] = true
	}
	current := ""
	for _, r := range rows {
		switch {
		case r.Current && current == "" && r.Badge == "This device" && !r.Revoke:
			current = r.ID
		case !r.Current && want[r.ID] && r.Revoke:
			delete(want, r.ID)
		default:
			t.Fatalf("browser %s: unexpected row %+v in %+v", p.name, r, rows)
		}
	}
	if current == "" || len(want) > 0 {
		t.Fatalf("browser %s: sessions %+v, want this device's and %v", p.name, rows, others)
	}
	// The page names the device and where it signed in from.
	for _, r := range rows {
		if r.Device != "Chrome on Linux" || r.IP != "127.0.0.1" {
			t.Errorf("browser %s: row %s shows device %q from %q, want \"Chrome on Linux\" from 127.0.0.1", p.name, r.ID, r.Device, r.IP)
		}
	}
	return current
}

// onlyThisDevice checks that the page lists the session id alone, as the
// current one.
func onlyThisDevice(t *testing.T, p *page, id string) {
	t.Helper()
	if got := currentID(t, p, p.sessions(t)); got != id {
		t.Fatalf("browser %s: this device is %s, want %s", p.name, got, id)
	}
}

// checkRevoked checks with the admin API that the server holds the session
// active as active and the others as revoked.
func checkRevoked(t *testing.T, srv *server, active string, revoked ...string) {
	t.Helper()
	sessions := srv.adminSessions(t, "alice")
	if s, ok := sessions[active]; !ok || !s.Active || s.RevokedAt != nil {
		t.Errorf("admin API: session %s is %+v, want active", active, s)
	}
	for _, id := range revoked {
		if s, ok := sessions[id]; !ok || s.Active || s.RevokedAt == nil || s.RevokeReason == "" {
			t.Errorf("admin API: session %s is %+v, want revoked with a reason", id, s)
		}
	}
}
