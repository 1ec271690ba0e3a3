package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// fakeDatabase answers as a database would whose writes change nothing
// unless told otherwise, and records what it was asked.
type fakeDatabase struct {
	closed   bool
	changed  bool   // what every write reports
	owner    string // what Probe finds; "" is an unknown session
	active   bool
	inserted bool
	revoked  []string
	page     []store.Session
	calls    []string
	update   store.Update // the last UpdateActive's
	deadline bool         // whether the last call's ctx had a deadline
}

func (f *fakeDatabase) called(ctx context.Context, name string) {
	f.calls = append(f.calls, name)
	_, f.deadline = ctx.Deadline()
}

func (f *fakeDatabase) Closed() bool { return f.closed }
func (f *fakeDatabase) Insert(ctx context.Context, s store.Session) (bool, error) {
	f.called(ctx, "Insert")
	return f.inserted, nil
}
func (f *fakeDatabase) LoadID(ctx context.Context, id string) (store.Session, error) {
	f.called(ctx, "LoadID")
	return store.Session{ID: id}, nil
}
func (f *fakeDatabase) LoadTokenHash(ctx context.Context, h [sha256.Size]byte) (store.Session, error) {
	f.called(ctx, "LoadTokenHash")
	return store.Session{TokenHash: h}, nil
}
func (f *fakeDatabase) LoadUser(ctx context.Context, userID string) ([]store.Session, error) {
	f.called(ctx, "LoadUser")
	return nil, nil
}
func (f *fakeDatabase) LoadPage(ctx context.Context, userID string, q store.PageQuery) ([]store.Session, error) {
	f.called(ctx, "LoadPage")
	return f.page, nil
}
func (f *fakeDatabase) LoadActive(ctx context.Context, now time.Time) ([]store.Session, error) {
	f.called(ctx, "LoadActive")
	return nil, nil
}
func (f *fakeDatabase) Probe(ctx context.Context, id string, now time.Time) (string, bool, error) {
	f.called(ctx, "Probe")
	if f.owner == "" {
		return "", false, store.ErrNotFound
	}
	return f.owner, f.active, nil
}
func (f *fakeDatabase) TouchActive(ctx context.Context, id string, now, idle time.Time) (bool, error) {
	f.called(ctx, "TouchActive")
	return f.changed, nil
}
func (f *fakeDatabase) ReplaceActiveToken(ctx context.Context, id string, h [sha256.Size]byte, now time.Time) (bool, error) {
	f.called(ctx, "ReplaceActiveToken")
	return f.changed, nil
}
func (f *fakeDatabase) UpdateActive(ctx context.Context, id string, u store.Update, now time.Time) (bool, error) {
	f.called(ctx, "UpdateActive")
	f.update = u
	return f.changed, nil
}
func (f *fakeDatabase) RevokeActive(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	f.called(ctx, "RevokeActive")
	return f.revoked, nil
}
func (f *fakeDatabase) DeleteOld(ctx context.Context, t time.Time) (int, error) {
	f.called(ctx, "DeleteOld")
	return 0, nil
}

var (
	now      = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newRules(db store.Database) *store.Rules {
	return store.NewRules(db, store.RulesConfig{
		Name: "fake", CallTimeout: time.Minute, Earliest: earliest, Latest: latest, Range: "the years 2000 to 2100",
	})
}

// TestRulesUnchangedWrite checks what Rules make of a write to one session
// that changed nothing, which the database cannot say in the same step: an
// unknown session, an inactive one, and one an Update's not-before check
// refused.
func TestRulesUnchangedWrite(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		owner         string
		active        bool
		touch, update error
		what          string
	}{
		{"", false, store.ErrNotFound, store.ErrNotFound, "unknown"},
		{"alice", false, store.ErrInactive, store.ErrInactive, "inactive"},
		{"alice", true, store.ErrInactive, store.ErrNotBefore, "active"},
	} {
		db := &fakeDatabase{owner: tc.owner, active: tc.active}
		r := newRules(db)
		if err := r.Touch(ctx, "s1", now, now.Add(time.Hour)); !errors.Is(err, tc.touch) {
			t.Errorf("%s: Touch: %v, want %v", tc.what, err, tc.touch)
		}
		if err := r.ReplaceToken(ctx, "s1", [32]byte{1}, now); !errors.Is(err, tc.touch) {
			t.Errorf("%s: ReplaceToken: %v, want %v", tc.what, err, tc.touch)
		}
		if err := r.Update(ctx, "s1", store.Update{ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Minute)}, now); !errors.Is(err, tc.update) {
			t.Errorf("%s: Update: %v, want %v", tc.what, err, tc.update)
		}
	}

	db := &fakeDatabase{changed: true}
	r := newRules(db)
	if err := r.Touch(ctx, "s1", now, now.Add(time.Hour)); err != nil {
		t.Errorf("Touch that changed the session: %v", err)
	}
	if len(db.calls) != 1 || !db.deadline {
		t.Errorf("Touch that changed the session called %v (with a deadline: %v), want TouchActive alone, with one", db.calls, db.deadline)
	}
}

