package store_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
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
