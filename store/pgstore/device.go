package pgstore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.DeviceRecorder = (*Store)(nil)

// RecordDevice implements store.DeviceRecorder. A device it records is
// announced as an invalidation (store.Invalidator), so that a cache that
// holds the session without one reads it again rather than record it on
// every request.
func (s *Store) RecordDevice(ctx context.Context, id, ip, userAgent string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, s.q.recordDevice, id, ip, userAgent)
	if err != nil {
		return s.fail("record device", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	_, _, err = database{s}.Probe(ctx, id, time.Time{})
	return err
}
