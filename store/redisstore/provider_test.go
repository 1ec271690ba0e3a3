package redisstore

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// TestProviderKeysExpire checks that what the provider extensions
// remember expires in Redis at its time: an ended provider session and a
// used token id at their until, a provider session's links with the last
// of them, and that a new link drops the expired ones before then.
func TestProviderKeysExpire(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := open(t)
	d := providerDatabase{s}
	now := time.Now().Truncate(time.Millisecond)
	const iss = "https://idp.example"

	until := now.Add(time.Hour)
	_, err := s.EndProviderSession(ctx, iss, "sid-ended", now, until)
	is.NoErr(err)
	is.True(expireTime(t, s, d.key("pe", iss, "sid-ended")).Equal(until))
	is.NoErr(s.UseTokenID(ctx, iss, "jti-1", now, until))
	is.True(expireTime(t, s, d.key("pj", iss, "jti-1")).Equal(until))

	link := func(id string, expires time.Time, at time.Time) {
		t.Helper()
		is.NoErr(s.LinkProviderSession(ctx, store.ProviderLink{
			Issuer: iss, Subject: "sub", SID: "sid", SessionID: id, UserID: "u", ExpiresAt: expires,
		}, at))
	}
	links := d.key("pl", iss, "sid")
	link("short", now.Add(time.Minute), now)
	link("long", now.Add(2*time.Hour), now)
	is.True(expireTime(t, s, links).Equal(now.Add(2 * time.Hour))) // the last link's
	link("later", now.Add(90*time.Minute), now.Add(time.Minute))   // "short" has expired at its now
	fields, err := s.rdb.HKeys(ctx, links).Result()
	is.NoErr(err)
	is.Equal(len(fields), 2)
	is.True(expireTime(t, s, links).Equal(now.Add(2 * time.Hour))) // never moved back
}

// TestPairKeysAreUnambiguous: two different pairs never name one key.
func TestPairKeysAreUnambiguous(t *testing.T) {
	is := is.New(t)
	is.True(pair("ab", "c") != pair("a", "bc"))
	is.True(pair("1:a", "") != pair("", "1:a"))
}
