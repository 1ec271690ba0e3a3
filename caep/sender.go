package caep

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
)

// PushReceiver is a system that SETs are pushed to (RFC 8935).
type PushReceiver struct {
	Name     string // unique among the receivers; kept with each outbox message
	URL      string // its push endpoint
	Audience string // the aud of its SETs
	// Format of the user in the subject: FormatOpaque (the app's user
	// id), FormatEmail (SenderConfig.EmailOf) or FormatIssSub (the
	// Sender's issuer and the user id). The session is always named too,
	// in a complex subject, by the app's session id.
	Format string
	// Authorization, when set, is sent as the Authorization header.
	Authorization string
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	Issuer    string // the iss of the SETs
	Signer    *Signer
	Receivers []PushReceiver
	// EmailOf gives a user's email, for receivers of FormatEmail.
	EmailOf func(ctx context.Context, userID string) (string, error)
	Client  *http.Client // default: a client with a 10 s timeout
	Logger  *slog.Logger // default slog.Default()
	// MinBackoff and MaxBackoff bound the wait after a failed delivery,
	// doubled each attempt; defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// Lease is how long a message taken for delivery stays taken before
	// another sender (or this one, restarted) takes it again; default 30 s.
	Lease time.Duration
	// Poll is how often the outbox is read when idle; default 1 s.
	Poll time.Duration
}

// Sender delivers a session-revoked SET for every revoked session to every
// receiver, at least once, through the store's outbox: a Manager given its
// Option records the messages in the write of each revocation, and Run
// delivers them.
type Sender struct {
	cfg       SenderConfig
	st        store.OutboxStore
	receivers map[string]PushReceiver
	wake      chan struct{}
}

