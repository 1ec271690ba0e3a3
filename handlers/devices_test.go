package handlers_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
)

const (
	chromeOnMac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariOnIOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// Each session the lists and whoami show carries its device as people read
// it, in the family's naming: inside Kratos's devices[] entries beside
// ip_address and user_agent, and as a camelCase device object in the admin
// list.
func TestReadableDevices(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	create := func(ua string) session {
		s, token, err := e.m.Create(context.Background(), "carol", revoke.Device{IP: "198.51.100.4", UserAgent: ua})
		is.NoErr(err)
		return session{s, token}
	}
	mac, phone, bare := create(chromeOnMac), create(safariOnIOS), create("")

	device := func(v map[string]any) map[string]any {
		devs := v["devices"].([]any)
		is.Equal(len(devs), 1)
		return devs[0].(map[string]any)
	}
	r := e.do("GET", "/auth/sessions/whoami", "", "X-Session-Token", mac.token)
	is.Equal(r.StatusCode, 200)
	d := device(r.json(t))
	is.Equal(d["id"], mac.ID)
	is.Equal(d["ip_address"], "198.51.100.4")
	is.Equal(d["user_agent"], chromeOnMac)
	is.Equal(d["name"], "Chrome 131 on macOS")
	is.Equal(d["browser"], "Chrome")
	is.Equal(d["browser_version"], "131")
	is.Equal(d["os"], "macOS")
	is.Equal(d["mobile"], false)
	_, bot := d["bot"]
	is.True(!bot) // only said of bots

	r = e.do("GET", "/auth/sessions", "", "X-Session-Token", mac.token)
	is.Equal(r.StatusCode, 200)
	var list []map[string]any
	is.NoErr(json.Unmarshal(r.body, &list))
	byID := map[string]map[string]any{}
	for _, s := range list {
		byID[s["id"].(string)] = device(s)
	}
	is.Equal(len(byID), 2) // the other two
	is.Equal(byID[phone.ID]["name"], "Safari 17 on iOS")
	is.Equal(byID[phone.ID]["os"], "iOS")
	is.Equal(byID[phone.ID]["mobile"], true)
	is.Equal(byID[bare.ID]["name"], "Unknown device") // no User-Agent, still a name
	_, hasBrowser := byID[bare.ID]["browser"]
	is.True(!hasBrowser)

	r = e.do("GET", "/auth/admin/api/users/carol/sessions", "", "Authorization", "SSWS "+adminToken)
	is.Equal(r.StatusCode, 200)
	admin := map[string]map[string]any{}
	for _, s := range r.json(t)["sessions"].([]any) {
		s := s.(map[string]any)
		admin[s["id"].(string)] = s["device"].(map[string]any)
	}
	is.Equal(len(admin), 3)
	is.Equal(admin[mac.ID], map[string]any{"name": "Chrome 131 on macOS", "browser": "Chrome", "browserVersion": "131", "os": "macOS", "mobile": false})
	is.Equal(admin[phone.ID], map[string]any{"name": "Safari 17 on iOS", "browser": "Safari", "browserVersion": "17", "os": "iOS", "mobile": true})
	is.Equal(admin[bare.ID], map[string]any{"name": "Unknown device", "mobile": false})

	// The revoked session's answer describes its device too.
	r = e.do("DELETE", "/auth/admin/api/users/carol/sessions/"+phone.ID, "", "Authorization", "SSWS "+adminToken)
	is.Equal(r.StatusCode, 200)
	is.Equal(r.json(t)["device"].(map[string]any)["name"], "Safari 17 on iOS")
}
