package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrBadPageQuery is wrapped in the error a store returns for a PageQuery
// that fails PageQuery.Check.
var ErrBadPageQuery = errors.New("store: bad page query")

// ErrBadCursor is wrapped in the error Cursor.UnmarshalText returns for text
// that no Cursor marshals to.
var ErrBadCursor = errors.New("store: malformed cursor")

// MaxPageLimit is the largest PageQuery.Limit a store accepts.
const MaxPageLimit = math.MaxInt32

// PageQuery selects one page of a user's sessions for ListPage.
type PageQuery struct {
	// Limit is the most sessions the page holds: 1 to MaxPageLimit.
	Limit int
	// After starts the page after this position: the Next of the page
	// before. The zero Cursor starts at the newest session.
	After Cursor
	// All lists every session the store holds for the user, revoked and
	// expired ones too: the audit trail. Without it only the sessions
	// active at Now are listed.
	All bool
	// Now is the time the listed sessions are active at. It must be set
	// unless All is.
	Now time.Time
}

// Check returns an error wrapping ErrBadPageQuery for a query that no
// backend serves: a Limit out of range, or no Now without All.
func (q PageQuery) Check() error {
	switch {
	case q.Limit < 1 || q.Limit > MaxPageLimit:
		return fmt.Errorf("%w: limit %d is not between 1 and %d", ErrBadPageQuery, q.Limit, MaxPageLimit)
	case !q.All && q.Now.IsZero():
		return fmt.Errorf("%w: active sessions need a time to be active at", ErrBadPageQuery)
	}
	return nil
}

// Page is one page of a user's sessions, newest first.
type Page struct {
	Sessions []Session
	// Next is where the next page starts: the position of the last
	// session of this page when more sessions matched the query. It is
	// zero on the last page.
	Next Cursor
}

// Cursor is a position in the order in which ListPage lists a user's
// sessions: by CreatedAt, later first, and among sessions created at the
// same time by ID, compared byte by byte, greater first. A session's
// position never changes, so paging with cursors neither repeats nor skips
// a session when others are created or revoked between pages. The zero
// Cursor is the position before the newest session.
//
// A Cursor marshals to opaque text (unpadded base64url) that an HTTP API
// can hand to its clients; UnmarshalText refuses text it did not make.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// CursorOf returns the position of s.
func CursorOf(s Session) Cursor { return Cursor{CreatedAt: s.CreatedAt, ID: s.ID} }

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.ID == "" && c.CreatedAt.IsZero() }

// Compare returns -1 when c comes before d in the listing order, +1 when
// after, and 0 when they are the same position.
func (c Cursor) Compare(d Cursor) int {
	if n := d.CreatedAt.Compare(c.CreatedAt); n != 0 {
		return n
	}
	return strings.Compare(d.ID, c.ID)
}

// maxCursorID bounds the id a cursor carries, so that a cursor from a
// client costs the store no more than an id from a URL.
const maxCursorID = 256

// cursorHeader is the Unix seconds and nanoseconds of CreatedAt, in big
// endian, before the id.
const cursorHeader = 8 + 4

// The times a cursor carries: the years 1 to 9999, which every backend's
// times lie within, so that no seconds count overflows a time.Time.
var (
	cursorEarliest = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	cursorLatest   = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - 1
)

// MarshalText implements encoding.TextMarshaler.
func (c Cursor) MarshalText() ([]byte, error) {
	if c.IsZero() {
		return []byte{}, nil
	}
	if err := checkCursorID(c.ID); err != nil {
		return nil, err
	}
	if sec := c.CreatedAt.Unix(); sec < cursorEarliest || sec > cursorLatest {
		return nil, fmt.Errorf("%w: the time is outside the years 1 to 9999", ErrBadCursor)
	}
	raw := make([]byte, cursorHeader, cursorHeader+len(c.ID))
	binary.BigEndian.PutUint64(raw, uint64(c.CreatedAt.Unix()))
	binary.BigEndian.PutUint32(raw[8:], uint32(c.CreatedAt.Nanosecond()))
	raw = append(raw, c.ID...)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(out, raw)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler. Empty text is the zero
// Cursor; text that MarshalText cannot have made gives an error wrapping
// ErrBadCursor, and leaves c as it was.
func (c *Cursor) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*c = Cursor{}
		return nil
	}
	if len(text) > base64.RawURLEncoding.EncodedLen(cursorHeader+maxCursorID) {
		return fmt.Errorf("%w: too long", ErrBadCursor)
	}
	// The decoder skips CR and LF, even when strict: refuse them, and
	// anything else outside the alphabet, first.
	for _, b := range text {
		if !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return fmt.Errorf("%w: not base64url", ErrBadCursor)
		}
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(text)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, text)
	if err != nil {
		return fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	raw = raw[:n]
	if len(raw) <= cursorHeader {
		return fmt.Errorf("%w: too short", ErrBadCursor)
	}
	sec := int64(binary.BigEndian.Uint64(raw))
	nsec := binary.BigEndian.Uint32(raw[8:])
	id := string(raw[cursorHeader:])
	if nsec >= 1e9 || sec < cursorEarliest || sec > cursorLatest {
		return fmt.Errorf("%w: bad time", ErrBadCursor)
	}
	if err := checkCursorID(id); err != nil {
		return err
	}
	*c = Cursor{CreatedAt: time.Unix(sec, int64(nsec)).UTC(), ID: id}
	return nil
}

// checkCursorID refuses ids a cursor does not carry: empty or long ones,
// and ones that are not text (a NUL or invalid UTF-8, which a text column
// refuses).
func checkCursorID(id string) error {
	switch {
	case id == "" || len(id) > maxCursorID:
		return fmt.Errorf("%w: the id is empty or longer than %d bytes", ErrBadCursor, maxCursorID)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fmt.Errorf("%w: the id is not text", ErrBadCursor)
	}
	return nil
}
