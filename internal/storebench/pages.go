package storebench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

// ListUser is the user of the list benchmarks.
const ListUser = "user-with-history"

// OldRows is how many revoked and expired sessions the list benchmarks'
// user has: someone who signs in and out all day, whose rows the store
// keeps for the retention period.
const OldRows = 20_000

// ListFixture returns the sessions of ListUser as Create would store them
// at now: old ones (half revoked, half expired, in turn, created over the
// last days) and then live active ones, the newest, and the token of the
// last, which the benchmark lists as. A backend stores them however it
// does fastest.
func ListFixture(now time.Time, old, live int) (sessions []store.Session, token string) {
	now = now.Truncate(time.Microsecond)
	const agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	for i := range old + live {
		token = store.NewID() + store.NewID()[:8] // base64url characters, long enough
		s := store.Session{
			ID: store.NewID(), UserID: ListUser, TokenHash: revoke.HashToken(token),
			CreatedAt:  now.Add(-time.Duration(old+live-i) * 10 * time.Second),
			LastSeenAt: now, ExpiresAt: now.Add(revoke.DefaultLifetime), IdleExpiresAt: now.Add(revoke.DefaultIdleTimeout),
			IP: "203.0.113.7", UserAgent: agent,
		}
		if i < old {
			if i%2 == 0 {
				s.RevokedAt, s.RevokeReason = now.Add(-time.Minute), revoke.ReasonLogout
			} else {
				s.IdleExpiresAt = now.Add(-time.Minute)
			}
		}
		sessions = append(sessions, s)
	}
	return sessions, token
}

// countingWriter is a ResponseWriter that keeps nothing but the size of
// the body.
type countingWriter struct {
	h      http.Header
	n      int
	status int
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
func (w *countingWriter) WriteHeader(status int) { w.status = status }

// ListMySessions serves GET /auth/sessions as the session of token, once
// per iteration, through the handler of m, and reports the size of the
// response body as resp-B/op.
func ListMySessions(b *testing.B, m *revoke.Manager, token string) {
	h, err := handlers.New(m, handlers.WithoutRateLimit())
	if err != nil {
		b.Fatal(err)
	}
	handler := h.ListMySessions()
	r := httptest.NewRequest(http.MethodGet, "/auth/sessions", nil)
	r.Header.Set(revoke.HeaderName, token)
	w := &countingWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.n, w.status = 0, 0
		handler.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(w.n), "resp-B/op")
}

// ListEveryRow is what GET /auth/sessions did before it was paged, for
// comparison: it resolves the token, reads every row of the user with
// List, keeps the active ones and encodes them as JSON. It reports the
// size of the JSON as resp-B/op.
func ListEveryRow(b *testing.B, m *revoke.Manager, token string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		cur, err := m.Resolve(ctx, token)
		if err != nil {
			b.Fatal(err)
		}
		all, err := m.Store().List(ctx, cur.UserID)
		if err != nil {
			b.Fatal(err)
		}
		now := m.Now()
		active := []store.Session{}
		for _, s := range all {
			if s.ID != cur.ID && s.Active(now) {
				active = append(active, s)
			}
		}
		out, err := json.Marshal(active)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "resp-B/op")
}

// ListCases are the users the list benchmarks list the sessions of: one
// with OldRows old rows and 5 live sessions (the target: a page costs what
// 5 sessions do), and for comparison one with OldRows live ones (a full
// page of 250 of them).
var ListCases = []struct {
	Name      string
	Old, Live int
}{
	{"old-rows=20000", OldRows, 5},
	{"live=20000", 0, OldRows},
}

// ListSessions runs, for each of ListCases, ListMySessions ("page") and
// ListEveryRow ("list-every-row") on a Manager over the store that open
// returns with the sessions stored by seed.
func ListSessions(b *testing.B, open func(b *testing.B) store.SessionStore, seed func(b *testing.B, st store.SessionStore, sessions []store.Session)) {
	for _, c := range ListCases {
		b.Run(c.Name, func(b *testing.B) {
			st := open(b)
			sessions, token := ListFixture(time.Now(), c.Old, c.Live)
			seed(b, st, sessions)
			// Sessions were all just seen: no last-seen write happens during
			// the run.
			m, err := revoke.New(st, revoke.WithTouchInterval(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			b.Run("page", func(b *testing.B) { ListMySessions(b, m, token) })
			b.Run("list-every-row", func(b *testing.B) { ListEveryRow(b, m, token) })
		})
	}
}
