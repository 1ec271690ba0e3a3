package revoke_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/memstore"
)

type otherKey struct{}

// TestSessionContext checks that the context carrying a session behaves as
// any derived context does: the session comes back out, the parent's values,
// deadline and cancellation pass through, and printing it shows no session.
func TestSessionContext(t *testing.T) {
	is := is.New(t)
	_, ok := revoke.FromContext(context.Background())
	is.True(!ok) // no session in a bare context

	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), otherKey{}, "kept"), deadline)
	cur := revoke.Current{Session: store.Session{ID: "s1", UserID: "alice-secret", TokenHash: [32]byte([]byte("hash-secret-hash-secret-hash-sec"))}, Source: revoke.SourceHeader}
	ctx := revoke.NewContext(parent, cur)

	got, ok := revoke.FromContext(ctx)
	is.True(ok)
	is.Equal(got.ID, "s1")
	is.Equal(got.Source, revoke.SourceHeader)
	is.Equal(ctx.Value(otherKey{}), "kept") // the parent's values
	d, ok := ctx.Deadline()
	is.True(ok && d.Equal(deadline)) // the parent's deadline
	is.NoErr(revoke.FailureReason(ctx))

	// A context derived from it still sees the session and is cancelled
	// with the parent.
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	_, ok = revoke.FromContext(child)
	is.True(ok)
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not reach the derived context")
	}
	is.True(errors.Is(child.Err(), context.Canceled))

	s := fmt.Sprint(ctx)
	is.True(!strings.Contains(s, "alice-secret") && !strings.Contains(s, "hash-secret")) // no session printed
}

// TestMiddlewareAnonymous checks what a handler sees for a request without
// any token: no session, and ErrNoSession as the reason.
func TestMiddlewareAnonymous(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New(), revoke.WithCookieKeys(testKey))
	is.NoErr(err)
	var (
		reached bool
		reason  error
	)
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		reached = true
		_, ok := revoke.FromContext(r.Context())
		is.True(!ok)
		reason = revoke.FailureReason(r.Context())
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	is.True(reached)
	is.True(errors.Is(reason, revoke.ErrNoSession))
	is.Equal(len(w.Result().Cookies()), 0) // nothing to expire
}
