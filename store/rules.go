package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"
)

// Database is the part of a backend that speaks to its database: its
// statements, in its dialect, through its driver. Rules makes a
// SessionStore, DataStore and Cleaner of it.
//
// Each method that changes a session is one atomic step that carries its
// own conditions (the session is active at now; its user's not-before time
// allows it), so that no concurrent write can come between the check and
// the change: a revoked or expired session is never changed. What a step
// that changed nothing means is for Rules to find out.
//
// A method returns ErrNotFound, ErrDuplicate or ErrNotBefore where it says
// so, and otherwise its driver's errors as the backend reports them: marked
// with ErrUnavailable when the database did not answer in time (see
// Unavailable), ErrClosed once the backend is closed. The ctx of each call
// carries the call's deadline (see RulesConfig).
type Database interface {
	// Closed reports whether the backend has been closed: Rules then
	// refuses every call with ErrClosed.
	Closed() bool

	// Insert stores s, whose AuthenticatedAt is set, unless s is bound to
	// a user whose not-before time is after its AuthenticatedAt
	// (RefusedBy), checked in the same step: then it stores nothing and
	// inserted is false. A taken id or token hash gives ErrDuplicate.
	Insert(ctx context.Context, s Session) (inserted bool, err error)

	// LoadID and LoadTokenHash return the session with the given id, or
	// whose current token hash is hash, active or not, or ErrNotFound.
	LoadID(ctx context.Context, id string) (Session, error)
	LoadTokenHash(ctx context.Context, hash [sha256.Size]byte) (Session, error)
	// LoadUser returns every session of the user, in Cursor's order.
	LoadUser(ctx context.Context, userID string) ([]Session, error)
	// LoadPage returns, in Cursor's order, the sessions of the page q asks
	// for and the next one after them, if any: at most q.Limit+1. q has
	// passed Check.
	LoadPage(ctx context.Context, userID string, q PageQuery) ([]Session, error)
	// LoadActive returns every session active at now, of every user.
	LoadActive(ctx context.Context, now time.Time) ([]Session, error)
	// Probe returns the user of the session with the given id and whether
	// it is active at now (Session.Active), as of every write made so far,
	// or ErrNotFound.
	Probe(ctx context.Context, id string, now time.Time) (owner string, active bool, err error)

	// TouchActive, ReplaceActiveToken and UpdateActive make the change of
	// SessionStore.Touch, SessionStore.ReplaceToken and DataStore.Update
	// to the session with the given id if it is active at now and, for
	// UpdateActive binding it to a user, if that user's not-before time
	// allows its (new) AuthenticatedAt, checked in the same step; changed
	// reports whether they made it. A taken hash gives ReplaceActiveToken
	// ErrDuplicate. UpdateActive gets u.IdleExpiresAt capped at
	// u.ExpiresAt already.
	TouchActive(ctx context.Context, id string, now, idleExpiresAt time.Time) (changed bool, err error)
	ReplaceActiveToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) (changed bool, err error)
	UpdateActive(ctx context.Context, id string, u Update, now time.Time) (changed bool, err error)

	// RevokeActive revokes, at now and with reason, the sessions that sel
	// picks at now (Selection.Picks), and moves the user's not-before time
	// forward to sel.NotBefore when that is set, all in one step, and
	// returns the ids it revoked, in any order. sel has passed Check and
	// does not except the session it names.
	RevokeActive(ctx context.Context, sel Selection, now time.Time, reason string) ([]string, error)

	// DeleteOld deletes the sessions that are old at t (Session.Old) and
	// returns how many, as Cleaner.DeleteBefore: in batches, each with a
	// deadline of its own (see DeleteInBatches), for ctx has none.
	DeleteOld(ctx context.Context, t time.Time) (int, error)
}

// RulesConfig says what differs between the backends that Rules serves.
type RulesConfig struct {
	// Name starts the errors of the backend, "sqlitestore" say.
	Name string
	// CallTimeout bounds each call but the lookups by id and token hash
	// (see CallContext); zero means no bound.
	CallTimeout time.Duration
	// LookupTimeout bounds Get and GetByTokenHash. A backend whose
	// lookups cannot wait long (a read of a WAL database) may leave it
	// zero and spare the request path a timer.
	LookupTimeout time.Duration
	// Earliest and Latest are the range of times the database keeps
	// exactly: Create refuses a session with times outside it (see
	// Session.CheckTimes), which Range names in the error ("the years 1 to
	// 9999").
	Earliest, Latest time.Time
	Range            string
}

