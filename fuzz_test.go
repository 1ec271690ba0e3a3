package revoke_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

// The fuzz targets work on sessions with fixed tokens and on cookies sealed
// at a fixed time, so that a seed means the same in every fuzzing process
// (each worker builds its own store).
const (
	fzAlice     = "fuzzAliceToken_0123456789-abcdefGH" // active
	fzBob       = "fuzzBobToken_0123456789-abcdefGHIJ" // active
	fzShort     = "fuzzShortToken_123456a"             // active, the shortest length accepted
	fzRevoked   = "fuzzRevokedToken_0123456789-abcdef"
	fzExpired   = "fuzzExpiredToken_0123456789-abcdef"
	fzAnonymous = "fuzzAnonymousToken_0123456789-abcd" // a session without a user, as scs keeps
	fzSealedAt  = 1767225600                           // 2026-01-01, when the fixed cookies were sealed
)

var (
	fzLong = "fuzzLongToken_" + strings.Repeat("L", 256-len("fuzzLongToken_")) // active, the longest length accepted

	fzCurHash, fzCurBlock         = bytes.Repeat([]byte("c"), 32), bytes.Repeat([]byte("C"), 16)
	fzPrevHash, fzPrevBlock       = bytes.Repeat([]byte("p"), 32), bytes.Repeat([]byte("P"), 16)
	fzRetiredHash, fzRetiredBlock = bytes.Repeat([]byte("r"), 32), bytes.Repeat([]byte("R"), 16)
)

// fzWorld is a Manager over a memstore holding the fixed sessions, with a
// cookie key rotation in progress (current and previous keys accepted).
type fzWorld struct {
	m *revoke.Manager
	// active maps each token that must resolve to its session's id.
	active map[string]string
	// dead maps the tokens of stored sessions that must not resolve to the
	// error that says why.
	dead map[string]error
	// genuine maps each cookie value sealed with an accepted key to the
	// token inside it.
	genuine map[string]string
}

