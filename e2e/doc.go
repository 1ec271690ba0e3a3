// Package e2e holds end-to-end tests of the revoke demo server in a real
// browser: they build examples/server, run it on the loopback interface and
// drive headless Chromium (Debian's chromium package) through the Chrome
// DevTools Protocol. Without Chromium the tests skip.
//
//	cd e2e && go test ./...
//
// The tests save a screenshot of the "Active sessions" page to
// screenshots/sessions.png, and also to $REVOKE_SCREENSHOT_DIR when that is
// set.
//
// This is a module of its own so that the browser driver stays out of the
// library's dependencies.
package e2e
