package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/revokehq/revoke/internal/demoproc"
)

// TestSignOutEverywhereAsksForThePassword: the page shows the new-device
// sign-in and the session cap, and "Sign out everywhere" with a password
// typed longer than -fresh-for ago asks for it again before it signs out.
func TestSignOutEverywhereAsksForThePassword(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo server and drives a browser")
	}
	execPath := chromiumPath(t)
	const freshFor = time.Second // the shortest the server takes
	srv := startServer(t, demoproc.Build(t, t.TempDir()), "-fresh-for", freshFor.String(), "-max-sessions", "3")
	br := newBrowser(t, execPath)
	a := br.newPage(t, "A", srv.base)

	// A fresh browser profile has never signed alice in: a new device.
	a.signIn(t, "alice")
	a.waitTextLike(t, "new-device", "^New sign-in from Chrome [0-9]+ on Linux \\(127\\.0\\.0\\.1\\) at .+ \\(this device\\)\\.$")
	a.waitText(t, "session-cap", "1 of 3 sessions")

	time.Sleep(freshFor + 200*time.Millisecond) // the password typed at sign-in is no longer fresh
	a.do(t, `click "Sign out everywhere"`,
		chromedp.Click(chromedp.ID("revoke-all")),
		chromedp.WaitVisible(chromedp.ID("reauth-form")),
		chromedp.WaitNotVisible(chromedp.ID("revoke-all")),
	)
	if got := a.meStatus(t); got != http.StatusOK {
		t.Fatalf("GET /me after the refused sign-out: status %d, want 200 (nothing signed out yet)", got)
	}

	a.do(t, "type a wrong password",
		chromedp.SendKeys(chromedp.ID("reauth-password"), "not the password"),
		chromedp.Click(chromedp.ID("reauth-submit")),
	)
	a.waitText(t, "error", "Wrong password. Try again.")
	a.do(t, "still signed in, still asked",
		chromedp.WaitVisible(chromedp.ID("sessions-view")),
		chromedp.WaitVisible(chromedp.ID("reauth-form")),
	)

	a.do(t, "type the password",
		chromedp.SendKeys(chromedp.ID("reauth-password"), password),
		chromedp.Click(chromedp.ID("reauth-submit")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	a.waitText(t, "status", "You have been signed out everywhere.")
	if got := a.meStatus(t); got != http.StatusUnauthorized {
		t.Fatalf("GET /me after signing out everywhere: status %d, want 401", got)
	}
	a.checkConsole(t)
}

// waitTextLike waits until the element with the id is shown with text
// matching the regular expression.
func (p *page) waitTextLike(t *testing.T, id, pattern string) {
	t.Helper()
	const js = `(id, pattern) => {
  const e = document.getElementById(id);
  return !!e && !e.hidden && new RegExp(pattern).test(e.textContent.trim());
}`
	run(t, p, fmt.Sprintf("wait for #%s to match %q", id, pattern),
		chromedp.PollFunction[bool](js, chromedp.WithPollingArgs(id, pattern), chromedp.WithPollingTimeout(stepTimeout)))
}
