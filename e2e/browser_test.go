package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/revokehq/revoke"
)

const (
	startTimeout = 30 * time.Second // Chromium's first start can be slow on a cold disk
	stepTimeout  = 10 * time.Second // any single step: the page answers in milliseconds
	stateTimeout = 2 * time.Second  // reading the page's state for a failure message
)

// chromiumPath returns Debian's Chromium, or skips the test without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	t.Skip("Chromium is not installed (apt-get install chromium): skipping the browser test")
	return ""
}

// browser is one headless Chromium process.
type browser struct {
	ctx context.Context // a chromedp context whose browser is running
}

// newBrowser starts Chromium with a fresh profile. It is stopped when the
// test ends.
func newBrowser(t *testing.T, execPath string) *browser {
	t.Helper()
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		// Chromium will not start its sandbox as root, which CI runs as.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The machine has no internet: anything that phones home would
		// only stall, so none of it is started.
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		// A fixed window, language and scale, so the screenshot looks the
		// same on every machine.
		chromedp.WindowSize(1100, 700),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("lang", "en-US"),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(func() {
		cancelAlloc()
		if t.Failed() {
			t.Logf("Chromium output (last lines, without its D-Bus complaints):\n%s", tail(out.String(), 40))
		}
	})
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	startWithin(t, "start Chromium", ctx)
	return &browser{ctx: ctx}
}

// startWithin makes the first chromedp call on ctx, which starts the browser
// or opens the tab. That call must not carry a deadline (it would bind the
// tab's life to it), so the wait is bounded here instead.
func startWithin(t *testing.T, what string, ctx context.Context) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(startTimeout):
		t.Fatalf("%s: no answer within %s", what, startTimeout)
	}
}

// page is a tab in a browser context of its own: a separate cookie jar, as
// a separate browser or a private window would have.
type page struct {
	name string
	base string // the server's URL
	ctx  context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func (b *browser) newPage(t *testing.T, name, base string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	startWithin(t, name+": open a tab", ctx)
	p := &page{name: name, base: base, ctx: ctx}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return // the tab is closing
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	return p
}

// run runs one step with a deadline, and fails the test with what the page
// showed when the step fails or hangs.
func run[T any](t *testing.T, p *page, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not done within %s", stepTimeout)
		}
		t.Fatalf("browser %s: %s: %v\n%s", p.name, what, err, p.state())
	}
	return v
}

// do runs steps that return nothing as one step.
func (p *page) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, p, what, chromedp.Steps(steps...))
}

// stateJS describes the page in a few lines, for failure messages.
const stateJS = `(() => {
  const shown = (id) => { const e = document.getElementById(id); return !!e && !e.hidden; };
  const text = (id) => shown(id) ? document.getElementById(id).textContent.trim().replace(/\s+/g, " ") : "";
  return [
    "url: " + location.href,
    "shown: " + ["login-view", "sessions-view", "admin-view"].filter(shown).join(", "),
    "signed in as: " + text("whoami-user"),
    "sessions: " + [...document.querySelectorAll("#sessions-body tr[data-session-id]")].map((tr) => tr.dataset.sessionId + (tr.dataset.current === "true" ? " (this device)" : "")).join(", "),
    "error banner: " + text("error"),
    "status banner: " + text("status"),
  ].join("\n");
})()`

// state reports what the page shows and what its console said.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, stateTimeout)
	defer cancel()
	var b strings.Builder
	if s, err := chromedp.Run(ctx, chromedp.Evaluate[string](stateJS)); err != nil {
		fmt.Fprintf(&b, "page state unavailable: %v\n", err)
	} else {
		b.WriteString(s + "\n")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		fmt.Fprintf(&b, "console %s\n", m)
	}
	return b.String()
}

// signIn opens the page, fills in the sign-in form and waits for the
// sessions list.
func (p *page) signIn(t *testing.T, user string) {
	t.Helper()
	p.do(t, "sign in as "+user,
		chromedp.Navigate(p.base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("login-username"), user),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(currentRow)),
	)
	if got := run(t, p, "read the signed-in user", chromedp.Text(chromedp.ID("whoami-user"))); got != user {
		t.Fatalf("browser %s: the page says signed in as %q, want %q", p.name, got, user)
	}
}

