package store

import "github.com/revokehq/revoke/internal/randid"

// NewID returns a new random session id: an RFC 4122 version 4 UUID, the
// form of id that Ory's and Okta's clients are used to.
func NewID() string { return randid.UUID() }