// Rules is a SessionStore, DataStore and Cleaner on a Database: what every
// backend on a database decides alike, in one place. It refuses every call
// once the backend is closed, and bad arguments before they reach the
// database; bounds each call by its deadline; caps an Update's idle expiry;
// sorts the ids a Revoke returns; and finds out, when a write changed
// nothing, whether the session is unknown (ErrNotFound), inactive
// (ErrInactive) or refused for its user's not-before time (ErrNotBefore).
// A backend embeds a *Rules, whose methods then are its own.
type Rules struct {
	db  Database
	cfg RulesConfig
}

// NewRules returns the Rules of a backend on db.
func NewRules(db Database, cfg RulesConfig) *Rules { return &Rules{db: db, cfg: cfg} }

// call returns ctx bounded by the call timeout, or ErrClosed once the
// backend is closed.
func (r *Rules) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if r.db.Closed() {
		return ctx, func() {}, ErrClosed
	}
	ctx, cancel := CallContext(ctx, r.cfg.CallTimeout)
	return ctx, cancel, nil
}

// Create implements SessionStore. Every time except RevokedAt and
// AuthenticatedAt must be set, and every time lie within the range the
// database keeps (RulesConfig).
func (r *Rules) Create(ctx context.Context, s Session) error {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	if err := s.CheckTimes(r.cfg.Earliest, r.cfg.Latest); err != nil {
		return fmt.Errorf("%s: create: %w of %s", r.cfg.Name, err, r.cfg.Range)
	}
	if err := r.checkSignIn(&s); err != nil {
		return err
	}
	s.AuthenticatedAt = s.Authenticated()
	inserted, err := r.db.Insert(ctx, s)
	if err == nil && !inserted {
		return ErrNotBefore
	}
	return err
}

// Get implements SessionStore.
func (r *Rules) Get(ctx context.Context, id string) (Session, error) {
	if r.db.Closed() {
		return Session{}, ErrClosed
	}
	ctx, cancel := CallContext(ctx, r.cfg.LookupTimeout)
	defer cancel()
	return r.db.LoadID(ctx, id)
}

// GetByTokenHash implements SessionStore.
func (r *Rules) GetByTokenHash(ctx context.Context, hash [sha256.Size]byte) (Session, error) {
	if r.db.Closed() {
		return Session{}, ErrClosed
	}
	ctx, cancel := CallContext(ctx, r.cfg.LookupTimeout)
	defer cancel()
	return r.db.LoadTokenHash(ctx, hash)
}

// List implements SessionStore. It reads every row of the user.
func (r *Rules) List(ctx context.Context, userID string) ([]Session, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	out, err := r.db.LoadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Session{} // an unknown user has an empty list, not none
	}
	return out, nil
}

// ListPage implements SessionStore.
func (r *Rules) ListPage(ctx context.Context, userID string, q PageQuery) (Page, error) {
	if err := q.Check(); err != nil {
		return Page{}, err
	}
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return Page{}, err
	}
	sessions, err := r.db.LoadPage(ctx, userID, q)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if len(sessions) > q.Limit {
		// The one more than the page holds says that another page follows.
		sessions = sessions[:q.Limit]
		p.Next = CursorOf(sessions[q.Limit-1])
	}
	p.Sessions = sessions
	return p, nil
}

// ListActive implements DataStore. It reads every active session of every
// user, data included, so its cost grows with the whole store; it serves
// scs's Iterate, never revocation.
func (r *Rules) ListActive(ctx context.Context, now time.Time) ([]Session, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return r.db.LoadActive(ctx, now)
}

// Touch implements SessionStore. The change and the check that the session
// is active are one step, so a revocation that commits first always wins
// and one that commits later always applies.
func (r *Rules) Touch(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	return r.changeOne(ctx, id, now, ErrInactive, func(ctx context.Context) (bool, error) {
		return r.db.TouchActive(ctx, id, now, idleExpiresAt)
	})
}

