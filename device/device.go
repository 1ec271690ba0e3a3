// Package device turns a User-Agent header into the readable description
// of a device that a "your sessions" page shows ("Chrome 131 on macOS"),
// with the maintained parser github.com/medama-io/go-useragent, so that
// every client shows the same name and none has to parse raw strings.
package device

import (
	"strings"
	"sync"

	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Info describes the device a session was created from.
type Info struct {
	// Name is for people: "Chrome 131 on macOS", "Safari on iOS",
	// "Firefox", "Unknown device".
	Name           string `json:"name"`
	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browser_version,omitempty"`
	OS             string `json:"os,omitempty"`
	Mobile         bool   `json:"mobile"`
	Bot            bool   `json:"bot,omitempty"`
}

// Unknown is the Name of a device whose User-Agent names no browser or
// system the parser knows.
const Unknown = "Unknown device"

// parser is built on first use: it loads the parser's tables, which costs
// a few milliseconds and some memory that an app not showing devices
// should not pay.
var parser = sync.OnceValue(useragent.NewParser)

// Describe returns what userAgent says of its device.
func Describe(userAgent string) Info {
	if strings.TrimSpace(userAgent) == "" {
		return Info{Name: Unknown}
	}
	ua := parser().Parse(userAgent)
	info := Info{
		Browser:        string(ua.Browser()),
		BrowserVersion: ua.BrowserVersionMajor(),
		OS:             displayOS(string(ua.OS())),
		Mobile:         ua.IsMobile() || ua.IsTablet(),
		Bot:            ua.IsBot(),
	}
	if info.Browser == "" {
		info.BrowserVersion = ""
	}
	info.Name = name(info)
	return info
}

// displayOS spells a system's name as its maker does.
func displayOS(os string) string {
	if os == string(agents.OSMacOS) {
		return "macOS"
	}
	return os
}

func name(i Info) string {
	browser := i.Browser
	if browser != "" && i.BrowserVersion != "" && i.BrowserVersion != "0" {
		browser += " " + i.BrowserVersion
	}
	switch {
	case browser != "" && i.OS != "":
		return browser + " on " + i.OS
	case browser != "":
		return browser
	case i.OS != "":
		return i.OS
	}
	return Unknown
}