// TestRulesUpdateCapsIdle checks that the database gets an Update whose
// idle expiry is capped at the absolute one.
func TestRulesUpdateCapsIdle(t *testing.T) {
	db := &fakeDatabase{changed: true}
	u := store.Update{ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(2 * time.Hour)}
	if err := newRules(db).Update(context.Background(), "s1", u, now); err != nil {
		t.Fatal(err)
	}
	if !db.update.IdleExpiresAt.Equal(u.ExpiresAt) {
		t.Errorf("IdleExpiresAt reached the database as %v, want it capped at %v", db.update.IdleExpiresAt, u.ExpiresAt)
	}
}

// TestRulesRevoke checks the decisions around the revocation statement:
// the ids come sorted, a session named and excepted at once is not asked
// for, and a named session that nothing revoked is told apart by its
// owner.
func TestRulesRevoke(t *testing.T) {
	ctx := context.Background()
	db := &fakeDatabase{revoked: []string{"c", "a", "b"}}
	ids, err := newRules(db).Revoke(ctx, store.Selection{UserID: "alice"}, now, "test")
	if err != nil || fmt.Sprint(ids) != "[a b c]" {
		t.Errorf("Revoke = %v, %v; want [a b c] sorted", ids, err)
	}

	db = &fakeDatabase{owner: "alice"}
	ids, err = newRules(db).Revoke(ctx, store.Selection{UserID: "alice", SessionID: "s1", ExceptID: "s1"}, now, "test")
	if err != nil || len(ids) != 0 || fmt.Sprint(db.calls) != "[Probe]" {
		t.Errorf("named and excepted: %v, %v after %v; want nothing revoked and only a Probe", ids, err, db.calls)
	}

	for _, tc := range []struct {
		owner string
		want  error
	}{{"alice", nil}, {"bob", store.ErrNotFound}, {"", store.ErrNotFound}} {
		db = &fakeDatabase{owner: tc.owner}
		_, err = newRules(db).Revoke(ctx, store.Selection{UserID: "alice", SessionID: "s1"}, now, "test")
		if !errors.Is(err, tc.want) {
			t.Errorf("a session of %q that nothing revoked: %v, want %v", tc.owner, err, tc.want)
		}
	}

	db = &fakeDatabase{}
	if _, err := newRules(db).Revoke(ctx, store.Selection{}, now, "test"); !errors.Is(err, store.ErrNoUser) || len(db.calls) != 0 {
		t.Errorf("no user: %v after %v; want ErrNoUser before any call", err, db.calls)
	}
}

// TestRulesCreate checks what Create decides before and after the insert.
func TestRulesCreate(t *testing.T) {
	ctx := context.Background()
	s := store.Session{ID: "s1", UserID: "alice", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}

	db := &fakeDatabase{inserted: true}
	if err := newRules(db).Create(ctx, s); err != nil {
		t.Errorf("Create: %v", err)
	}
	db = &fakeDatabase{}
	if err := newRules(db).Create(ctx, s); !errors.Is(err, store.ErrNotBefore) {
		t.Errorf("Create refused by the not-before time: %v, want ErrNotBefore", err)
	}
	far := s
	far.ExpiresAt = latest.Add(time.Hour)
	db = &fakeDatabase{inserted: true}
	if err := newRules(db).Create(ctx, far); err == nil || len(db.calls) != 0 {
		t.Errorf("Create of an unstorable time: %v after %v; want an error before any call", err, db.calls)
	}
}

// TestRulesListPage checks that the one session more than the page holds
// becomes the page's Next, and that a bad query reaches no database.
func TestRulesListPage(t *testing.T) {
	ctx := context.Background()
	a, b, c := store.Session{ID: "a", CreatedAt: now}, store.Session{ID: "b", CreatedAt: now}, store.Session{ID: "c", CreatedAt: now}
	db := &fakeDatabase{page: []store.Session{c, b, a}}
	p, err := newRules(db).ListPage(ctx, "alice", store.PageQuery{Limit: 2, All: true})
	if err != nil || len(p.Sessions) != 2 || p.Next != store.CursorOf(b) {
		t.Errorf("ListPage = %+v, %v; want c and b, and Next at b", p, err)
	}
	db = &fakeDatabase{page: []store.Session{c, b}}
	p, err = newRules(db).ListPage(ctx, "alice", store.PageQuery{Limit: 2, All: true})
	if err != nil || len(p.Sessions) != 2 || !p.Next.IsZero() {
		t.Errorf("last page = %+v, %v; want c and b, and no Next", p, err)
	}
	db = &fakeDatabase{}
	if _, err := newRules(db).ListPage(ctx, "alice", store.PageQuery{}); !errors.Is(err, store.ErrBadPageQuery) || len(db.calls) != 0 {
		t.Errorf("bad query: %v after %v; want ErrBadPageQuery before any call", err, db.calls)
	}
}

