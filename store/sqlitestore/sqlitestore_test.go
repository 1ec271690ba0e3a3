package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/matryer/is"

	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
	"github.com/revokehq/revoke/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.SessionStore {
		// Default options: the cleanup goroutine runs (and must stop on
		// Close) but does not fire during the suite.
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sessions.db")
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

	s, err := sqlitestore.Open(path)
	is.NoErr(err)
	kept := storetest.NewSession("alice", now)
	revoked := storetest.NewSession("alice", now.Add(time.Second))
	is.NoErr(s.Create(ctx, kept))
	is.NoErr(s.Create(ctx, revoked))
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: revoked.ID}, now.Add(time.Minute), "gone")
	is.NoErr(err)
	is.NoErr(s.Close())

	// Opening an existing file runs no migration twice; do it more than once.
	for range 2 {
		s, err = sqlitestore.Open(path)
		is.NoErr(err) // reopening an existing database
		list, err := s.List(ctx, "alice")
		is.NoErr(err)
		is.Equal(len(list), 2) // both sessions survived
		is.Equal(list[0].ID, revoked.ID)
		is.True(list[0].RevokedAt.Equal(now.Add(time.Minute))) // with the revocation
		is.Equal(list[0].RevokeReason, "gone")
		got, err := s.GetByTokenHash(ctx, kept.TokenHash)
		is.NoErr(err)
		is.Equal(got.ID, kept.ID)
		is.NoErr(s.Close())
	}

	db := rawDB(t, path)
	var version int
	is.NoErr(db.QueryRow("PRAGMA user_version").Scan(&version))
	is.Equal(version, 9) // the latest schema version is recorded
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := sqlitestore.Open(path)
	is.NoErr(err)
	is.NoErr(s.Close())

	db := rawDB(t, path)
	_, err = db.Exec("PRAGMA user_version = 99")
	is.NoErr(err)
	is.NoErr(db.Close())

	_, err = sqlitestore.Open(path)
	is.True(err != nil) // a schema from a newer version is not touched
}

func TestOpenSetsWAL(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := sqlitestore.Open(path)
	is.NoErr(err)
	defer s.Close()

	var mode string
	is.NoErr(rawDB(t, path).QueryRow("PRAGMA journal_mode").Scan(&mode))
	is.Equal(mode, "wal") // the mode is persistent, so a new connection sees it
}

func TestOpenOddPath(t *testing.T) {
	is := is.New(t)
	// Characters that mean something in a URI must stay part of the name.
	path := filepath.Join(t.TempDir(), "odd ?name#%20.db")
	s, err := sqlitestore.Open(path)
	is.NoErr(err)
	is.NoErr(s.Create(t.Context(), storetest.NewSession("alice", time.Now())))
	is.NoErr(s.Close())
	_, err = os.Stat(path)
	is.NoErr(err) // the file has exactly the name given
}

func TestOpenRejectsNonFile(t *testing.T) {
	is := is.New(t)
	for _, path := range []string{"", ":memory:", "file::memory:"} {
		_, err := sqlitestore.Open(path)
		is.True(err != nil) // readers and writer need one shared file
	}
}

// TestOpenRefusesBadOptions: an option with a value the store cannot take,
// or a nil option, makes Open fail before it creates the file.
func TestOpenRefusesBadOptions(t *testing.T) {
	for name, opt := range map[string]sqlitestore.Option{
		"no readers":         sqlitestore.WithReaders(0),
		"negative readers":   sqlitestore.WithReaders(-1),
		"negative busy":      sqlitestore.WithBusyTimeout(-time.Second),
		"negative timeout":   sqlitestore.WithCallTimeout(-time.Second),
		"negative interval":  sqlitestore.WithCleanupInterval(-time.Minute),
		"negative retention": sqlitestore.WithRetention(-time.Hour),
		"nil logger":         sqlitestore.WithLogger(nil),
		"nil option":         nil,
	} {
		path := filepath.Join(t.TempDir(), "sessions.db")
		s, err := sqlitestore.Open(path, sqlitestore.WithCleanupInterval(0), opt)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: refused, but the file was created (%v)", name, err)
		}
	}
}

func TestCreateRejectsUnstorableTime(t *testing.T) {
	is := is.New(t)
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	is.NoErr(err)
	defer s.Close()

	sess := storetest.NewSession("alice", time.Now())
	sess.ExpiresAt = time.Time{}
	err = s.Create(t.Context(), sess)
	is.True(err != nil)                          // a zero expiry cannot be stored
	is.True(!errors.Is(err, store.ErrDuplicate)) // and is not mistaken for a duplicate

	sess = storetest.NewSession("alice", time.Now())
	sess.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	is.True(s.Create(t.Context(), sess) != nil) // beyond 2262
}

func TestDuplicateErrorIsBare(t *testing.T) {
	is := is.New(t)
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	is.NoErr(err)
	defer s.Close()

	sess := storetest.NewSession("alice", time.Now())
	is.NoErr(s.Create(t.Context(), sess))
	err = s.Create(t.Context(), sess)
	is.Equal(err, store.ErrDuplicate) // no driver text leaks into the sentinel
	err = s.ReplaceToken(t.Context(), storetest.NewSession("bob", time.Now()).ID, sess.TokenHash, time.Now())
	is.Equal(err, store.ErrNotFound)
}

