package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// TestCleanupRuns checks the background cleanup: it runs on its interval
// with the time minus the retention, logs what it deleted and what failed,
// and Stop ends a run in progress and waits for it.
func TestCleanupRuns(t *testing.T) {
	// Read only after Stop, which waits for the goroutine that writes it.
	var logs bytes.Buffer
	settings := store.Settings{
		CleanupInterval: time.Millisecond,
		Retention:       time.Hour,
		Logger:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	started := time.Now()
	var cut time.Time
	long := make(chan struct{}) // closed when the fourth run has begun
	runs := 0
	c := store.StartCleanup("fakestore", settings, func(ctx context.Context, at time.Time) (int, bool, error) {
		runs++
		switch runs {
		case 1:
			cut = at
			return 3, true, nil
		case 2:
			return 0, false, nil
		case 3:
			return 0, true, errors.New("disk on fire")
		}
		if runs == 4 {
			close(long)
		}
		<-ctx.Done() // a long run, which Stop cuts short
		return 1, true, ctx.Err()
	}, "table", "t")

	select {
	case <-long:
	case <-time.After(10 * time.Second):
		t.Fatal("the cleanup did not run four times")
	}
	c.Stop()
	select {
	case <-c.Done():
	default:
		t.Fatal("Stop returned before the cleanup did")
	}
	c.Stop() // again: returns at once

	if d := started.Add(-time.Hour).Sub(cut); d > 0 || d < -time.Minute {
		t.Errorf("cut %v, want about an hour before %v", cut, started)
	}
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
