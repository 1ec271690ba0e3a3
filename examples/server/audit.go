package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/revokehq/revoke"
)

// Kinds of audit entries.
const (
	kindRevoke      = "sessions_revoked"     // an OnRevoke event
	kindOAuthTokens = "oauth_tokens_revoked" // the OAuth token revoker ran
	kindDevices     = "devices_forgotten"    // the device forgetter ran
)

// maxAudit bounds the in-memory audit log; older entries are dropped.
const maxAudit = 500

// auditEntry is one recorded action.
type auditEntry struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	UserID     string    `json:"userId"`
	Actor      string    `json:"actor,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	SessionIDs []string  `json:"sessionIds,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// auditLog keeps what the demo's revocation hooks did, in memory, so that
// every revocation option has a visible effect (GET /demo/audit and the
// page). A real app would write these to its audit trail.
type auditLog struct {
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	entries []auditEntry
}

func newAuditLog(logger *slog.Logger) *auditLog {
	return &auditLog{logger: logger, now: time.Now}
}

func (l *auditLog) add(e auditEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) == maxAudit {
		l.entries = slices.Delete(l.entries, 0, 1)
	}
	l.entries = append(l.entries, e)
}

// list returns the entries, newest first.
func (l *auditLog) list() []auditEntry {
	l.mu.Lock()
	out := slices.Clone(l.entries)
	l.mu.Unlock()
	slices.Reverse(out)
	return out
}

// onRevoke is the Manager's OnRevoke hook: one audit line per revocation.
func (l *auditLog) onRevoke(ctx context.Context, ev revoke.Event) {
	l.add(auditEntry{At: ev.At, Kind: kindRevoke, UserID: ev.UserID, Actor: ev.Actor, Reason: ev.Reason, SessionIDs: ev.SessionIDs})
	l.logger.InfoContext(ctx, "audit: sessions revoked",
		"user", ev.UserID, "actor", ev.Actor, "reason", ev.Reason, "count", len(ev.SessionIDs),
		"sessions", ev.SessionIDs, "oauth_tokens_revoked", ev.OAuthTokensRevoked, "devices_forgotten", ev.DevicesForgotten)
}

// revokeOAuthTokens is the demo's revoke.OAuthTokenRevoker. The demo issues
// no OAuth tokens; a real app would revoke the user's grants at its
// authorization server here (RFC 7009).
func (l *auditLog) revokeOAuthTokens(ctx context.Context, userID string) error {
	const detail = "revoked the user's OAuth access and refresh tokens"
	l.add(auditEntry{At: l.now(), Kind: kindOAuthTokens, UserID: userID, Detail: detail})
	l.logger.InfoContext(ctx, "audit: "+detail, "user", userID)
	return nil
}

// forgetDevices is the demo's revoke.DeviceForgetter. A real app would drop
// the user's trusted devices and remembered second factors here.
func (l *auditLog) forgetDevices(ctx context.Context, userID string) error {
	const detail = "forgot the user's trusted devices and remembered factors"
	l.add(auditEntry{At: l.now(), Kind: kindDevices, UserID: userID, Detail: detail})
	l.logger.InfoContext(ctx, "audit: "+detail, "user", userID)
	return nil
}
