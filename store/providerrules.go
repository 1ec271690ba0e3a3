package store

import (
	"context"
	"time"
)

// ProviderDatabase is the part of a backend that keeps the tables of the
// identity-provider extensions, in its dialect, through its driver.
// ProviderRules makes a ProviderStore and TokenIDStore of it.
//
// Its methods return ErrNotFound where they say so and otherwise the
// driver's errors as the backend reports them (see Database); an error that
// the function given to ProviderTx returns from ProviderRules comes back
// unchanged.
type ProviderDatabase interface {
	// Closed reports whether the backend has been closed.
	Closed() bool
	// ProviderTx runs fn in one transaction and commits it when fn
	// returns nil. When sid is set the transaction is serialised with
	// every other ProviderTx of the provider session (issuer, sid), on
	// every instance sharing the database. op names the call in errors.
	ProviderTx(ctx context.Context, op, issuer, sid string, fn func(ProviderTx) error) error
	// LoadProviderUser returns the user (issuer, subject) is mapped to, or
	// ErrNotFound.
	LoadProviderUser(ctx context.Context, issuer, subject string) (string, error)
	// TokenIDRemembered reports whether (issuer, jti) is recorded until
	// after now.
	TokenIDRemembered(ctx context.Context, issuer, jti string, now time.Time) (bool, error)
}

// ExtensionTable names a table of the identity-provider extensions whose
// rows expire.
type ExtensionTable int

// The tables of the identity-provider extensions whose rows expire.
const (
	LinksTable    ExtensionTable = iota // ProviderLink rows, until ExpiresAt
	EndedTable                          // ended provider sessions, until their until
	TokenIDsTable                       // used token ids, until their until
)

// ProviderTx is one transaction of a ProviderDatabase: each method is one
// statement.
type ProviderTx interface {
	// Ended reports whether the provider session (issuer, sid) is
	// recorded as ended until after now.
	Ended(issuer, sid string, now time.Time) (bool, error)
	// MapSubject maps (issuer, subject) to userID, replacing a mapping.
	MapSubject(issuer, subject, userID string) error
	// PutLink records l, replacing the link of the same (Issuer, SID,
	// SessionID).
	PutLink(l ProviderLink) error
	// PutEnded records (issuer, sid) as ended until `until`, or until the
	// time recorded before if that is later.
	PutEnded(issuer, sid string, until time.Time) error
	// Links returns the links of (issuer, sid) that expire after now.
	Links(issuer, sid string, now time.Time) ([]ProviderLink, error)
	// PutTokenID records (issuer, jti) until `until` unless it is recorded
	// until after now already; put reports whether it recorded it.
	PutTokenID(issuer, jti string, now, until time.Time) (put bool, err error)
	// DropExpired deletes at most limit rows of t that have expired at now.
	DropExpired(t ExtensionTable, now time.Time, limit int) error
}

// ProviderRules is a ProviderStore and TokenIDStore on a ProviderDatabase:
// the steps of each call and their order, which every backend on a
// database takes alike. A backend embeds a *ProviderRules beside its
// *Rules.
type ProviderRules struct {
	db          ProviderDatabase
	callTimeout time.Duration
}

// NewProviderRules returns the ProviderRules of a backend on db, each call
// bounded by callTimeout (zero: no bound).
func NewProviderRules(db ProviderDatabase, callTimeout time.Duration) *ProviderRules {
	return &ProviderRules{db: db, callTimeout: callTimeout}
}

func (r *ProviderRules) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if r.db.Closed() {
		return ctx, func() {}, ErrClosed
	}
	ctx, cancel := CallContext(ctx, r.callTimeout)
	return ctx, cancel, nil
}

// LinkProviderSession implements ProviderStore. The check that the
// provider has not ended the session and the insert are one transaction
// serialised with EndProviderSession of the same provider session.
func (r *ProviderRules) LinkProviderSession(ctx context.Context, l ProviderLink, now time.Time) error {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	return r.db.ProviderTx(ctx, "link provider session", l.Issuer, l.SID, func(tx ProviderTx) error {
		if l.SID != "" {
			ended, err := tx.Ended(l.Issuer, l.SID, now)
			if err != nil {
				return err
			}
			if ended {
				return ErrProviderSessionEnded
			}
		}
		if err := tx.MapSubject(l.Issuer, l.Subject, l.UserID); err != nil {
			return err
		}
		if l.SID == "" {
			return nil // the mapping alone
		}
		if err := tx.DropExpired(LinksTable, now, ExpiredBatch); err != nil {
			return err
		}
		return tx.PutLink(l)
	})
}

// EndProviderSession implements ProviderStore.
func (r *ProviderRules) EndProviderSession(ctx context.Context, issuer, sid string, now, until time.Time) ([]ProviderLink, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	var links []ProviderLink
	err = r.db.ProviderTx(ctx, "end provider session", issuer, sid, func(tx ProviderTx) error {
		links = nil // a retried transaction starts over
		if err := tx.DropExpired(EndedTable, now, ExpiredBatch); err != nil {
			return err
		}
		if err := tx.PutEnded(issuer, sid, until); err != nil {
			return err
		}
		var err error
		links, err = tx.Links(issuer, sid, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return links, nil
}

// ProviderUser implements ProviderStore.
func (r *ProviderRules) ProviderUser(ctx context.Context, issuer, subject string) (string, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return "", err
	}
	return r.db.LoadProviderUser(ctx, issuer, subject)
}

// TokenIDUsed implements TokenIDStore.
func (r *ProviderRules) TokenIDUsed(ctx context.Context, issuer, jti string, now time.Time) (bool, error) {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return false, err
	}
	return r.db.TokenIDRemembered(ctx, issuer, jti, now)
}

// UseTokenID implements TokenIDStore. One statement checks and records
// the id, so of two concurrent calls the second finds it remembered.
func (r *ProviderRules) UseTokenID(ctx context.Context, issuer, jti string, now, until time.Time) error {
	ctx, cancel, err := r.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	return r.db.ProviderTx(ctx, "use token id", "", "", func(tx ProviderTx) error {
		if err := tx.DropExpired(TokenIDsTable, now, ExpiredBatch); err != nil {
			return err
		}
		put, err := tx.PutTokenID(issuer, jti, now, until)
		if err != nil {
			return err
		}
		if !put {
			return ErrReplayed
		}
		return nil
	})
}
