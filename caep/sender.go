package caep

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
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
// receiver, at least once, through the store's outbox.
type Sender struct {
	cfg       SenderConfig
	st        store.OutboxStore
	receivers map[string]PushReceiver
	wake      chan struct{}
}

// outboxEvent is the payload of an outbox message: the revocation of one
// session, which becomes a SET at delivery.
type outboxEvent struct {
	UserID    string    `json:"user_id"`
	SessionID string    `json:"session_id"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// NewSender returns a Sender on st's outbox.
func NewSender(st store.SessionStore, cfg SenderConfig) (*Sender, error) {
	ob, err := store.Outbox(st)
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

// OnRevoke is the hook to register with revoke.OnRevoke: it writes one
// outbox message per revoked session and receiver, all in one write,
// before the revocation call returns. A failed write is logged; the
// revocation stands.
func (s *Sender) OnRevoke(ctx context.Context, ev revoke.Event) {
	var msgs []store.OutboxMessage
	for _, sid := range ev.SessionIDs {
		payload, err := json.Marshal(outboxEvent{UserID: ev.UserID, SessionID: sid, Actor: ev.Actor, Reason: ev.Reason, At: ev.At})
		if err != nil {
			continue // a struct of strings and a time always encodes
		}
		for name := range s.receivers {
			msgs = append(msgs, store.OutboxMessage{ID: newJTI(), Destination: name, Payload: payload, CreatedAt: ev.At, NextAttempt: ev.At})
		}
	}
	if len(msgs) == 0 {
		return
	}
	if err := s.st.EnqueueOutbox(context.WithoutCancel(ctx), msgs); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "caep: revocation not recorded in the outbox; its events are lost",
			"user_id", ev.UserID, "sessions", len(ev.SessionIDs), "err", err)
		return
	}
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

func (s *Sender) deliverOne(ctx context.Context, m store.OutboxMessage) {
	r, ok := s.receivers[m.Destination]
	if !ok {
		s.cfg.Logger.WarnContext(ctx, "caep: outbox message for a receiver no longer configured; dropped", "receiver", m.Destination, "jti", m.ID)
		s.ack(ctx, m)
		return
	}
	err := s.push(ctx, r, m)
	var perm *permanentError
	switch {
	case err == nil:
		s.ack(ctx, m)
	case errors.As(err, &perm):
		s.cfg.Logger.ErrorContext(ctx, "caep: receiver refused a SET; dropped", "receiver", r.Name, "jti", m.ID, "err", err)
		s.ack(ctx, m)
	default:
		next := time.Now().Add(s.backoff(m.Attempts))
		s.cfg.Logger.WarnContext(ctx, "caep: delivery failed; will retry", "receiver", r.Name, "jti", m.ID,
			"attempt", m.Attempts+1, "next", next, "err", err)
		if err := s.st.RetryOutbox(context.WithoutCancel(ctx), m.ID, next); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "caep: record retry", "jti", m.ID, "err", err)
		}
	}
}

func (s *Sender) ack(ctx context.Context, m store.OutboxMessage) {
	if err := s.st.AckOutbox(context.WithoutCancel(ctx), m.ID); err != nil {
		// Delivered again after the lease: a duplicate, same jti.
		s.cfg.Logger.ErrorContext(ctx, "caep: ack outbox message", "jti", m.ID, "err", err)
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

// push signs m's SET now (a fresh iat, the message's id as jti) and posts it.
func (s *Sender) push(ctx context.Context, r PushReceiver, m store.OutboxMessage) error {
	var ev outboxEvent
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		return &permanentError{body: "unreadable outbox message: " + err.Error()}
	}
	set, err := s.set(ctx, r, m.ID, ev)
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

// set builds the session-revoked SET of ev for r.
func (s *Sender) set(ctx context.Context, r PushReceiver, jti string, ev outboxEvent) (SET, error) {
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
			Session: &Subject{Format: FormatOpaque, ID: ev.SessionID}},
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

// newJTI returns 128 random bits in hex: the outbox message's id and its
// SET's jti.
func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
