// Package caep speaks the OpenID Continuous Access Evaluation Profile's
// session-revoked event, in both directions, as Security Event Tokens
// (SETs, RFC 8417) delivered by push (RFC 8935).
//
// Out: a Sender's Option makes a Manager record one outbox message per
// receiver in the store's outbox in the same atomic write as each of its
// revocations (revoke.WithOutbox, store.RecordingStore), so that a process
// killed at any moment loses neither the revocation nor its events. The
// Sender's Run delivers each message as one SET per revoked session, signed
// by a Signer at delivery, with backoff, at least once; a redelivered SET
// carries the same jti. The Signer's public keys are served by its JWKS
// handler.
//
// In: a Receiver is the http.Handler of POST /auth/ssf/events. It verifies
// a SET against the configured transmitter's keys, iss, aud and typ, refuses
// a replayed jti (store.TokenIDStore), and revokes the sessions a
// session-revoked event names: by the transmitter's session id (the sid of
// revoke.FromProvider) or by user. Other events are acknowledged and
// ignored. Receive is the same work without HTTP, for handlers that answer
// in a shape of their own (the handlers package's SecurityEvents route).
package caep
