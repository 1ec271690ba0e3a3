package redisstore

import (
	"context"

	"github.com/revokehq/revoke/store"
)

// RecordDevice implements store.DeviceRecorder, in one script.
func (s *Store) RecordDevice(ctx context.Context, id, ip, userAgent string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	n, err := database{s}.write(ctx, recordDeviceScript, id, ip, userAgent).Int64()
	if err != nil {
		return s.fail("record device", err)
	}
	if n < 0 {
		return store.ErrNotFound
	}
	return nil
}
