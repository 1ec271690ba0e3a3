package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"
)

// The authenticator assurance levels of an AuthMethod, as Ory Kratos and
// NIST SP 800-63B name them: one factor, two, and two with a hardware
// authenticator.
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
	AAL3 = "aal3"
)

// Bounds of what a session records about its sign-in, so that an app
// cannot grow every row of the store by accident.
const (
	MaxMethods     = 8   // AuthMethods a session keeps
	MaxLabels      = 8   // labels a session has
	MaxLabelKey    = 32  // bytes of a label's key
	MaxLabelValue  = 128 // bytes of a label's value
	maxMethodBytes = 32
)

// AuthMethod is one way a session's user proved who they are: a method
// name such as "password", "totp" or "webauthn", the assurance level it
// gave, and when. The JSON names are Ory Kratos's.
type AuthMethod struct {
	Method      string    `json:"method"`
	AAL         string    `json:"aal"`
	CompletedAt time.Time `json:"completed_at"`
}

var (
	methodName = regexp.MustCompile(`^[a-z0-9_]+$`)
	labelKey   = regexp.MustCompile(`^[a-z0-9_.-]+$`)
)

// Assurance returns the session's authenticator assurance level: the
// highest of its AuthMethods', and AAL1 for a session that records none,
// since someone signed in.
func (s *Session) Assurance() string {
	best := AAL1
	for _, m := range s.AuthMethods {
		best = max(best, m.AAL) // "aal1" < "aal2" < "aal3"
	}
	return best
}

// HasSignIn reports whether the session records authentication methods or
// labels, which only a SignInStore keeps.
func (s *Session) HasSignIn() bool { return len(s.AuthMethods) > 0 || len(s.Labels) > 0 }

// CheckSignIn returns an error, naming what is wrong, unless the session's
// AuthMethods and Labels are within the bounds every SignInStore keeps: at
// most MaxMethods methods, each named by 1 to 32 of a-z, 0-9 and _, with
// an AAL of AAL1 to AAL3 and a CompletedAt within [earliest, latest]; at
// most MaxLabels labels, each key 1 to MaxLabelKey of a-z, 0-9, _, . and
// -, each value 1 to MaxLabelValue bytes of UTF-8 without control
// characters.
func (s *Session) CheckSignIn(earliest, latest time.Time) error {
	if err := CheckMethods(s.AuthMethods, earliest, latest); err != nil {
		return err
	}
	return CheckLabels(s.Labels)
}

// CheckMethods checks a session's AuthMethods as CheckSignIn does.
func CheckMethods(methods []AuthMethod, earliest, latest time.Time) error {
	if len(methods) > MaxMethods {
		return fmt.Errorf("store: %d authentication methods; at most %d", len(methods), MaxMethods)
	}
	for _, m := range methods {
		switch {
		case len(m.Method) > maxMethodBytes || !methodName.MatchString(m.Method):
			return fmt.Errorf("store: authentication method %q: a name of 1 to %d of a-z, 0-9 and _", m.Method, maxMethodBytes)
		case m.AAL != AAL1 && m.AAL != AAL2 && m.AAL != AAL3:
			return fmt.Errorf("store: authentication method %q: assurance level %q is not aal1, aal2 or aal3", m.Method, m.AAL)
		case m.CompletedAt.IsZero() || m.CompletedAt.Before(earliest) || m.CompletedAt.After(latest):
			return fmt.Errorf("store: authentication method %q: completed at %v, zero or outside the range", m.Method, m.CompletedAt)
		}
	}
	return nil
}

// CheckLabels checks a session's Labels as CheckSignIn does.
func CheckLabels(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("store: %d labels; at most %d", len(labels), MaxLabels)
	}
	for k, v := range labels {
		if len(k) > MaxLabelKey || !labelKey.MatchString(k) {
			return fmt.Errorf("store: label %q: a key of 1 to %d of a-z, 0-9, _, . and -", k, MaxLabelKey)
		}
		if v == "" || len(v) > MaxLabelValue || !utf8.ValidString(v) || containsControl(v) {
			return fmt.Errorf("store: label %q: a value of 1 to %d bytes of UTF-8 without control characters", k, MaxLabelValue)
		}
	}
	return nil
}

func containsControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// SignInStore is implemented by stores that keep how each session was
// signed in: Create stores, and every read returns, a session's
// AuthMethods and Labels. It is optional: revoke.AuthenticatedWith,
// revoke.Label and Manager.Reauthenticated need it. A store that does
// not implement it refuses, with ErrUnsupported, to create a session that
// has either.
type SignInStore interface {
	SessionStore

	// Reauthenticate records a new authentication on the active session
	// with the given id: its token hash becomes newHash (the old token
	// stops working at once), its AuthenticatedAt at and its AuthMethods
	// methods, all in one step that also checks that the session is active
	// at now and that its user's not-before time is not after at. It
	// returns ErrNotFound for an unknown id, ErrInactive for a revoked or
	// expired session, ErrNotBefore when the not-before time refuses it and
	// ErrDuplicate when newHash is taken, changing nothing.
	Reauthenticate(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []AuthMethod, now time.Time) error
}

// SignInDatabase is implemented by a Database that keeps AuthMethods and
// Labels in Insert and every load: Rules then accepts sessions that have
// them, and ReauthenticateWith works on it.
type SignInDatabase interface {
	// ReauthenticateActive makes the change of SignInStore.Reauthenticate
	// if the session is active at now and its user's not-before time
	// allows at, checked in the same step; changed reports whether it did.
	// A taken hash gives ErrDuplicate.
	ReauthenticateActive(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []AuthMethod, now time.Time) (changed bool, err error)
}

// checkSignIn refuses, before anything is written, a session whose sign-in
// details the database would not keep or that are out of bounds.
func (r *Rules) checkSignIn(s *Session) error {
	if !s.HasSignIn() {
		return nil
	}
	if _, ok := r.db.(SignInDatabase); !ok {
		return fmt.Errorf("%w: authentication methods and labels", ErrUnsupported)
	}
	if err := s.CheckSignIn(r.cfg.Earliest, r.cfg.Latest); err != nil {
		return fmt.Errorf("%s: create: %w", r.cfg.Name, err)
	}
	return nil
}

// ReauthenticateWith is SignInStore's Reauthenticate on a Database that is
// a SignInDatabase, and returns ErrUnsupported on one that is not. It is
// not named Reauthenticate so that embedding Rules does not make a store a
// SignInStore: a backend that keeps sign-in details says so with a
// Reauthenticate of its own that calls this.
func (r *Rules) ReauthenticateWith(ctx context.Context, id string, newHash [sha256.Size]byte, at time.Time, methods []AuthMethod, now time.Time) error {
	sdb, ok := r.db.(SignInDatabase)
	if !ok {
		return fmt.Errorf("%w: authentication methods and labels", ErrUnsupported)
	}
	if at.IsZero() || at.Before(r.cfg.Earliest) || at.After(r.cfg.Latest) {
		return fmt.Errorf("%s: reauthenticate: at %v is zero or outside the range of %s", r.cfg.Name, at, r.cfg.Range)
	}
	if err := CheckMethods(methods, r.cfg.Earliest, r.cfg.Latest); err != nil {
		return fmt.Errorf("%s: reauthenticate: %w", r.cfg.Name, err)
	}
	return r.changeOne(ctx, id, now, ErrNotBefore, func(ctx context.Context) (bool, error) {
		return sdb.ReauthenticateActive(ctx, id, newHash, at, methods, now)
	})
}

// Reauthenticate calls st's Reauthenticate, or returns ErrUnsupported when
// st is not a SignInStore.
func Reauthenticate(ctx context.Context, st SessionStore, id string, newHash [sha256.Size]byte, at time.Time, methods []AuthMethod, now time.Time) error {
	ss, ok := st.(SignInStore)
	if !ok {
		return fmt.Errorf("%w: authentication methods and labels", ErrUnsupported)
	}
	return ss.Reauthenticate(ctx, id, newHash, at, methods, now)
}

// EncodeMethods returns methods as a database column keeps them, JSON, and
// false (NULL) for none.
func EncodeMethods(methods []AuthMethod) (string, bool) {
	if len(methods) == 0 {
		return "", false
	}
	utc := make([]AuthMethod, len(methods))
	for i, m := range methods {
		m.CompletedAt = m.CompletedAt.UTC()
		utc[i] = m
	}
	b, _ := json.Marshal(utc) // cannot fail: strings and times
	return string(b), true
}

// DecodeMethods reads what EncodeMethods wrote; "" means none.
func DecodeMethods(s string) ([]AuthMethod, error) {
	if s == "" {
		return nil, nil
	}
	var out []AuthMethod
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("store: authentication methods: %w", err)
	}
	return out, nil
}

// EncodeLabels returns labels as a database column keeps them, JSON, and
// false (NULL) for none.
func EncodeLabels(labels map[string]string) (string, bool) {
	if len(labels) == 0 {
		return "", false
	}
	b, _ := json.Marshal(labels) // cannot fail: strings; keys sorted
	return string(b), true
}

// DecodeLabels reads what EncodeLabels wrote; "" means none.
func DecodeLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("store: labels: %w", err)
	}
	return out, nil
}