// TestRulesClosed checks that once the backend is closed no call reaches
// the database.
func TestRulesClosed(t *testing.T) {
	ctx := context.Background()
	db := &fakeDatabase{closed: true}
	r := newRules(db)
	errs := []error{
		r.Create(ctx, store.Session{CreatedAt: now, LastSeenAt: now, ExpiresAt: now, IdleExpiresAt: now}),
		r.Touch(ctx, "s1", now, now),
		r.ReplaceToken(ctx, "s1", [32]byte{}, now),
		r.Update(ctx, "s1", store.Update{}, now),
	}
	_, err := r.Get(ctx, "s1")
	errs = append(errs, err)
	_, err = r.GetByTokenHash(ctx, [32]byte{})
	errs = append(errs, err)
	_, err = r.List(ctx, "alice")
	errs = append(errs, err)
	_, err = r.ListPage(ctx, "alice", store.PageQuery{Limit: 1, All: true})
	errs = append(errs, err)
	_, err = r.ListActive(ctx, now)
	errs = append(errs, err)
	_, err = r.Revoke(ctx, store.Selection{UserID: "alice"}, now, "test")
	errs = append(errs, err)
	_, err = r.DeleteBefore(ctx, now)
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("call %d: %v, want ErrClosed", i, err)
		}
	}
	if len(db.calls) != 0 {
		t.Errorf("a closed backend's database was called: %v", db.calls)
	}
}

// TestRulesLookupTimeout checks that lookups get the lookup timeout, not
// the call timeout: none when it is zero.
func TestRulesLookupTimeout(t *testing.T) {
	ctx := context.Background()
	db := &fakeDatabase{}
	r := store.NewRules(db, store.RulesConfig{CallTimeout: time.Minute})
	if _, err := r.GetByTokenHash(ctx, [32]byte{}); err != nil || db.deadline {
		t.Errorf("lookup without a lookup timeout: %v, deadline %v; want none", err, db.deadline)
	}
	r = store.NewRules(db, store.RulesConfig{CallTimeout: time.Minute, LookupTimeout: time.Second})
	if _, err := r.Get(ctx, "s1"); err != nil || !db.deadline {
		t.Errorf("lookup with a lookup timeout: %v, deadline %v; want one", err, db.deadline)
	}
}

// TestRulesAloneAreNoLimitedStore: a backend that embeds Rules but keeps no
// limits must not pass for a store.LimitedStore, or WithMaxSessions would
// accept it and every capped sign-in would fail.
func TestRulesAloneAreNoLimitedStore(t *testing.T) {
	type backend struct{ *store.Rules }
	var st any = backend{store.NewRules(&fakeDatabase{}, store.RulesConfig{})}
	if _, ok := st.(store.LimitedStore); ok {
		t.Fatal("embedding store.Rules made a store a LimitedStore")
	}
}

// bindingDatabase is a database where the named session is bound to the
// user just after the first revocation statement looked: that statement
// revokes nothing, the next one does.
type bindingDatabase struct {
	*fakeDatabase
	tries int
}

func (b *bindingDatabase) RevokeActive(ctx context.Context, sel store.Selection, now time.Time, reason string) ([]string, error) {
	b.tries++
	if b.tries == 1 {
		return nil, nil
	}
	return []string{sel.SessionID}, nil
}

// TestRevokeOneRacingABind: a named session that becomes the user's while
// Revoke looks is revoked, not reported as already revoked while active.
func TestRevokeOneRacingABind(t *testing.T) {
	db := &bindingDatabase{fakeDatabase: &fakeDatabase{owner: "alice", active: true}}
	ids, err := newRules(db).Revoke(context.Background(), store.Selection{UserID: "alice", SessionID: "s1"}, now, "admin")
	if err != nil || len(ids) != 1 || ids[0] != "s1" || db.tries != 2 {
		t.Fatalf("Revoke = %v, %v after %d tries; want [s1] on the second", ids, err, db.tries)
	}

	// Already revoked (inactive): no retry, no error, nothing revoked.
	inactive := &fakeDatabase{owner: "alice", active: false}
	ids, err = newRules(inactive).Revoke(context.Background(), store.Selection{UserID: "alice", SessionID: "s1"}, now, "admin")
	statements := 0
	for _, c := range inactive.calls {
		if c == "RevokeActive" {
			statements++
		}
	}
	if err != nil || len(ids) != 0 || statements != 1 {
		t.Fatalf("Revoke of an inactive session = %v, %v with calls %v; want nothing, one statement", ids, err, inactive.calls)
	}
}
