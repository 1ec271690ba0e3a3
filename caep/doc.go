// Package caep speaks the OpenID Continuous Access Evaluation Profile's
// session-revoked event, in both directions, as Security Event Tokens
// (SETs, RFC 8417) delivered by push (RFC 8935).
//
// Out: a Sender, registered with revoke.OnRevoke, records an outbox message
// for every session a revocation ends (store.OutboxStore) and delivers it to
// each configured receiver as a SET signed by a Signer, with backoff, at
// least once; duplicates carry the same jti. The Signer's public keys are
// served by its JWKS handler.
//
// In: a Receiver is the http.Handler of POST /auth/ssf/events. It verifies
// a SET against the configured transmitter's keys, iss, aud and typ, refuses
// a replayed jti (store.TokenIDStore), and revokes the sessions a
// session-revoked event names: by the transmitter's session id (the sid of
// revoke.FromProvider) or by user. Other events are acknowledged and
// ignored.
//
// The outbox message is written by the revocation hook, right after the
// revocation commits, not in the revocation's own transaction: a process
// killed between the two loses that event, though the revocation was never
// acknowledged to its caller.
package caep
