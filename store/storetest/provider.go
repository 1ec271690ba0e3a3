package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/store"
)

// The identity-provider extensions are optional. When the store under test
// implements store.ProviderStore or store.TokenIDStore, Run checks them too;
// the suite pins:
//
//   - EndProviderSession returns exactly the unexpired links of that
//     (issuer, sid): not those of another sid, nor of the same sid at
//     another issuer.
//   - Once a provider session is ended, LinkProviderSession of it returns
//     ErrProviderSessionEnded and stores nothing, until the end's time
//     passes; a link racing the end is either refused or returned by it.
//   - LinkProviderSession maps (issuer, subject) to the user, the latest
//     link winning; a link without a sid records only that mapping.
//     ProviderUser of an unknown subject is ErrNotFound.
//   - UseTokenID accepts an id once per issuer and refuses it with
//     ErrReplayed until its time passes; of concurrent calls with one id,
//     exactly one succeeds. TokenIDUsed reports the same.
//   - After Close they return store.ErrClosed.
func runProviderTests(t *testing.T, open func(*testing.T) store.SessionStore) {
	probe := open(t)
	_, isProvider := probe.(store.ProviderStore)
	_, isTokenIDs := probe.(store.TokenIDStore)
	if err := probe.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
	tests := []struct {
		name string
		run  bool
		fn   func(*testing.T, store.SessionStore)
	}{
		{"ProviderLinks", isProvider, testProviderLinks},
		{"ProviderEndedRefusesLink", isProvider, testProviderEndedRefusesLink},
		{"ProviderLinkRacingEnd", isProvider, testProviderLinkRacingEnd},
		{"ProviderUser", isProvider, testProviderUser},
		{"ProviderClosed", isProvider, testProviderClosed},
		{"TokenIDs", isTokenIDs, testTokenIDs},
		{"TokenIDsConcurrent", isTokenIDs, testTokenIDsConcurrent},
		{"TokenIDsClosed", isTokenIDs, testTokenIDsClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.run {
				t.Skip("the store does not implement this extension")
			}
			tt.fn(t, openStore(t, open))
		})
	}
}

const (
	issuerA = "https://idp-a.example"
	issuerB = "https://idp-b.example"
)

// linkNew creates a session for user and links it to (issuer, sid) as
// subject.
func linkNew(t *testing.T, s store.SessionStore, issuer, subject, sid, user string, now time.Time) store.ProviderLink {
	t.Helper()
	sess := create(t, s, user, now)
	l := store.ProviderLink{Issuer: issuer, Subject: subject, SID: sid, SessionID: sess.ID, UserID: user, ExpiresAt: sess.ExpiresAt}
	if err := s.(store.ProviderStore).LinkProviderSession(t.Context(), l, now); err != nil {
		t.Fatalf("LinkProviderSession: %v", err)
	}
	return l
}

func sessionIDs(ls []store.ProviderLink) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.SessionID)
	}
	slices.Sort(ids)
	return ids
}

func testProviderLinks(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ps := s.(store.ProviderStore)
	ctx := t.Context()
	a1 := linkNew(t, s, issuerA, "sub-1", "sid-1", "u1", base)
	a2 := linkNew(t, s, issuerA, "sub-1", "sid-1", "u1", base)
	linkNew(t, s, issuerA, "sub-1", "sid-2", "u1", base) // another provider session
	linkNew(t, s, issuerB, "sub-1", "sid-1", "u9", base) // the same sid at another provider
	short := linkNew(t, s, issuerA, "sub-1", "sid-1", "u1", base)
	// A link whose session has ended is not returned.
	short.ExpiresAt = base.Add(time.Minute)
	is.NoErr(ps.LinkProviderSession(ctx, short, base))

	now := base.Add(2 * time.Minute)
	got, err := ps.EndProviderSession(ctx, issuerA, "sid-1", now, now.Add(time.Hour))
	is.NoErr(err)
	is.Equal(sessionIDs(got), sessionIDs([]store.ProviderLink{a1, a2}))
	for _, l := range got {
		is.Equal(l.Issuer, issuerA)
		is.Equal(l.SID, "sid-1")
		is.Equal(l.Subject, "sub-1")
		is.Equal(l.UserID, "u1")
		is.True(l.ExpiresAt.Equal(a1.ExpiresAt))
	}
	// Ending it again returns the same links: the end is idempotent.
	again, err := ps.EndProviderSession(ctx, issuerA, "sid-1", now, now.Add(time.Hour))
	is.NoErr(err)
	is.Equal(sessionIDs(again), sessionIDs(got))
	// An unknown provider session has no links.
	none, err := ps.EndProviderSession(ctx, issuerA, "sid-unknown", now, now.Add(time.Hour))
	is.NoErr(err)
	is.Equal(len(none), 0)
}

