package main

import (
	"context"
	"sync"
	"time"

	"github.com/revokehq/revoke"
)

// maxNewDeviceUsers bounds the users newDevices remembers: sign-ins through
// an OpenID provider bring users the demo does not list.
const maxNewDeviceUsers = 10_000

// newDeviceSignIn is a sign-in from a browser that had never signed its
// user in before, as the page shows it: "New sign-in from Chrome 131 on
// macOS at ...".
type newDeviceSignIn struct {
	SessionID string    `json:"sessionId"`
	Device    string    `json:"device"` // "Chrome 131 on macOS"
	IPAddress string    `json:"ipAddress,omitempty"`
	At        time.Time `json:"at"`
}

// newDevices keeps, in memory, the last new-device sign-in of each user,
// from the OnLogin hook. A real app would send the "new sign-in to your
// account" message there; the demo shows it on the page instead.
type newDevices struct {
	mu     sync.Mutex
	byUser map[string]newDeviceSignIn
}

func newNewDevices() *newDevices {
	return &newDevices{byUser: make(map[string]newDeviceSignIn)}
}

// onLogin is the OnLogin hook.
func (n *newDevices) onLogin(_ context.Context, ev revoke.LoginEvent) {
	if !ev.NewDevice {
		return
	}
	s := ev.Session
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, known := n.byUser[s.UserID]; !known && len(n.byUser) >= maxNewDeviceUsers {
		for k := range n.byUser { // full: forget any one user
			delete(n.byUser, k)
			break
		}
	}
	n.byUser[s.UserID] = newDeviceSignIn{SessionID: s.ID, Device: ev.Device.Name, IPAddress: s.IP, At: s.CreatedAt.UTC()}
}

// last returns the last new-device sign-in of userID, if any.
func (n *newDevices) last(userID string) (newDeviceSignIn, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.byUser[userID]
	return e, ok
}
