// Package storetest is the conformance suite that every store.SessionStore
// backend runs, so that all backends keep one contract.
//
// A backend calls Run from an ordinary test, passing a function that opens a
// fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.SessionStore {
//			s, err := mystore.Open(filepath.Join(t.TempDir(), "sessions.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// Run calls open once per subtest, with that subtest's t, and closes the store
// when the subtest ends. Subtests run one after another, so a backend on a
// shared server may reuse one database as long as open empties it. Run the
// suite with the race detector on: several subtests use the store from many
// goroutines at once.
//
// The suite passes every time explicitly and never sleeps, because a store
// must not read its own clock for session semantics. Its times are whole
// microseconds, the finest precision a backend has to keep, and are compared
// with time.Time.Equal, so a backend may return them in any location.
//
// Where the doc comments of package store leave room, the suite pins the
// behaviour every backend must share:
//
//   - Revoke with Selection.SessionID set returns ErrNotFound when that
//     session is unknown or belongs to another user (ErrNotFound covers calls
//     that name a user); for one of the user's own sessions that is already
//     revoked or expired it returns no ids and no error.
//   - Revoke with an empty Selection.UserID and a SessionID revokes that
//     session only when it is bound to no user (UserID ""), and otherwise
//     returns ErrNotFound; with neither it returns ErrNoUser and revokes
//     nothing.
//   - Create stores every field as given, RevokedAt and RevokeReason included;
//     a zero AuthenticatedAt reads back as CreatedAt.
//   - Revoke with Selection.NotBefore moves the user's not-before time
//     forward (never back) atomically with the revocation: no Create racing
//     it leaves an active session authenticated before it. A session
//     authenticated exactly at the not-before time is allowed; sessions of
//     other users and of no user are not affected.
//   - Revoke with Selection.AuthenticatedBefore revokes only the sessions
//     authenticated before it (a zero AuthenticatedAt counts as CreatedAt),
//     keeps those at or after it, and with a NotBefore of the same time no
//     Create racing it leaves an active session authenticated before it.
//   - After Close every method returns an error matching store.ErrClosed, and
//     a second Close returns nil or store.ErrClosed but never panics.
//   - A store that implements store.Cleaner treats a session as expired before
//     t exactly as Session.Expired(t) does, and keeps a revoked session until
//     both its RevokedAt is before t and its ExpiresAt is at or before t,
//     whatever its IdleExpiresAt.
//   - Session.Data round-trips byte for byte; nil and empty are the same (no
//     data), so a store may return either for a session without data. A
//     store keeps no reference to a Data slice passed in (to Create or
//     Update) and hands out none of its own.
//   - ListPage: a page whose Next is not zero holds Limit sessions, and the
//     last page has a zero Next, also when it is full; After may be any
//     position, not only a listed session's; paging on after sessions were
//     created or revoked neither repeats nor skips one that still matches;
//     Update moves a session to its new user's pages, and DeleteBefore
//     takes it out of every page.
//
// store.DataStore is optional: only the scs adapter (scsstore) needs it. When
// the store under test implements it, Run also checks Update and ListActive;
// otherwise those subtests are skipped. For a DataStore the suite pins:
//
//   - Update changes only UserID, Data, ExpiresAt, IdleExpiresAt (capped at
//     ExpiresAt) and LastSeenAt (set to now); the session moves to the new
//     user's List and Revoke, and leaves the old user's.
//   - Update on a revoked or expired session returns ErrInactive and changes
//     nothing, whatever times it carries; an unknown id gives ErrNotFound.
//   - ListActive returns the sessions active at the given now, in any order.
//   - Update binding a session to a user checks the result's AuthenticatedAt
//     against that user's not-before time, atomically with Revoke, as
//     Create does; a zero Update.AuthenticatedAt keeps the session's.
//   - After Close, Update and ListActive return store.ErrClosed too.
package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// Run runs the conformance suite against the backend that open creates. open
// must return a new, empty store each time it is called; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.SessionStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.SessionStore)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateCopiesData", testCreateCopiesData},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"CreateDuplicateTokenHash", testCreateDuplicateTokenHash},
		{"NotFound", testNotFound},
		{"List", testList},
		{"Touch", testTouch},
		{"TouchInactive", testTouchInactive},
		{"ReplaceToken", testReplaceToken},
		{"ReplaceTokenInactive", testReplaceTokenInactive},
		{"Expiry", testExpiry},
		{"RevokeOne", testRevokeOne},
		{"RevokeAll", testRevokeAll},
		{"RevokeAllExcept", testRevokeAllExcept},
		{"RevokeNeedsUser", testRevokeNeedsUser},
		{"RevokeAnonymous", testRevokeAnonymous},
		{"Cleaner", testCleaner},
		{"Close", testClose},
		{"ConcurrentUse", testConcurrentUse},
		{"RevokedNeverComesBack", testRevokedNeverComesBack},
		{"Update", testUpdate},
		{"UpdateInactive", testUpdateInactive},
		{"UpdateNotFound", testUpdateNotFound},
		{"ListActive", testListActive},
		{"UpdateRacingRevoke", testUpdateRacingRevoke},
		{"NotBeforeRefusesCreate", testNotBeforeRefusesCreate},
		{"NotBeforeNeverMovesBack", testNotBeforeNeverMovesBack},
		{"NotBeforeSelection", testNotBeforeSelection},
		{"NotBeforeRefusesUpdate", testNotBeforeRefusesUpdate},
		{"NotBeforeRacingCreate", testNotBeforeRacingCreate},
		{"NotBeforeRacingUpdate", testNotBeforeRacingUpdate},
		{"AuthenticatedBefore", testAuthenticatedBefore},
		{"AuthenticatedBeforeRacingCreate", testAuthenticatedBeforeRacingCreate},
		{"RecordDevice", testRecordDevice},
	}
	tests = append(tests, pageTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, openStore(t, open))
		})
	}
	runProviderTests(t, open)
	runLimitTests(t, open)
	runSignInTests(t, open)
	runInvalidatorTests(t, open)
}