func testProviderEndedRefusesLink(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ps := s.(store.ProviderStore)
	ctx := t.Context()
	_, err := ps.EndProviderSession(ctx, issuerA, "sid-1", base, base.Add(time.Hour))
	is.NoErr(err)
	// An end never moves back.
	_, err = ps.EndProviderSession(ctx, issuerA, "sid-1", base, base.Add(time.Minute))
	is.NoErr(err)

	sess := create(t, s, "u1", base)
	l := store.ProviderLink{Issuer: issuerA, Subject: "sub-1", SID: "sid-1", SessionID: sess.ID, UserID: "u1", ExpiresAt: sess.ExpiresAt}
	is.True(errors.Is(ps.LinkProviderSession(ctx, l, base.Add(30*time.Minute)), store.ErrProviderSessionEnded))
	_, err = ps.ProviderUser(ctx, issuerA, "sub-1")
	is.True(errors.Is(err, store.ErrNotFound)) // nothing stored, the mapping neither
	// The same sid at another provider is not ended.
	lb := l
	lb.Issuer = issuerB
	is.NoErr(ps.LinkProviderSession(ctx, lb, base.Add(30*time.Minute)))

	// Once the end is forgotten, the sid links again.
	later := base.Add(time.Hour)
	is.NoErr(ps.LinkProviderSession(ctx, l, later))
	got, err := ps.EndProviderSession(ctx, issuerA, "sid-1", later, later.Add(time.Hour))
	is.NoErr(err)
	is.Equal(sessionIDs(got), []string{sess.ID})
}

// testProviderLinkRacingEnd: links racing an end of their provider session
// are either refused or returned by the end; none slips between.
func testProviderLinkRacingEnd(t *testing.T, s store.SessionStore) {
	ps := s.(store.ProviderStore)
	ctx := t.Context()
	for r := range rounds {
		sid := fmt.Sprintf("sid-race-%d", r)
		var (
			mu     sync.Mutex
			linked []string
			ended  []store.ProviderLink
			wg     sync.WaitGroup
		)
		start := make(chan struct{})
		for w := range workers {
			sess := create(t, s, "racer", base)
			wg.Go(func() {
				<-start
				l := store.ProviderLink{Issuer: issuerA, Subject: "sub-r", SID: sid, SessionID: sess.ID, UserID: "racer", ExpiresAt: sess.ExpiresAt}
				err := ps.LinkProviderSession(ctx, l, base)
				switch {
				case err == nil:
					mu.Lock()
					linked = append(linked, sess.ID)
					mu.Unlock()
				case !errors.Is(err, store.ErrProviderSessionEnded):
					t.Errorf("worker %d: LinkProviderSession: %v", w, err)
				}
			})
		}
		wg.Go(func() {
			<-start
			got, err := ps.EndProviderSession(ctx, issuerA, sid, base, base.Add(time.Hour))
			if err != nil {
				t.Errorf("EndProviderSession: %v", err)
			}
			ended = got
		})
		close(start)
		wg.Wait()
		slices.Sort(linked)
		if got := sessionIDs(ended); !slices.Equal(got, linked) {
			t.Fatalf("round %d: links made %v, end returned %v", r, linked, got)
		}
	}
}

func testProviderUser(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ps := s.(store.ProviderStore)
	ctx := t.Context()
	_, err := ps.ProviderUser(ctx, issuerA, "sub-1")
	is.True(errors.Is(err, store.ErrNotFound))

	linkNew(t, s, issuerA, "sub-1", "", "u1", base) // no sid: the mapping alone
	u, err := ps.ProviderUser(ctx, issuerA, "sub-1")
	is.NoErr(err)
	is.Equal(u, "u1")
	_, err = ps.ProviderUser(ctx, issuerB, "sub-1")
	is.True(errors.Is(err, store.ErrNotFound)) // subjects are per issuer

	linkNew(t, s, issuerA, "sub-1", "sid-1", "u2", base) // the app re-mapped the subject
	u, err = ps.ProviderUser(ctx, issuerA, "sub-1")
	is.NoErr(err)
	is.Equal(u, "u2")
}