func newFzWorld(t testing.TB, opts ...revoke.Option) *fzWorld {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	lifetime := 100 * 365 * 24 * time.Hour // the fixed cookies stay within it
	m, err := revoke.New(st, append([]revoke.Option{
		revoke.WithCookieKeys(fzCurHash, fzCurBlock, fzPrevHash, fzPrevBlock),
		revoke.WithLifetime(lifetime),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	w := &fzWorld{m: m, active: map[string]string{}, dead: map[string]error{}, genuine: map[string]string{}}
	now := time.Now()
	put := func(token, user string, mod func(*store.Session)) {
		s := store.Session{
			ID: "id-" + token[:12], UserID: user, TokenHash: revoke.HashToken(token),
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(lifetime), IdleExpiresAt: now.Add(revoke.DefaultIdleTimeout),
		}
		if mod != nil {
			mod(&s)
		}
		if err := st.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range []string{fzAlice, fzBob, fzShort, fzLong} {
		put(tok, "user-"+tok[:8], nil)
		w.active[tok] = "id-" + tok[:12]
	}
	put(fzRevoked, "carol", func(s *store.Session) { s.RevokedAt, s.RevokeReason = now, "test" })
	w.dead[fzRevoked] = revoke.ErrRevoked
	put(fzExpired, "carol", func(s *store.Session) { s.ExpiresAt, s.IdleExpiresAt = now.Add(-time.Hour), now.Add(-time.Hour) })
	w.dead[fzExpired] = revoke.ErrExpired
	put(fzAnonymous, "", nil)
	w.dead[fzAnonymous] = revoke.ErrUnknownToken

	// A session issued the usual way, with a random token: it resolves in
	// this process only.
	s, tok, err := m.Create(context.Background(), "dave", revoke.Device{})
	if err != nil {
		t.Fatal(err)
	}
	w.active[tok] = s.ID

	name := m.CookieName()
	w.genuine[fzSeal(name, fzAlice, fzCurHash, fzCurBlock)] = fzAlice
	w.genuine[fzSeal(name, fzBob, fzPrevHash, fzPrevBlock)] = fzBob
	w.genuine[fzSeal(name, fzRevoked, fzCurHash, fzCurBlock)] = fzRevoked
	w.genuine[fzSeal(name, fzAnonymous, fzCurHash, fzCurBlock)] = fzAnonymous
	return w
}

// fzSeal seals token into a cookie value as securecookie does (base64url of
// "timestamp|base64url(iv + AES-CTR(token))|HMAC-SHA256(name|timestamp|value)"),
// at fzSealedAt and with a fixed IV, so that the value is the same in every
// process. TestFuzzWorld checks that such values resolve like cookies the
// Manager sets.
func fzSeal(name, token string, hashKey, blockKey []byte) string {
	block, err := aes.NewCipher(blockKey)
	if err != nil {
		panic(err)
	}
	iv := bytes.Repeat([]byte{7}, block.BlockSize())
	b := []byte(token)
	cipher.NewCTR(block, iv).XORKeyStream(b, b)
	value := base64.URLEncoding.EncodeToString(append(iv, b...))
	mac := hmac.New(sha256.New, hashKey)
	fmt.Fprintf(mac, "%s|%d|%s", name, fzSealedAt, value)
	return base64.URLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%s|%s", fzSealedAt, value, mac.Sum(nil)))
}

// resolve runs r through the Middleware and returns what it resolved.
func (w *fzWorld) resolve(t *testing.T, r *http.Request) (revoke.Current, bool, error) {
	t.Helper()
	var (
		cur    revoke.Current
		ok     bool
		reason error
		called bool
	)
	rec := httptest.NewRecorder()
	w.m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		called = true
		cur, ok = revoke.FromContext(r.Context())
		reason = revoke.FailureReason(r.Context())
	})).ServeHTTP(rec, r)
	if !called || rec.Code != http.StatusOK {
		t.Fatalf("the middleware did not pass the request on: %d %s", rec.Code, rec.Body)
	}
	return cur, ok, reason
}

func isTokenError(err error) bool {
	for _, e := range []error{revoke.ErrMalformedToken, revoke.ErrUnknownToken, revoke.ErrRevoked, revoke.ErrExpired, revoke.ErrNoSession} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestFuzzWorld checks the fuzz targets' fixtures: the fixed cookies are
// what the Manager itself would set, and the sessions resolve as intended.
func TestFuzzWorld(t *testing.T) {
	w := newFzWorld(t)
	for value, token := range w.genuine {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", w.m.CookieName()+"="+value)
		cur, ok, reason := w.resolve(t, r)
		if id, active := w.active[token]; ok != active || ok && cur.ID != id {
			t.Errorf("cookie of %s: resolved %v (%v), want %v", token, ok, reason, active)
		}
	}
	rec := httptest.NewRecorder()
	if err := w.m.SetCookie(rec, fzAlice, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(rec.Result().Cookies()[0])
	if cur, ok, _ := w.resolve(t, r); !ok || cur.ID != w.active[fzAlice] {
		t.Error("a cookie the Manager sets does not resolve")
	}
}

var tokenFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{22,256}$`)

func FuzzValidToken(f *testing.F) {
	for _, s := range []string{fzAlice, fzShort, fzLong, fzLong + "x", fzShort[:21], "", "AAAAAAAAAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAAAAAAAAA.AA", "AAAAAAAAAAAAAAAAAAAAAA\x00", "ÅAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("A", 100000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := revoke.ValidToken(s), tokenFormat.MatchString(s); got != want {
			t.Fatalf("ValidToken(%q) = %v, want %v", s, got, want)
		}
	})
}

func FuzzResolve(f *testing.F) {
	w := newFzWorld(f)
	for tok := range w.active {
		f.Add(tok)
	}
	for _, s := range []string{fzRevoked, fzExpired, fzAnonymous, "", fzAlice + "=", fzAlice[1:], strings.ToUpper(fzAlice),
		fzAlice[:len(fzAlice)-1] + "I", " " + fzAlice, fzAlice + "\x00", strings.Repeat("A", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		s, err := w.m.Resolve(context.Background(), token)
		if id, ok := w.active[token]; ok {
			if err != nil || s.ID != id {
				t.Fatalf("issued token %q: %v, session %q", token, err, s.ID)
			}
			return
		}
		if err == nil {
			t.Fatalf("token %q, never issued, resolves to session %s", token, s.ID)
		}
		want := revoke.ErrUnknownToken
		switch {
		case !revoke.ValidToken(token):
			want = revoke.ErrMalformedToken
		case w.dead[token] != nil:
			want = w.dead[token]
		}
		if !errors.Is(err, want) {
			t.Fatalf("token %q: %v, want %v", token, err, want)
		}
	})
}

// genuineIn returns the token of a genuine session cookie among the cookies
// of header, if any. A value counts as genuine when it decodes to the same
// bytes as a genuine one: a cookie may be quoted, and base64 decoding
// ignores the unused bits of the last character.
func (w *fzWorld) genuineIn(header string) []string {
	var tokens []string
	for part := range strings.SplitSeq(header, ";") {
		name, value, ok := strings.Cut(strings.Trim(part, " \t\r\n"), "=")
		if !ok || strings.Trim(name, " \t\r\n") != w.m.CookieName() {
			continue
		}
		if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		got, err := base64.URLEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		for g, tok := range w.genuine {
			if want, _ := base64.URLEncoding.DecodeString(g); bytes.Equal(got, want) {
				tokens = append(tokens, tok)
			}
		}
	}
	return tokens
}

func FuzzCookie(f *testing.F) {
	w := newFzWorld(f)
	name := w.m.CookieName()
	var alice string
	for value, tok := range w.genuine {
		f.Add(value)
		if tok == fzAlice {
			alice = value
		}
	}
	for _, s := range []string{
		"", "forged", `""`, `"` + alice + `"`, alice + "x", alice[:len(alice)-4], alice[1:],
		alice[:20] + "A" + alice[21:],
		"forged; " + name + "=" + alice,
		alice + "; " + name + "=forged",
		"x\x00; " + name + "=" + alice,
		fzAlice, // a bare token is not a signed cookie
		fzSeal(name, fzAlice, fzRetiredHash, fzRetiredBlock),
		fzSeal("other_cookie", fzAlice, fzCurHash, fzCurBlock),
		fzSeal(name, fzAlice, fzCurHash, fzPrevBlock), // right signature, wrong block key
		fzSeal(name, "not a token", fzCurHash, fzCurBlock),
		fzSeal(name, fzAlice+"\x00", fzCurHash, fzCurBlock),
		strings.Repeat("A", 5000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", name+"="+value)
		cur, ok, reason := w.resolve(t, r)
		if !ok {
			if !isTokenError(reason) {
				t.Fatalf("anonymous for a reason that is no token error: %v", reason)
			}
			if value == alice && !ok {
				t.Fatalf("alice's genuine cookie does not resolve: %v", reason)
			}
			return
		}
		if cur.Source != revoke.SourceCookie {
			t.Fatalf("resolved from %v", cur.Source)
		}
		for _, tok := range w.genuineIn(name + "=" + value) {
			if w.active[tok] == cur.ID {
				return
			}
		}
		t.Fatalf("cookie %q resolves to session %s, but carries no genuine cookie of it", value, cur.ID)
	})
}

func FuzzHeader(f *testing.F) {
	w := newFzWorld(f)
	for tok := range w.active {
		f.Add(tok)
	}
	for _, s := range []string{fzRevoked, fzExpired, fzAnonymous, "", " ", fzAlice + " ", "Bearer " + fzAlice,
		fzAlice + "," + fzBob, strings.Repeat("A", 257), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(revoke.HeaderName, value)
		// A genuine cookie too: the header, when present, must decide alone.
		for v, tok := range w.genuine {
			if tok == fzBob {
				r.Header.Set("Cookie", w.m.CookieName()+"="+v)
			}
		}
		cur, ok, reason := w.resolve(t, r)
		id, issued := w.active[value]
		switch {
		case issued && (!ok || cur.ID != id || cur.Source != revoke.SourceHeader):
			t.Fatalf("issued token %q: resolved %v (%v)", value, ok, reason)
		case !issued && ok:
			t.Fatalf("header %q, never issued, resolves to session %s from %v", value, cur.ID, cur.Source)
		case !ok && !isTokenError(reason):
			t.Fatalf("anonymous for a reason that is no token error: %v", reason)
		case !ok && !revoke.ValidToken(value) && !errors.Is(reason, revoke.ErrMalformedToken):
			t.Fatalf("malformed header %q: %v", value, reason)
		}
	})
}