// NewSession returns an active session for userID created at now, with a
// random id (store.NewID) and token hash, authenticated a second before now.
// It expires absolutely a day after now and when idle an hour after now. Times are truncated to whole
// microseconds, which every backend keeps exactly.
func NewSession(userID string, now time.Time) store.Session {
	now = now.Truncate(time.Microsecond)
	return store.Session{
		ID:              store.NewID(),
		UserID:          userID,
		TokenHash:       NewTokenHash(),
		CreatedAt:       now,
		AuthenticatedAt: now.Add(-time.Second),
		LastSeenAt:      now,
		ExpiresAt:       now.Add(24 * time.Hour),
		IdleExpiresAt:   now.Add(time.Hour),
		IP:              "192.0.2.1",
		UserAgent:       "storetest/1.0",
	}
}

// NewTokenHash returns the SHA-256 digest of a fresh random token.
func NewTokenHash() [sha256.Size]byte {
	return sha256.Sum256([]byte(rand.Text()))
}

// base is the suite's "now". It lies in a zone other than UTC and in the
// future, so that neither the location nor the machine's clock matters.
var base = time.Date(2031, 3, 14, 15, 9, 26, 535_897_000, time.FixedZone("UTC+5:30", 5*3600+1800))

func openStore(t *testing.T, open func(*testing.T) store.SessionStore) store.SessionStore {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("storetest: open returned a nil store")
	}
	// Registered after open's own cleanups, so it runs before them (a
	// temporary directory is removed only after the store is closed).
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// create stores a new session for userID made by NewSession and changed by
// the edit functions, and returns it as stored.
func create(t *testing.T, s store.SessionStore, userID string, now time.Time, edit ...func(*store.Session)) store.Session {
	t.Helper()
	sess := NewSession(userID, now)
	for _, e := range edit {
		e(&sess)
	}
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatalf("Create(%s): %v", sess.ID, err)
	}
	return sess
}

func get(t *testing.T, s store.SessionStore, id string) store.Session {
	t.Helper()
	sess, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return sess
}

// diff describes how got differs from want, field by field; it is empty when
// they are the same session. Times are compared with Equal.
func diff(got, want store.Session) string {
	var b strings.Builder
	str := func(name, g, w string) {
		if g != w {
			fmt.Fprintf(&b, "%s: got %q, want %q; ", name, g, w)
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			fmt.Fprintf(&b, "%s: got %v, want %v; ", name, g, w)
		}
	}
	str("ID", got.ID, want.ID)
	str("UserID", got.UserID, want.UserID)
	if got.TokenHash != want.TokenHash {
		fmt.Fprintf(&b, "TokenHash: got %x, want %x; ", got.TokenHash, want.TokenHash)
	}
	tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	tm("AuthenticatedAt", got.AuthenticatedAt, want.Authenticated())
	tm("LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	tm("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	tm("IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)
	tm("RevokedAt", got.RevokedAt, want.RevokedAt)
	str("RevokeReason", got.RevokeReason, want.RevokeReason)
	str("IP", got.IP, want.IP)
	str("UserAgent", got.UserAgent, want.UserAgent)
	if !slices.EqualFunc(got.AuthMethods, want.AuthMethods, func(g, w store.AuthMethod) bool {
		return g.Method == w.Method && g.AAL == w.AAL && g.CompletedAt.Equal(w.CompletedAt)
	}) {
		fmt.Fprintf(&b, "AuthMethods: got %v, want %v; ", got.AuthMethods, want.AuthMethods)
	}
	if !maps.Equal(got.Labels, want.Labels) {
		fmt.Fprintf(&b, "Labels: got %v, want %v; ", got.Labels, want.Labels)
	}
	// bytes.Equal: a store may hand back nil or an empty slice for no data.
	if !bytes.Equal(got.Data, want.Data) {
		fmt.Fprintf(&b, "Data: got %q, want %q; ", got.Data, want.Data)
	}
	return b.String()
}

// sorted returns a sorted, non-nil copy of ids, so that a nil and an empty
// result compare equal.
func sorted(ids []string) []string {
	out := append([]string{}, ids...)
	slices.Sort(out)
	return out
}