func testProviderClosed(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ps := s.(store.ProviderStore)
	ctx := t.Context()
	is.NoErr(s.Close())
	l := store.ProviderLink{Issuer: issuerA, Subject: "s", SID: "sid", SessionID: "x", UserID: "u", ExpiresAt: base.Add(time.Hour)}
	is.True(errors.Is(ps.LinkProviderSession(ctx, l, base), store.ErrClosed))
	_, err := ps.EndProviderSession(ctx, issuerA, "sid", base, base.Add(time.Hour))
	is.True(errors.Is(err, store.ErrClosed))
	_, err = ps.ProviderUser(ctx, issuerA, "s")
	is.True(errors.Is(err, store.ErrClosed))
}

func testTokenIDs(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	ts := s.(store.TokenIDStore)
	ctx := t.Context()
	until := base.Add(5 * time.Minute)
	used, err := ts.TokenIDUsed(ctx, issuerA, "jti-1", base)
	is.NoErr(err)
	is.True(!used)
	is.NoErr(ts.UseTokenID(ctx, issuerA, "jti-1", base, until))
	is.True(errors.Is(ts.UseTokenID(ctx, issuerA, "jti-1", base.Add(time.Minute), until), store.ErrReplayed))
	used, err = ts.TokenIDUsed(ctx, issuerA, "jti-1", base.Add(time.Minute))
	is.NoErr(err)
	is.True(used)
	used, err = ts.TokenIDUsed(ctx, issuerB, "jti-1", base.Add(time.Minute))
	is.NoErr(err)
	is.True(!used) // per issuer
	used, err = ts.TokenIDUsed(ctx, issuerA, "jti-1", until)
	is.NoErr(err)
	is.True(!used)                                              // forgotten at its time
	is.NoErr(ts.UseTokenID(ctx, issuerB, "jti-1", base, until)) // ids are per issuer
	is.NoErr(ts.UseTokenID(ctx, issuerA, "jti-2", base, until))
	// Remembered up to its time, forgotten at it.
	is.True(errors.Is(ts.UseTokenID(ctx, issuerA, "jti-1", until.Add(-time.Microsecond), until), store.ErrReplayed))
	is.NoErr(ts.UseTokenID(ctx, issuerA, "jti-1", until, until.Add(time.Minute)))
	is.True(errors.Is(ts.UseTokenID(ctx, issuerA, "jti-1", until, until.Add(time.Minute)), store.ErrReplayed))
	// Many expired ids are dropped as new ones come, and none of the
	// remembered ones is.
	for i := range 3 * store.ExpiredBatch {
		is.NoErr(ts.UseTokenID(ctx, issuerB, fmt.Sprintf("old-%d", i), base, base.Add(time.Second)))
	}
	later := base.Add(time.Hour)
	for i := range 3 * store.ExpiredBatch {
		is.NoErr(ts.UseTokenID(ctx, issuerB, fmt.Sprintf("new-%d", i), later, later.Add(time.Hour)))
	}
	for i := range 3 * store.ExpiredBatch {
		is.True(errors.Is(ts.UseTokenID(ctx, issuerB, fmt.Sprintf("new-%d", i), later, later.Add(time.Hour)), store.ErrReplayed))
	}
}

func testTokenIDsConcurrent(t *testing.T, s store.SessionStore) {
	ts := s.(store.TokenIDStore)
	ctx := t.Context()
	for r := range rounds {
		jti := fmt.Sprintf("jti-race-%d", r)
		var (
			mu sync.Mutex
			ok int
			wg sync.WaitGroup
		)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				err := ts.UseTokenID(ctx, issuerA, jti, base, base.Add(time.Hour))
				switch {
				case err == nil:
					mu.Lock()
					ok++
					mu.Unlock()
				case !errors.Is(err, store.ErrReplayed):
					t.Errorf("worker %d: UseTokenID: %v", w, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 1 {
			t.Fatalf("round %d: %d calls accepted one token id, want 1", r, ok)
		}
	}
}

func testTokenIDsClosed(t *testing.T, s store.SessionStore) {
	is := is.New(t)
	is.NoErr(s.Close())
	err := s.(store.TokenIDStore).UseTokenID(t.Context(), issuerA, "jti", base, base.Add(time.Hour))
	is.True(errors.Is(err, store.ErrClosed))
	_, err = s.(store.TokenIDStore).TokenIDUsed(t.Context(), issuerA, "jti", base)
	is.True(errors.Is(err, store.ErrClosed))
}