// Selectors of the sessions list, by the data attributes the page sets.
const currentRow = `#sessions-body tr[data-current="true"]`

func rowOf(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#sessions-body tr[data-session-id=%q]`, id))
}

func revokeButtonOf(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#sessions-body button[data-action="revoke-session"][data-session-id=%q]`, id))
}

// row is one line of the sessions list as the page shows it.
type row struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Device  string `json:"device"`
	IP      string `json:"ip"`
	Badge   string `json:"badge"`  // "This device" on the current session
	Revoke  bool   `json:"revoke"` // has a Revoke button
}

const rowsJS = `[...document.querySelectorAll("#sessions-body tr[data-session-id]")].map((tr) => ({
  id: tr.dataset.sessionId,
  current: tr.dataset.current === "true",
  device: tr.querySelector(".device")?.textContent ?? "",
  ip: tr.querySelector(".ip")?.textContent ?? "",
  badge: tr.querySelector("[data-testid=this-device]")?.textContent ?? "",
  revoke: !!tr.querySelector("button[data-action=revoke-session]"),
}))`

// sessions reads the sessions list.
func (p *page) sessions(t *testing.T) []row {
	t.Helper()
	return run(t, p, "read the sessions list", chromedp.Evaluate[[]row](rowsJS))
}

// waitText waits until the element with the id is shown with the text.
func (p *page) waitText(t *testing.T, id, want string) {
	t.Helper()
	const js = `(id, want) => {
  const e = document.getElementById(id);
  return !!e && !e.hidden && e.textContent.trim() === want;
}`
	run(t, p, fmt.Sprintf("wait for #%s to say %q", id, want),
		chromedp.PollFunction[bool](js, chromedp.WithPollingArgs(id, want), chromedp.WithPollingTimeout(stepTimeout)))
}

// meStatus asks GET /me from the page, with the page's cookies, and
// returns the status.
func (p *page) meStatus(t *testing.T) int {
	t.Helper()
	return run(t, p, "fetch /me", chromedp.Evaluate[int](
		`fetch("/me", {credentials: "same-origin"}).then((r) => r.status)`, chromedp.EvalAwaitPromise))
}

// sessionCookie returns the session cookie the browser context holds for
// the server, or nil.
func (p *page) sessionCookie(t *testing.T) *network.Cookie {
	t.Helper()
	cookies := run(t, p, "read the cookies", func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base + "/"}})
		return res.Cookies, err
	})
	for _, c := range cookies {
		if c.Name == revoke.DefaultCookieName {
			return c
		}
	}
	return nil
}

// screenshot saves the whole page as PNG to screenshots/name, and to
// $REVOKE_SCREENSHOT_DIR when that is set.
func (p *page) screenshot(t *testing.T, name string) {
	t.Helper()
	// The pointer rests where the last click left it: move it off the
	// buttons so that none is drawn hovered.
	p.do(t, "move the pointer away", chromedp.MouseEvent(chromedp.MouseMoved, 0, 0))
	png := run(t, p, "take a screenshot", chromedp.FullScreenshot(100)) // 100: PNG
	dirs := []string{"screenshots"}
	if d := os.Getenv("REVOKE_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("browser %s: screenshot saved to %s (%d bytes)", p.name, path, len(png))
	}
}

// checkConsole fails the test on what the page's console reports as a
// fault: an uncaught exception, a blocked resource (the page runs under a
// strict Content-Security-Policy) or another error. The only errors
// expected are the browser's notes on 401 answers, which is how a page
// without a valid session learns it is signed out.
func (p *page) checkConsole(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		expected := m.Type == chromedp.ConsoleError && strings.Contains(m.Text, "status of 401")
		if (m.IsException() || m.Type == chromedp.ConsoleError) && !expected {
			t.Errorf("browser %s: console %s (%s:%d)", p.name, m, m.URL, m.Line+1)
		}
	}
}

// tail returns the last n lines of out, leaving out Chromium's errors about
// the D-Bus it cannot reach in a container: they are expected and drown
// the lines that matter.
func tail(out string, n int) string {
	var lines []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "dbus") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "")
}
