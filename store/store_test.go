package store_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// TestSessionJSONOmitsSecrets checks that a Session encoded as JSON, as an
// app may do to list sessions, carries neither the token hash nor the
// session's data.
func TestSessionJSONOmitsSecrets(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	s := store.Session{
		ID:            "sess-1",
		UserID:        "alice",
		TokenHash:     [32]byte([]byte("0123456789abcdef0123456789abcdef")),
		CreatedAt:     now,
		LastSeenAt:    now,
		ExpiresAt:     now.Add(time.Hour),
		IdleExpiresAt: now.Add(time.Hour),
		Data:          []byte("secret scs values"),
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"TokenHash", "Data"} {
		if _, ok := fields[name]; ok {
			t.Errorf("JSON of a Session has %s: %s", name, b)
		}
	}
	for _, leak := range []string{
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", // the hash, base64
		"48,49,50,51,52,53,54,55,56,57",               // the hash, as an array
		"c2VjcmV0IHNjcyB2YWx1ZXM",                     // the data, base64
	} {
		if strings.Contains(string(b), leak) {
			t.Errorf("JSON of a Session leaks %q: %s", leak, b)
		}
	}
	if fields["ID"] != "sess-1" || fields["UserID"] != "alice" {
		t.Errorf("JSON of a Session lost its public fields: %s", b)
	}
}

// TestCheckTimes checks the range test backends run in Create: every time
// but RevokedAt must be set, and every set time lie within the bounds, which
// are inclusive.
func TestCheckTimes(t *testing.T) {
	earliest := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	valid := store.Session{
		CreatedAt:     earliest,
		LastSeenAt:    earliest,
		ExpiresAt:     latest,
		IdleExpiresAt: latest,
	}
	if err := valid.CheckTimes(earliest, latest); err != nil {
		t.Fatalf("a session not revoked, with times at the bounds: %v", err)
	}
	revoked := valid
	revoked.RevokedAt = latest
	if err := revoked.CheckTimes(earliest, latest); err != nil {
		t.Fatalf("a revoked session: %v", err)
	}

	fields := map[string]func(*store.Session) *time.Time{
		"CreatedAt":     func(s *store.Session) *time.Time { return &s.CreatedAt },
		"LastSeenAt":    func(s *store.Session) *time.Time { return &s.LastSeenAt },
		"ExpiresAt":     func(s *store.Session) *time.Time { return &s.ExpiresAt },
		"IdleExpiresAt": func(s *store.Session) *time.Time { return &s.IdleExpiresAt },
		"RevokedAt":     func(s *store.Session) *time.Time { return &s.RevokedAt },
	}
	for name, field := range fields {
		for _, bad := range []time.Time{
			earliest.Add(-time.Nanosecond),
			latest.Add(time.Nanosecond),
			{}, // zero, allowed only for RevokedAt
		} {
			s := revoked
			*field(&s) = bad
			err := s.CheckTimes(earliest, latest)
			if name == "RevokedAt" && bad.IsZero() {
				if err != nil {
					t.Errorf("RevokedAt zero (not revoked): %v", err)
				}
				continue
			}
			if err == nil || !strings.HasPrefix(err.Error(), name+" ") {
				t.Errorf("%s %v: got error %v, want one naming %s", name, bad, err, name)
			}
		}
	}
}

func TestSelectionCheck(t *testing.T) {
	for _, c := range []struct {
		sel  store.Selection
		want error
	}{
		{store.Selection{}, store.ErrNoUser},
		{store.Selection{ExceptID: "s1"}, store.ErrNoUser},
		{store.Selection{UserID: "alice"}, nil},
		{store.Selection{SessionID: "s1"}, nil}, // an anonymous session, by id
	} {
		if got := c.sel.Check(); !errors.Is(got, c.want) || (c.want == nil && got != nil) {
			t.Errorf("%+v.Check() = %v, want %v", c.sel, got, c.want)
		}
	}
	// An authentication cut belongs to a user, and to more than one session.
	cut := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, sel := range []store.Selection{
		{SessionID: "s1", AuthenticatedBefore: cut},
		{UserID: "alice", SessionID: "s1", AuthenticatedBefore: cut},
	} {
		if err := sel.Check(); err == nil {
			t.Errorf("%+v.Check() = nil, want an error", sel)
		}
	}
	for _, sel := range []store.Selection{
		{UserID: "alice", AuthenticatedBefore: cut},
		{UserID: "alice", ExceptID: "s1", AuthenticatedBefore: cut, NotBefore: cut},
	} {
		if err := sel.Check(); err != nil {
			t.Errorf("%+v.Check() = %v, want nil", sel, err)
		}
	}
}