// ReplaceToken implements SessionStore.
func (r *Rules) ReplaceToken(ctx context.Context, id string, newHash [sha256.Size]byte, now time.Time) error {
	return r.changeOne(ctx, id, now, ErrInactive, func(ctx context.Context) (bool, error) {
		return r.db.ReplaceActiveToken(ctx, id, newHash, now)
	})
}

// Update implements DataStore. As with Touch, the change and the checks
// that the session is active and that its user's not-before time allows it
// are one step, so an update racing a revocation can never undo it. A
// session left unchanged though active was refused for that not-before
// time.
func (r *Rules) Update(ctx context.Context, id string, u Update, now time.Time) error {
	if u.IdleExpiresAt.After(u.ExpiresAt) {
		u.IdleExpiresAt = u.ExpiresAt
	}
	return r.changeOne(ctx, id, now, ErrNotBefore, func(ctx context.Context) (bool, error) {
		return r.db.UpdateActive(ctx, id, u, now)
	})
}

// changeOne makes a change to one session that is active at now, and when
// the change changed nothing finds out why: the session is unknown
// (ErrNotFound), inactive (ErrInactive), or active and refused for the
// reason refused says.
func (r *Rules) changeOne(ctx context.Context, id string, now time.Time, refused error, change func(context.Context) (bool, error)) error {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	if changed, err := change(ctx); err != nil || changed {
		return err
	}
	_, active, err := r.db.Probe(ctx, id, now)
	switch {
	case err != nil:
		return err
	case active:
		return refused
	}
	return ErrInactive
}

// Revoke implements SessionStore. Each selection is one step on the user's
// sessions, so it is atomic and costs O(the user's sessions); the ids come
// back sorted. When sel.SessionID names a session that is unknown or
// another user's, Revoke returns ErrNotFound; an empty sel.UserID matches
// only a named session bound to no user, and without a sel.SessionID gives
// ErrNoUser.
func (r *Rules) Revoke(ctx context.Context, sel Selection, now time.Time, reason string) ([]string, error) {
	return r.revoke(ctx, sel, now, func(ctx context.Context) ([]string, error) {
		return r.db.RevokeActive(ctx, sel, now, reason)
	})
}

// revoke is Revoke with step as the database's revocation of sel.
func (r *Rules) revoke(ctx context.Context, sel Selection, now time.Time, step func(context.Context) ([]string, error)) ([]string, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	if err := sel.Check(); err != nil {
		return nil, err
	}
	// A session that is both named and excepted is not selected at all.
	if sel.SessionID != "" && sel.SessionID == sel.ExceptID {
		return nil, r.owned(ctx, sel, now)
	}
	for range revokeTries {
		ids, err := step(ctx)
		if err != nil {
			return nil, err
		}
		slices.Sort(ids) // the same answer every time, whatever the row order
		if sel.SessionID == "" || len(ids) > 0 {
			return ids, nil
		}
		// Nothing revoked: already revoked or expired, or not the user's,
		// or bound to the user (an scs sign-in) just after the statement
		// looked: then it is active and the user's now, and is revoked on
		// the next try rather than reported as already revoked.
		user, active, err := r.db.Probe(ctx, sel.SessionID, now)
		switch {
		case err != nil:
			return nil, err
		case user != sel.UserID:
			return nil, ErrNotFound
		case !active:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("%s: revoke: session %s kept changing hands", r.cfg.Name, sel.SessionID)
}

// revokeTries bounds how often Revoke tries a named session that became
// the user's while it looked.
const revokeTries = 3

// owned returns ErrNotFound unless the session sel names is the user's.
func (r *Rules) owned(ctx context.Context, sel Selection, now time.Time) error {
	user, _, err := r.db.Probe(ctx, sel.SessionID, now)
	if err != nil {
		return err
	}
	if user != sel.UserID {
		return ErrNotFound
	}
	return nil
}

// DeleteBefore implements Cleaner: it deletes the sessions that are old at
// t (Session.Old), in batches, so that writers are never held up for long;
// if ctx ends between batches it returns the count so far with ctx's
// error.
func (r *Rules) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if r.db.Closed() {
		return 0, ErrClosed
	}
	return r.db.DeleteOld(ctx, t)
}
