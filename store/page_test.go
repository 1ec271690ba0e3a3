package store_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

func TestCursorTextRoundTrip(t *testing.T) {
	for _, c := range []store.Cursor{
		{CreatedAt: time.Date(2031, 3, 14, 15, 9, 26, 535_897_932, time.UTC), ID: "5c2c7f1e-8f5e-4a57-9d43-0e1f2a3b4c5d"},
		{CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ID: "x"},                   // before the Unix epoch
		{CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC), ID: "é"}, // the last time a backend keeps
		{CreatedAt: time.Unix(0, 0).UTC(), ID: strings.Repeat("i", 256)},
	} {
		is := is.New(t)
		text, err := c.MarshalText()
		is.NoErr(err)
		for _, b := range text {
			is.True(b == '-' || b == '_' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') // URL-safe
		}
		var got store.Cursor
		is.NoErr(got.UnmarshalText(text))
		is.True(got.CreatedAt.Equal(c.CreatedAt))
		is.Equal(got.ID, c.ID)
	}
}

func TestCursorTextZero(t *testing.T) {
	is := is.New(t)
	text, err := store.Cursor{}.MarshalText()
	is.NoErr(err)
	is.Equal(string(text), "") // the start is no token at all
	c := store.Cursor{ID: "kept"}
	is.NoErr(c.UnmarshalText(nil))
	is.True(c.IsZero())
}

func TestCursorTextRefusesForgeries(t *testing.T) {
	valid, err := store.Cursor{CreatedAt: time.Unix(1_900_000_000, 5), ID: "sess-1"}.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	// 19 bytes: the last character carries 4 bits that must be zero.
	odd, err := store.Cursor{CreatedAt: time.Unix(1_900_000_000, 5), ID: "sess-1x"}.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, odd[len(odd)-1])
	odd[len(odd)-1] = alphabet[last|1]
	enc := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	header := "\x00\x00\x00\x00\x71\x3f\xb3\x00\x00\x00\x00\x05" // 1.9e9 s, 5 ns
	for name, text := range map[string]string{
		"padded":                string(valid) + "=",
		"standard alphabet":     strings.NewReplacer("-", "+", "_", "/").Replace(enc(header + "sess>?>?")),
		"not base64":            "not a cursor!",
		"a trailing bit set":    string(odd),
		"no id":                 enc(header),
		"too short":             enc("\x00\x01"),
		"nanoseconds >= 1e9":    enc("\x00\x00\x00\x00\x71\x3f\xb3\x00\x3b\x9a\xca\x00sess-1"),
		"after the year 9999":   enc("\x00\x00\x00\x3b\x00\x00\x00\x00\x00\x00\x00\x00sess-1"),
		"seconds that overflow": enc("\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00sess-1"),
		"before the year 1":     enc("\xff\xff\xff\xf1\x00\x00\x00\x00\x00\x00\x00\x00sess-1"),
		"a NUL in the id":       enc(header + "sess\x00"),
		"invalid UTF-8":         enc(header + "sess\xff"),
		"id too long":           enc(header + strings.Repeat("i", 257)),
		"very long":             strings.Repeat("A", 10_000),
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			c := store.Cursor{ID: "unchanged"}
			err := c.UnmarshalText([]byte(text))
			is.True(errors.Is(err, store.ErrBadCursor))
			is.Equal(c, store.Cursor{ID: "unchanged"}) // left as it was
		})
	}
}

func TestCursorMarshalRefusesIDsItCannotCarry(t *testing.T) {
	is := is.New(t)
	for _, id := range []string{"", strings.Repeat("i", 257), "a\x00b", "\xff"} {
		_, err := store.Cursor{CreatedAt: time.Unix(1, 0), ID: id}.MarshalText()
		is.True(errors.Is(err, store.ErrBadCursor))
	}
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)} {
		_, err := store.Cursor{CreatedAt: at, ID: "x"}.MarshalText()
		is.True(errors.Is(err, store.ErrBadCursor)) // a time no backend keeps
	}
}

func TestCursorOrder(t *testing.T) {
	is := is.New(t)
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	// In listing order: newest first, then the greater id among equal times.
	want := []store.Cursor{
		{CreatedAt: t0.Add(time.Second), ID: "a"},
		{CreatedAt: t0, ID: "b"},
		{CreatedAt: t0.In(time.FixedZone("x", 3600)), ID: "B"}, // the same instant in another zone
		{CreatedAt: t0, ID: "A"},
		{CreatedAt: t0.Add(-time.Nanosecond), ID: "z"},
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, store.Cursor.Compare)
	is.Equal(got, want)
	is.Equal(want[1].Compare(want[1]), 0)
	is.True(store.CursorOf(store.Session{ID: "b", CreatedAt: t0}).Compare(want[1]) == 0)
}

func TestPageQueryCheck(t *testing.T) {
	is := is.New(t)
	now := time.Now()
	for _, q := range []store.PageQuery{
		{Limit: 1, Now: now},
		{Limit: store.MaxPageLimit, All: true},
		{Limit: 10, All: true, Now: now},
	} {
		is.NoErr(q.Check())
	}
	for _, q := range []store.PageQuery{
		{Limit: 0, Now: now},
		{Limit: -1, All: true},
		{Limit: store.MaxPageLimit + 1, All: true},
		{Limit: 10}, // active at no time
	} {
		is.True(errors.Is(q.Check(), store.ErrBadPageQuery))
	}
}

// FuzzCursorText checks that UnmarshalText accepts only the text
// MarshalText makes: whatever it accepts marshals back to the same text.
func FuzzCursorText(f *testing.F) {
	for _, c := range []store.Cursor{
		{CreatedAt: time.Date(2031, 3, 14, 15, 9, 26, 535_897_932, time.UTC), ID: "5c2c7f1e-8f5e-4a57-9d43-0e1f2a3b4c5d"},
		{CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ID: "x"},
	} {
		text, err := c.MarshalText()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(text))
	}
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, text string) {
		var c store.Cursor
		if err := c.UnmarshalText([]byte(text)); err != nil {
			if !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		again, err := c.MarshalText()
		if err != nil {
			t.Fatalf("accepted %q as %+v, which does not marshal: %v", text, c, err)
		}
		if string(again) != text {
			t.Fatalf("accepted %q as %+v, which marshals to %q", text, c, again)
		}
	})
}