// TestTokenHashOf checks the reading of a stored token hash: 32 bytes are
// the hash, any other length is an error rather than a zero or cut hash.
func TestTokenHashOf(t *testing.T) {
	want := sha256.Sum256([]byte("token"))
	got, err := store.TokenHashOf(want[:])
	if err != nil || got != want {
		t.Fatalf("TokenHashOf(32 bytes) = %x, %v; want %x, nil", got, err, want)
	}
	for _, b := range [][]byte{nil, {}, want[:31], append(want[:], 0)} {
		if _, err := store.TokenHashOf(b); err == nil {
			t.Errorf("TokenHashOf(%d bytes) gave no error", len(b))
		}
	}
}

// TestSelectionPicks checks the rule of what a Revoke revokes, which memstore
// applies as it is and the SQL backends in their WHERE clauses.
func TestSelectionPicks(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	live := func(id, user string) *store.Session {
		return &store.Session{ID: id, UserID: user, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	}
	revoked := live("r", "alice")
	revoked.RevokedAt = now.Add(-time.Minute)
	expired := live("e", "alice")
	expired.IdleExpiresAt = now
	authAt := func(id string, created, authenticated time.Time) *store.Session {
		s := live(id, "alice")
		s.CreatedAt, s.AuthenticatedAt = created, authenticated
		return s
	}
	cut := now.Add(-time.Hour)
	for _, tc := range []struct {
		sel  store.Selection
		s    *store.Session
		want bool
	}{
		{store.Selection{UserID: "alice"}, live("a", "alice"), true},
		{store.Selection{UserID: "alice"}, live("b", "bob"), false},
		{store.Selection{UserID: "alice"}, revoked, false},
		{store.Selection{UserID: "alice"}, expired, false},
		{store.Selection{UserID: "alice", SessionID: "a"}, live("a", "alice"), true},
		{store.Selection{UserID: "alice", SessionID: "a"}, live("x", "alice"), false},
		{store.Selection{UserID: "alice", ExceptID: "a"}, live("a", "alice"), false},
		{store.Selection{UserID: "alice", ExceptID: "a"}, live("x", "alice"), true},
		{store.Selection{SessionID: "a"}, live("a", ""), true},       // an anonymous session, by id
		{store.Selection{SessionID: "a"}, live("a", "alice"), false}, // not anonymous
		{store.Selection{UserID: "alice", AuthenticatedBefore: cut}, authAt("a", cut, cut.Add(-time.Nanosecond)), true},
		{store.Selection{UserID: "alice", AuthenticatedBefore: cut}, authAt("a", cut.Add(-time.Hour), cut), false}, // at the cut
		{store.Selection{UserID: "alice", AuthenticatedBefore: cut}, authAt("a", cut, cut.Add(time.Second)), false},
		{store.Selection{UserID: "alice", AuthenticatedBefore: cut}, authAt("a", cut.Add(-time.Second), time.Time{}), true}, // zero: CreatedAt
		{store.Selection{UserID: "alice", AuthenticatedBefore: cut}, authAt("a", cut, time.Time{}), false},
	} {
		if got := tc.sel.Picks(tc.s, now); got != tc.want {
			t.Errorf("%+v picks %s of %q: %v, want %v", tc.sel, tc.s.ID, tc.s.UserID, got, tc.want)
		}
	}
}

// TestSelectionRevokeArgs checks the arguments of a revocation statement
// in each scope.
func TestSelectionRevokeArgs(t *testing.T) {
	for _, tc := range []struct {
		sel   store.Selection
		scope store.Scope
		args  string
	}{
		{store.Selection{UserID: "u"}, store.ScopeAll, "[1 why u 2]"},
		{store.Selection{UserID: "u", SessionID: "s"}, store.ScopeOne, "[1 why u 2 s]"},
		{store.Selection{UserID: "u", ExceptID: "x"}, store.ScopeAllBut, "[1 why u 2 x]"},
	} {
		if got := tc.sel.Scope(); got != tc.scope {
			t.Errorf("%+v: scope %v, want %v", tc.sel, got, tc.scope)
		}
		if got := fmt.Sprint(tc.sel.RevokeArgs(1, "why", 2)); got != tc.args {
			t.Errorf("%+v: args %s, want %s", tc.sel, got, tc.args)
		}
	}
}

// TestSessionOld checks when a cleanup removes a session: an unrevoked
// one once expired, a revoked one once revoked before the cut and past its
// absolute expiry, whatever its idle expiry.
func TestSessionOld(t *testing.T) {
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	s := store.Session{ExpiresAt: t0.Add(2 * time.Hour), IdleExpiresAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		revokedAt time.Time
		at        time.Time
		want      bool
	}{
		{time.Time{}, t0, false},
		{time.Time{}, t0.Add(time.Hour), true}, // idle expiry reached
		{t0, t0.Add(time.Hour), false},         // revoked: a tombstone until its absolute expiry
		{t0, t0.Add(2 * time.Hour), true},
		{t0.Add(3 * time.Hour), t0.Add(3 * time.Hour), false}, // revoked at the cut, not before it
	} {
		s.RevokedAt = tc.revokedAt
		if got := s.Old(tc.at); got != tc.want {
			t.Errorf("revoked at %v, Old(%v) = %v, want %v", tc.revokedAt, tc.at, got, tc.want)
		}
	}
}
