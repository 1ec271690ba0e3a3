package caep

import (
	"encoding/json"

	"github.com/go-jose/go-jose/v4/jwt"
)

// Type is the typ header of a Security Event Token (RFC 8417 section 2.3).
const Type = "secevent+jwt"

// ContentType is the media type of a SET in a push delivery (RFC 8935).
const ContentType = "application/secevent+jwt"

// EventSessionRevoked is the CAEP session-revoked event type.
const EventSessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

// SET is the claims of a Security Event Token.
type SET struct {
	Issuer   string           `json:"iss"`
	Audience jwt.Audience     `json:"aud,omitempty"`
	IssuedAt *jwt.NumericDate `json:"iat,omitempty"`
	ID       string           `json:"jti"`
	// Subject is the Shared Signals Framework's sub_id: the subject of
	// the events. Older CAEP drafts put it inside the event instead.
	Subject *Subject `json:"sub_id,omitempty"`
	// TransactionID is txn, kept as sent: the CAEP examples send a number
	// where the SSF says a string.
	TransactionID json.RawMessage `json:"txn,omitempty"`
	// Events maps each event type to its payload, decoded by its type.
	Events map[string]json.RawMessage `json:"events"`
}

// SessionRevoked is the payload of the CAEP session-revoked event.
type SessionRevoked struct {
	// Subject is the subject as older drafts place it in the event.
	Subject *Subject `json:"subject,omitempty"`
	// EventTimestamp is when the session was revoked, in seconds since
	// the epoch (the CAEP examples also show milliseconds; it is kept as
	// sent).
	EventTimestamp int64 `json:"event_timestamp"`
	// InitiatingEntity is "admin", "user", "policy" or "system".
	InitiatingEntity string `json:"initiating_entity,omitempty"`
	// ReasonAdmin and ReasonUser map a language tag to text.
	ReasonAdmin map[string]string `json:"reason_admin,omitempty"`
	ReasonUser  map[string]string `json:"reason_user,omitempty"`
}

// SessionRevoked returns the session-revoked event of the SET, if any,
// with its subject: the SET's sub_id, else the event's own subject.
func (s *SET) SessionRevoked() (ev SessionRevoked, subject *Subject, ok bool, err error) {
	raw, ok := s.Events[EventSessionRevoked]
	if !ok {
		return SessionRevoked{}, nil, false, nil
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return SessionRevoked{}, nil, true, err
	}
	subject = s.Subject
	if subject == nil {
		subject = ev.Subject
	}
	return ev, subject, true, nil
}
