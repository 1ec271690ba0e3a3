package caep

// Subject identifier formats (RFC 9493, and the Shared Signals Framework's
// complex subject).
const (
	FormatOpaque  = "opaque"
	FormatEmail   = "email"
	FormatIssSub  = "iss_sub"
	FormatComplex = "complex"
)

// Subject is a Security Event Subject Identifier (RFC 9493) in the formats
// this package reads and writes; a complex subject names a user and a
// session together. Members of other formats are ignored.
type Subject struct {
	Format string `json:"format"`
	ID     string `json:"id,omitempty"`    // opaque
	Email  string `json:"email,omitempty"` // email
	Issuer string `json:"iss,omitempty"`   // iss_sub
	Sub    string `json:"sub,omitempty"`   // iss_sub

	User    *Subject `json:"user,omitempty"`    // complex
	Session *Subject `json:"session,omitempty"` // complex
}

// user returns the part of s that names a user, or nil.
func (s *Subject) user() *Subject {
	switch {
	case s == nil:
		return nil
	case s.Format == FormatComplex:
		return s.User
	}
	return s
}

// sessionID returns the opaque session id a complex subject names, or "".
func (s *Subject) sessionID() string {
	if s == nil || s.Format != FormatComplex || s.Session == nil || s.Session.Format != FormatOpaque {
		return ""
	}
	return s.Session.ID
}
