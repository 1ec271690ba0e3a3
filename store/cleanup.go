package store

import (
	"context"
	"slices"
	"time"
)

// A CleanupRun deletes the sessions that are old at cut (see
// Cleaner.DeleteBefore) and returns how many it deleted. ran is false when
// it deleted nothing because another instance is doing the same work.
type CleanupRun func(ctx context.Context, cut time.Time) (n int, ran bool, err error)

// Cleanup is a backend's background cleanup: every CleanupInterval it
// deletes the sessions that have been old (Session.Old) for longer than the
// Retention. It is the only place a backend reads its own clock.
type Cleanup struct {
	stop context.CancelFunc
	done chan struct{}
}

// StartCleanup starts, on a goroutine of its own, the background cleanup
// that s asks for, which calls run and logs on s.Logger under name (the
// backend's package name), with attrs added to every line. With a zero
// s.CleanupInterval it starts nothing. The ctx of run ends when Stop is
// called; a run cut short that way logs what it deleted but no error.
func StartCleanup(name string, s Settings, run CleanupRun, attrs ...any) *Cleanup {
	c := &Cleanup{stop: func() {}, done: make(chan struct{})}
	if s.CleanupInterval <= 0 {
		close(c.done)
		return c
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go c.loop(ctx, name, s, run, attrs)
	return c
}

func (c *Cleanup) loop(ctx context.Context, name string, s Settings, run CleanupRun, attrs []any) {
	defer close(c.done)
	tick := time.NewTicker(s.CleanupInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cut := time.Now().Add(-s.Retention)
		n, ran, err := run(ctx, cut)
		if n > 0 {
			// Also when Stop cut the run short: the rows are gone.
			s.Logger.Debug(name+": cleanup", slices.Concat(attrs, []any{"deleted", n, "before", cut})...)
		}
		switch {
		case ctx.Err() != nil:
			return // an error now comes from Stop, not from the database
		case err != nil:
			s.Logger.Error(name+": cleanup failed", slices.Concat(attrs, []any{"err", err})...)
		case !ran:
			s.Logger.Debug(name+": cleanup skipped: another instance is running it", attrs...)
		}
	}
}

// Stop ends the background cleanup, cancelling a run in progress, and
// waits until it has returned. Calling it again, or on a Cleanup that
// started nothing, returns at once.
func (c *Cleanup) Stop() {
	c.stop()
	<-c.done
}

// Done is closed once the background cleanup has stopped, or at once when
// it never started.
func (c *Cleanup) Done() <-chan struct{} { return c.done }

// DeleteInBatches deletes old sessions in batches of at most limit, each its
// own short call bounded by timeout (see CallContext), so that a large
// cleanup holds the database's locks in short slices: it calls batch until
// one deletes fewer than limit, and returns how many they deleted in all.
// When ctx ends between batches, or a batch fails, it returns the count so
// far with the error.
func DeleteInBatches(ctx context.Context, timeout time.Duration, limit int, batch func(ctx context.Context) (int, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		bctx, cancel := CallContext(ctx, timeout)
		n, err := batch(bctx)
		cancel()
		total += n
		if err != nil || n < limit {
			return total, err
		}
	}
}
