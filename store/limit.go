package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrSessionLimit means CreateLimited stored nothing because the user
// already has as many active sessions as its Limit allows, under
// RefuseNew.
var ErrSessionLimit = errors.New("store: the user has as many active sessions as allowed")

// LimitPolicy says what CreateLimited does when a new session would take a
// user past its Limit.
type LimitPolicy int

// The policies of a Limit.
const (
	// EvictLeastRecentlySeen revokes the user's active sessions seen least
	// recently (the oldest LastSeenAt, then the oldest CreatedAt, then the
	// smallest id), as many as make room for the new one.
	EvictLeastRecentlySeen LimitPolicy = iota + 1
	// RefuseNew stores nothing and returns ErrSessionLimit.
	RefuseNew
)

// Limit caps the active sessions of one user.
type Limit struct {
	Max    int // at least 1
	Policy LimitPolicy
	// Reason is recorded for the sessions EvictLeastRecentlySeen revokes.
	Reason string
}

// Check returns an error for a Limit no backend can keep.
func (l Limit) Check() error {
	if l.Max < 1 {
		return fmt.Errorf("store: a session limit of %d; it must be at least 1", l.Max)
	}
	switch l.Policy {
	case EvictLeastRecentlySeen:
		if l.Reason == "" {
			return errors.New("store: a session limit that evicts needs a reason")
		}
	case RefuseNew:
	default:
		return fmt.Errorf("store: unknown session limit policy %d", l.Policy)
	}
	return nil
}

// Evict returns the ids of the sessions, among the user's sessions active
// before a new one is added, that l revokes to make room for it, or
// ErrSessionLimit under RefuseNew when there is no room. Every backend
// decides with it, inside the step that then revokes and inserts.
func (l Limit) Evict(active []Session) ([]string, error) {
	over := len(active) - l.Max + 1
	if over <= 0 {
		return nil, nil
	}
	if l.Policy == RefuseNew {
		return nil, ErrSessionLimit
	}
	oldest := slices.Clone(active)
	slices.SortFunc(oldest, func(a, b Session) int {
		return cmp.Or(a.LastSeenAt.Compare(b.LastSeenAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	ids := make([]string, over)
	for i := range over {
		ids[i] = oldest[i].ID
	}
	slices.Sort(ids)
	return ids, nil
}

// LimitedStore is implemented by stores that cap the active sessions of a
// user atomically. It is optional: revoke.WithMaxSessions needs it.
type LimitedStore interface {
	SessionStore

	// CreateLimited stores s as Create does, bound to a user, and keeps
	// that user's active sessions at now, s included, at most l.Max: it
	// revokes at now, with l.Reason, the sessions l.Evict picks among
	// those active before, or under RefuseNew stores nothing and returns
	// ErrSessionLimit. It returns the ids it revoked, sorted. The count,
	// the revocations and the insert are one step, serialised with every
	// other CreateLimited and every not-before Revoke of the user in every
	// process sharing the store, so that concurrent sign-ins never leave
	// more than l.Max. When Create would fail (ErrDuplicate, ErrNotBefore)
	// nothing is revoked.
	CreateLimited(ctx context.Context, s Session, l Limit, now time.Time) ([]string, error)
}

// LimitedDatabase is implemented by a Database whose backend keeps Limits:
// Rules.CreateWithLimit then works on it.
type LimitedDatabase interface {
	// InsertLimited, in one step exclusive to s.UserID, loads the user's
	// sessions active at now, asks evict which to revoke, revokes them at
	// now with reason unless evict fails, and inserts s as Insert does.
	// When evict fails or the insert is refused, nothing changes: it
	// returns evict's error, or inserted false.
	InsertLimited(ctx context.Context, s Session, now time.Time, reason string, evict func(active []Session) ([]string, error)) (inserted bool, revoked []string, err error)
}

// CreateWithLimit is LimitedStore's CreateLimited on a Database that is a
// LimitedDatabase, and returns ErrUnsupported on one that is not. It is not
// named CreateLimited so that embedding Rules does not make a store a
// LimitedStore: a backend that keeps limits says so with a CreateLimited
// of its own that calls this.
func (r *Rules) CreateWithLimit(ctx context.Context, s Session, l Limit, now time.Time) ([]string, error) {
	return r.createWithLimit(ctx, s, l, now, func(ctx context.Context, ldb LimitedDatabase, s Session) (bool, []string, error) {
		return ldb.InsertLimited(ctx, s, now, l.Reason, l.Evict)
	})
}

// createWithLimit is CreateWithLimit with insert as the database's capped
// insert of s.
func (r *Rules) createWithLimit(ctx context.Context, s Session, l Limit, now time.Time,
	insert func(context.Context, LimitedDatabase, Session) (bool, []string, error)) ([]string, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	if s.UserID == "" {
		return nil, errors.New("store: a limited session needs a user")
	}
	ldb, ok := r.db.(LimitedDatabase)
	if !ok {
		return nil, fmt.Errorf("%w: session limits", ErrUnsupported)
	}
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	if err := s.CheckTimes(r.cfg.Earliest, r.cfg.Latest); err != nil {
		return nil, fmt.Errorf("%s: create: %w of %s", r.cfg.Name, err, r.cfg.Range)
	}
	if err := r.checkSignIn(&s); err != nil {
		return nil, err
	}
	s.AuthenticatedAt = s.Authenticated()
	inserted, revoked, err := insert(ctx, ldb, s)
	switch {
	case err != nil:
		return nil, err
	case !inserted:
		return nil, ErrNotBefore
	}
	slices.Sort(revoked)
	return revoked, nil
}

// CreateLimited calls st's CreateLimited, or returns ErrUnsupported when st
// is not a LimitedStore.
func CreateLimited(ctx context.Context, st SessionStore, s Session, l Limit, now time.Time) ([]string, error) {
	ls, ok := st.(LimitedStore)
	if !ok {
		return nil, fmt.Errorf("%w: session limits", ErrUnsupported)
	}
	return ls.CreateLimited(ctx, s, l, now)
}
