package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// syncBuffer is a log destination the cleanup goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCleanupRuns checks the background cleanup: it runs on its interval
// with the time minus the retention, logs what it deleted and what failed,
// and Stop ends a run in progress and waits for it.
func TestCleanupRuns(t *testing.T) {
	var logs syncBuffer
	settings := store.Settings{
		CleanupInterval: time.Millisecond,
		Retention:       time.Hour,
		Logger:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	cuts := make(chan time.Time, 100)
	started := time.Now()
	runs := 0
	c := store.StartCleanup("fakestore", settings, func(ctx context.Context, cut time.Time) (int, bool, error) {
		runs++
		select {
		case cuts <- cut:
		default:
		}
		switch runs {
		case 1:
			return 3, true, nil
		case 2:
			return 0, false, nil
		case 3:
			return 0, true, errors.New("disk on fire")
		}
		<-ctx.Done() // a long run, which Stop cuts short
		return 1, true, ctx.Err()
	}, "table", "t")

	cut := <-cuts
	if d := started.Add(-time.Hour).Sub(cut); d > 0 || d < -time.Minute {
		t.Errorf("cut %v, want about an hour before %v", cut, started)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "disk on fire") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged; logs: %s", logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond) // into the long run
	c.Stop()
	select {
	case <-c.Done():
	default:
		t.Fatal("Stop returned before the cleanup did")
	}
	c.Stop() // again: returns at once

	out := logs.String()
	for _, want := range []string{
		`msg="fakestore: cleanup" table=t deleted=3`,
		`msg="fakestore: cleanup skipped: another instance is running it" table=t`,
		`msg="fakestore: cleanup failed" table=t err="disk on fire"`,
		`msg="fakestore: cleanup" table=t deleted=1`, // cut short, but the row is gone
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	if strings.Count(out, "cleanup failed") != 1 {
		t.Errorf("the run Stop cut short logged a failure:\n%s", out)
	}
}

// TestCleanupOff checks that a zero interval starts nothing.
func TestCleanupOff(t *testing.T) {
	c := store.StartCleanup("fakestore", store.Settings{Logger: slog.Default()}, func(context.Context, time.Time) (int, bool, error) {
		t.Error("a cleanup that is off ran")
		return 0, true, nil
	})
	select {
	case <-c.Done():
	default:
		t.Error("a cleanup that is off is not done")
	}
	c.Stop()
}

// TestDeleteInBatches checks the batch loop: it stops at the first batch
// short of the limit, gives each batch a deadline, and returns what it
// deleted so far with the error of a failing batch or an ended ctx.
func TestDeleteInBatches(t *testing.T) {
	ctx := context.Background()
	sizes := []int{5, 5, 2, 5}
	calls := 0
	n, err := store.DeleteInBatches(ctx, time.Minute, 5, func(ctx context.Context) (int, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a batch without a deadline")
		}
		calls++
		return sizes[calls-1], nil
	})
	if n != 12 || err != nil || calls != 3 {
		t.Errorf("DeleteInBatches = %d, %v after %d batches; want 12, nil after 3", n, err, calls)
	}

	failure := errors.New("lost the connection")
	first := true
	n, err = store.DeleteInBatches(ctx, 0, 5, func(context.Context) (int, error) {
		if first {
			first = false
			return 5, nil
		}
		return 0, failure
	})
	if n != 5 || !errors.Is(err, failure) {
		t.Errorf("failing batch: %d, %v; want 5 and its error", n, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	n, err = store.DeleteInBatches(cctx, 0, 5, func(context.Context) (int, error) {
		cancel() // ends between this batch and the next
		return 5, nil
	})
	if n != 5 || !errors.Is(err, context.Canceled) {
		t.Errorf("ended ctx: %d, %v; want 5 and context.Canceled", n, err)
	}
}
