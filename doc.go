// Package revoke gives a net/http application server-side sessions that it
// can revoke immediately: one session, all of a user's sessions, or all but
// the current one, by the user, an administrator or an identity provider.
//
// A Manager issues sessions, hands out their tokens (in a signed cookie for
// browsers, as a bare token for other clients) and resolves them again on
// every request through its Middleware. The sessions themselves live in a
// store.SessionStore: store/memstore in memory, store/sqlitestore on SQLite,
// store/pgstore on PostgreSQL, or any other backend that passes
// store/storetest. Tokens are random and are never stored: the store keeps
// their SHA-256 hash, so a leaked database gives no one a usable session.
//
// # Everyday use
//
//   - New with Options (WithCookieKeys, WithLifetime, ...) makes the Manager.
//     Every option, here and in the other packages, refuses a value it
//     cannot take, and a nil option is an error, so New fails rather than
//     run with a setting no one asked for.
//   - Login (after checking credentials; AuthenticatedAt, KeepPreviousSession)
//     starts a session and sets the cookie; Logout ends it; Renew gives it a
//     new token.
//   - Middleware resolves every request; FromContext gives the Current
//     session; RequireSession (APIs) and RedirectToLogin (pages) guard
//     routes; FailureReason says why a request is anonymous.
//   - RevokeSession, RevokeOthers and RevokeAll revoke; OnRevoke hears of
//     every revocation, with a Cause built from UserActor, AdminActor,
//     ProviderActor or ActorSystem.
//
// Once a revocation has returned, no request gets a usable session out of
// what it revoked: RevokeAll also sets the user's not-before time, which no
// store lets a session authenticated earlier pass (see ErrNotBefore).
//
// # Building custom endpoints
//
// The handlers package mounts Okta-, Ory Kratos- and admin-style endpoints
// on a Manager. Endpoints of your own use ResolveRequest (the Middleware's
// resolution, answering in your format), Anonymous (no session, or a store
// failure?), Create (a session without a cookie), Resolve (a bare token),
// SetCookie and ExpireCookie, HashToken and ValidToken, and NewContext in
// tests.
package revoke
