// Package revoke gives a net/http application server-side sessions that it
// can revoke immediately: one session, all of a user's sessions, or all but
// the current one, by the user or by an administrator.
//
// A Manager issues sessions, hands out their tokens (in a signed cookie for
// browsers, as a bare token for other clients) and resolves them again on
// every request through its Middleware. The sessions themselves live in a
// store.SessionStore: store/memstore in memory, store/sqlitestore on SQLite,
// or any other backend that passes store/storetest. Tokens are random and are
// never stored: the store keeps their SHA-256 hash, so a leaked database
// gives no one a usable session.
//
// The handlers package mounts the HTTP endpoints (Okta-, Ory Kratos- and
// admin-style) on top of a Manager.
package revoke