// outboxEvent is the payload of an outbox message: a revocation, whose
// sessions the store keeps beside it (store.OutboxMessage.SessionIDs),
// which becomes one SET per session at delivery.
type outboxEvent struct {
	UserID string    `json:"user_id"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// SessionID is the one session of a message written before the store
	// kept session ids, delivered under the message's id as its jti.
	SessionID string `json:"session_id,omitempty"`
}

// NewSender returns a Sender on st's outbox. st must be a
// store.RecordingStore (memstore, sqlitestore, pgstore and redisstore are),
// so that its Manager records each revocation's messages in the
// revocation's own write.
func NewSender(st store.SessionStore, cfg SenderConfig) (*Sender, error) {
	ob, err := store.Recording(st)
	if err != nil {
		return nil, fmt.Errorf("caep: %w", err)
	}
	if cfg.Issuer == "" || cfg.Signer == nil {
		return nil, errors.New("caep: a sender needs an issuer and a signer")
	}
	s := &Sender{cfg: cfg, st: ob, receivers: map[string]PushReceiver{}, wake: make(chan struct{}, 1)}
	for _, r := range cfg.Receivers {
		switch {
		case r.Name == "" || r.URL == "" || r.Audience == "":
			return nil, errors.New("caep: a receiver needs a name, a URL and an audience")
		case r.Format == FormatEmail && cfg.EmailOf == nil:
			return nil, fmt.Errorf("caep: receiver %q wants emails but EmailOf is not set", r.Name)
		case r.Format != FormatOpaque && r.Format != FormatEmail && r.Format != FormatIssSub:
			return nil, fmt.Errorf("caep: receiver %q: unsupported subject format %q", r.Name, r.Format)
		}
		if _, dup := s.receivers[r.Name]; dup {
			return nil, fmt.Errorf("caep: receiver %q configured twice", r.Name)
		}
		s.receivers[r.Name] = r
	}
	if s.cfg.Client == nil {
		s.cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.cfg.Logger == nil {
		s.cfg.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&s.cfg.MinBackoff, time.Second)
	def(&s.cfg.MaxBackoff, 5*time.Minute)
	def(&s.cfg.Lease, 30*time.Second)
	def(&s.cfg.Poll, time.Second)
	return s, nil
}

// Option returns the revoke.Option that makes a Manager record, in the
// same atomic write as each of its revocations (revoke.WithOutbox), one
// outbox message per receiver, which this Sender delivers: a SET for each
// session the revocation ended. The Manager's store must be the Sender's
// and a store.RecordingStore.
func (s *Sender) Option() revoke.Option {
	return func(m *revoke.Manager) error {
		if m.Store() != store.SessionStore(s.st) {
			return errors.New("caep: the Manager and the Sender must share one store")
		}
		if err := revoke.WithOutbox(s.messages)(m); err != nil {
			return err
		}
		// Delivery starts at once rather than at the next poll.
		return revoke.OnRevoke(func(context.Context, revoke.Event) { s.wakeUp() })(m)
	}
}

// messages are the outbox messages of a revocation: one per receiver.
func (s *Sender) messages(userID string, c revoke.Cause, at time.Time) []store.OutboxMessage {
	payload, err := json.Marshal(outboxEvent{UserID: userID, Actor: c.Actor, Reason: c.Reason, At: at})
	if err != nil {
		return nil // a struct of strings and a time always encodes
	}
	msgs := make([]store.OutboxMessage, 0, len(s.receivers))
	for name := range s.receivers {
		msgs = append(msgs, store.OutboxMessage{ID: newJTI(), Destination: name, Payload: payload, CreatedAt: at, NextAttempt: at})
	}
	return msgs
}

func (s *Sender) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers the outbox until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for s.deliverBatch(ctx) {
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-s.wake:
		}
	}
}

// deliverBatch delivers the messages due now and reports whether there may
// be more.
func (s *Sender) deliverBatch(ctx context.Context) bool {
	const batch = 32
	now := time.Now()
	msgs, err := s.st.LeaseOutbox(ctx, now, now.Add(s.cfg.Lease), batch)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "caep: read outbox", "err", err)
		}
		return false
	}
	for _, m := range msgs {
		if ctx.Err() != nil {
			return false
		}
		s.deliverOne(ctx, m)
	}
	return len(msgs) == batch
}

// deliverOne pushes the SETs of m to its receiver, one per session, and
// acknowledges m once none is left to retry. A SET the receiver refused for
// good is dropped; one that failed otherwise makes the whole message due
// again after a backoff, and its SETs delivered already go again, under
// the same jti.
func (s *Sender) deliverOne(ctx context.Context, m store.OutboxMessage) {
	r, ok := s.receivers[m.Destination]
	if !ok {
		s.cfg.Logger.WarnContext(ctx, "caep: outbox message for a receiver no longer configured; dropped", "receiver", m.Destination, "message", m.ID)
		s.ack(ctx, m)
		return
	}
	var ev outboxEvent
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "caep: unreadable outbox message; dropped", "message", m.ID, "err", err)
		s.ack(ctx, m)
		return
	}
	for _, set := range setsOf(m, ev) {
		err := s.push(ctx, r, set.jti, set.sessionID, ev)
		var perm *permanentError
		switch {
		case err == nil:
		case errors.As(err, &perm):
			s.cfg.Logger.ErrorContext(ctx, "caep: receiver refused a SET; dropped", "receiver", r.Name, "jti", set.jti, "err", err)
		default:
			next := time.Now().Add(s.backoff(m.Attempts))
			s.cfg.Logger.WarnContext(ctx, "caep: delivery failed; will retry", "receiver", r.Name, "jti", set.jti,
				"attempt", m.Attempts+1, "next", next, "err", err)
			if err := s.st.RetryOutbox(context.WithoutCancel(ctx), m.ID, next); err != nil {
				s.cfg.Logger.ErrorContext(ctx, "caep: record retry", "message", m.ID, "err", err)
			}
			return
		}
	}
	s.ack(ctx, m)
}

// pending is one SET of an outbox message: the session it reports and its
// jti.
type pending struct{ jti, sessionID string }

// setsOf returns the SETs of m, sorted by session: one per session it
// names, each with a jti derived from the message's id and the session's,
// so that a redelivery carries the same jti.
func setsOf(m store.OutboxMessage, ev outboxEvent) []pending {
	if len(m.SessionIDs) == 0 {
		if ev.SessionID == "" {
			return nil
		}
		return []pending{{jti: m.ID, sessionID: ev.SessionID}}
	}
	ids := slices.Sorted(slices.Values(m.SessionIDs))
	out := make([]pending, 0, len(ids))
	for _, sid := range slices.Compact(ids) {
		out = append(out, pending{jti: jtiOf(m.ID, sid), sessionID: sid})
	}
	return out
}

// jtiOf is the jti of the SET of session sid in the outbox message msgID:
// 128 bits of their SHA-256, in hex.
func jtiOf(msgID, sid string) string {
	h := sha256.Sum256([]byte(msgID + "\x00" + sid))
	return hex.EncodeToString(h[:16])
}

func (s *Sender) ack(ctx context.Context, m store.OutboxMessage) {
	if err := s.st.AckOutbox(context.WithoutCancel(ctx), m.ID); err != nil {
		// Delivered again after the lease: duplicates, same jtis.
		s.cfg.Logger.ErrorContext(ctx, "caep: ack outbox message", "message", m.ID, "err", err)
	}
}

// backoff is the wait after attempts+1 failures: doubling from MinBackoff
// to MaxBackoff, with up to a quarter of jitter so receivers coming back
// are not hit all at once.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 0; i < attempts && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d - time.Duration(mrand.Int64N(int64(d)/4+1))
}

// permanentError is a refusal that a retry of the same SET cannot change.
type permanentError struct {
	status int
	body   string
}

func (e *permanentError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// push signs the SET of session sid in ev now (a fresh iat) and posts it.
func (s *Sender) push(ctx context.Context, r PushReceiver, jti, sid string, ev outboxEvent) error {
	set, err := s.set(ctx, r, jti, sid, ev)
	if err != nil {
		return err
	}
	raw, err := s.cfg.Signer.Sign(set)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(raw))
	if err != nil {
		return &permanentError{body: err.Error()}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusBadRequest && !bytes.Contains(body, []byte(ErrInvalidKey)):
		// A refused SET stays refused, a replayed jti included (it
		// arrived before). invalid_key may be a receiver's stale cache
		// of our keys, so that one is retried.
		return &permanentError{status: resp.StatusCode, body: string(body)}
	}
	return fmt.Errorf("status %d: %s", resp.StatusCode, body)
}

// set builds the session-revoked SET of session sid in ev for r.
func (s *Sender) set(ctx context.Context, r PushReceiver, jti, sid string, ev outboxEvent) (SET, error) {
	user := &Subject{Format: r.Format}
	switch r.Format {
	case FormatOpaque:
		user.ID = ev.UserID
	case FormatIssSub:
		user.Issuer, user.Sub = s.cfg.Issuer, ev.UserID
	case FormatEmail:
		email, err := s.cfg.EmailOf(ctx, ev.UserID)
		if err != nil {
			return SET{}, fmt.Errorf("email of %s: %w", ev.UserID, err)
		}
		user.Email = email
	}
	payload, err := json.Marshal(SessionRevoked{
		EventTimestamp:   ev.At.Unix(),
		InitiatingEntity: initiatingEntity(ev.Actor),
		ReasonAdmin:      map[string]string{"en": ev.Reason},
	})
	if err != nil {
		return SET{}, err
	}
	return SET{
		Issuer:   s.cfg.Issuer,
		Audience: jwt.Audience{r.Audience},
		IssuedAt: jwt.NewNumericDate(time.Now()),
		ID:       jti,
		Subject: &Subject{Format: FormatComplex, User: user,
			Session: &Subject{Format: FormatOpaque, ID: sid}},
		Events: map[string]json.RawMessage{EventSessionRevoked: payload},
	}, nil
}

// initiatingEntity maps a revoke actor to CAEP's initiating_entity.
func initiatingEntity(actor string) string {
	switch {
	case strings.HasPrefix(actor, "user:"):
		return "user"
	case strings.HasPrefix(actor, "admin:"), strings.HasPrefix(actor, "admin-token:"):
		return "admin"
	case actor == revoke.ActorSystem:
		return "system"
	}
	return "policy" // a provider, a cap, the app's own rules
}

// newJTI returns 128 random bits in hex: an outbox message's id.
func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