func TestBackgroundCleanup(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"),
		sqlitestore.WithCleanupInterval(5*time.Millisecond),
		sqlitestore.WithRetention(time.Hour),
	)
	is.NoErr(err)
	defer s.Close()

	now := time.Now()
	old := storetest.NewSession("alice", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	active := storetest.NewSession("alice", now)
	recentlyRevoked := storetest.NewSession("alice", now)
	for _, sess := range []store.Session{old, active, recentlyRevoked} {
		is.NoErr(s.Create(ctx, sess))
	}
	_, err = s.Revoke(ctx, store.Selection{UserID: "alice", SessionID: recentlyRevoked.ID}, now, "audit me")
	is.NoErr(err)

	// Poll: the goroutine runs on its own schedule.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(ctx, old.ID)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		is.NoErr(err)
		if time.Now().After(deadline) {
			t.Fatal("the background cleanup did not delete an expired session in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, err = s.Get(ctx, active.ID)
	is.NoErr(err) // an active session is kept
	got, err := s.Get(ctx, recentlyRevoked.ID)
	is.NoErr(err) // a revocation within the retention period is kept for audit
	is.Equal(got.RevokeReason, "audit me")
}

// TestSCS runs scs sessions through scsstore on a SQLite store: revoking the
// user's sessions in the store ends the scs session, and a request that
// loaded it before the revocation cannot bring it back by committing.
func TestSCS(t *testing.T) {
	is := is.New(t)
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	is.NoErr(err)
	defer st.Close()
	sm := scs.New()
	sm.Store, err = scsstore.New(st, scsstore.WithUserKey("userID"))
	is.NoErr(err)

	// Login: a new scs session for alice.
	ctx, err := sm.Load(context.Background(), "")
	is.NoErr(err)
	sm.Put(ctx, "userID", "alice")
	token, _, err := sm.Commit(ctx)
	is.NoErr(err)
	is.True(token != "")

	// A later request sees her session and changes it.
	ctx, err = sm.Load(context.Background(), token)
	is.NoErr(err)
	is.Equal(sm.GetString(ctx, "userID"), "alice") // the session was found
	sm.Put(ctx, "cart", "3 items")
	_, _, err = sm.Commit(ctx)
	is.NoErr(err)
	stale := ctx // a request still in flight when the revocation comes

	list, err := st.List(t.Context(), "alice")
	is.NoErr(err)
	is.Equal(len(list), 1) // one session, indexed under its user
	is.True(len(list[0].Data) > 0)

	ids, err := st.Revoke(t.Context(), store.Selection{UserID: "alice"}, time.Now(), "x")
	is.NoErr(err)
	is.Equal(ids, []string{list[0].ID})

	ctx, err = sm.Load(context.Background(), token)
	is.NoErr(err)
	is.Equal(sm.Token(ctx), "")               // a fresh session, under no token yet
	is.Equal(len(sm.Keys(ctx)), 0)            // and empty
	is.Equal(sm.GetString(ctx, "userID"), "") // alice is signed out

	sm.Put(stale, "cart", "4 items")
	_, _, err = sm.Commit(stale)
	is.NoErr(err) // the stale commit is dropped quietly
	ctx, err = sm.Load(context.Background(), token)
	is.NoErr(err)
	is.Equal(len(sm.Keys(ctx)), 0) // and did not revive the session
	got, err := st.Get(t.Context(), list[0].ID)
	is.NoErr(err)
	is.Equal(got.RevokeReason, "x")                  // still revoked as it was
	is.Equal(string(got.Data), string(list[0].Data)) // with the data it had
}

// TestSCSAnonymousThenLogin runs the usual scs login on a SQLite store: a
// visitor's session holds a cart before login, and the login renews the
// token (which revokes the anonymous session by id) and binds the user.
// Logging out of a session bound to no one works too.
func TestSCSAnonymousThenLogin(t *testing.T) {
	is := is.New(t)
	bg := context.Background()
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	is.NoErr(err)
	defer st.Close()
	sm := scs.New()
	sm.Store, err = scsstore.New(st, scsstore.WithUserKey("userID"))
	is.NoErr(err)

	ctx, err := sm.Load(bg, "")
	is.NoErr(err)
	sm.Put(ctx, "cart", "3 items")
	anon, _, err := sm.Commit(ctx)
	is.NoErr(err)

	// Login.
	ctx, err = sm.Load(bg, anon)
	is.NoErr(err)
	is.Equal(sm.GetString(ctx, "cart"), "3 items")
	is.NoErr(sm.RenewToken(ctx)) // revokes the anonymous session
	sm.Put(ctx, "userID", "alice")
	token, _, err := sm.Commit(ctx)
	is.NoErr(err)
	is.True(token != anon)

	ctx, err = sm.Load(bg, token)
	is.NoErr(err)
	is.Equal(sm.GetString(ctx, "userID"), "alice")
	is.Equal(sm.GetString(ctx, "cart"), "3 items") // the cart came along
	ctx, err = sm.Load(bg, anon)
	is.NoErr(err)
	is.Equal(len(sm.Keys(ctx)), 0) // the old token no longer loads
	old, err := st.GetByTokenHash(bg, sha256Of(anon))
	is.NoErr(err)
	is.Equal(old.RevokeReason, scsstore.ReasonDestroyed) // revoked, kept for the audit trail
	list, err := st.List(bg, "alice")
	is.NoErr(err)
	is.Equal(len(list), 1)
	is.True(!list[0].Revoked())

	// Logout of a session bound to no one.
	ctx, err = sm.Load(bg, "")
	is.NoErr(err)
	sm.Put(ctx, "cart", "1 item")
	visitor, _, err := sm.Commit(ctx)
	is.NoErr(err)
	ctx, err = sm.Load(bg, visitor)
	is.NoErr(err)
	is.NoErr(sm.Destroy(ctx))
	ctx, err = sm.Load(bg, visitor)
	is.NoErr(err)
	is.Equal(len(sm.Keys(ctx)), 0)
}

func sha256Of(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// rawDB opens the store's file directly, to look at it from outside.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
