package main

import (
	"crypto/sha256"
	"crypto/subtle"
)

// user is an account of the demo. Its ID doubles as the username and as the
// user id sessions are issued to.
type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

// demoUsers is the demo's whole user table.
var demoUsers = []user{
	{ID: "alice", Name: "Alice"},
	{ID: "bob", Name: "Bob"},
	{ID: "carol", Name: "Carol"},
	{ID: "admin", Name: "Administrator", Admin: true},
}

// users looks accounts up and checks passwords.
type users struct {
	byID     map[string]user
	password [sha256.Size]byte // every demo user shares one password
}

func newUsers(password string) *users {
	u := &users{byID: make(map[string]user, len(demoUsers)), password: sha256.Sum256([]byte(password))}
	for _, d := range demoUsers {
		u.byID[d.ID] = d
	}
	return u
}

// lookup returns the user with the given id.
func (u *users) lookup(id string) (user, bool) {
	d, ok := u.byID[id]
	return d, ok
}

// isAdmin reports whether id names an administrator.
func (u *users) isAdmin(id string) bool {
	d, ok := u.byID[id]
	return ok && d.Admin
}

// authenticate returns the user whose credentials these are. The password
// is compared in constant time, and compared also for unknown usernames, so
// timing tells neither the password nor which usernames exist. Comparing
// digests keeps the comparison's length fixed.
func (u *users) authenticate(username, password string) (user, bool) {
	d, known := u.byID[username]
	got := sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(got[:], u.password[:]) == 1
	return d, known && match
}
