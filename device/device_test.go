package device_test

import (
	"testing"

	"github.com/revokehq/revoke/device"
)

func TestDescribe(t *testing.T) {
	for ua, want := range map[string]device.Info{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36": {
			Name: "Chrome 131 on macOS", Browser: "Chrome", BrowserVersion: "131", OS: "macOS"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": {
			Name: "Safari 17 on iOS", Browser: "Safari", BrowserVersion: "17", OS: "iOS", Mobile: true},
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0": {
			Name: "Firefox 133 on Windows", Browser: "Firefox", BrowserVersion: "133", OS: "Windows"},
		"": {Name: device.Unknown},
	} {
		got := device.Describe(ua)
		if got != want {
			t.Errorf("Describe(%q)\n got %+v\nwant %+v", ua, got, want)
		}
	}
	if got := device.Describe("curl/8.5.0"); got.Name == "" {
		t.Errorf("a client the parser does not know still has a name: %+v", got)
	}
}
