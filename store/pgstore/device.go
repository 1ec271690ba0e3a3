package pgstore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.DeviceRecorder = (*Store)(nil)

// RecordDevice implements store.DeviceRecorder.
func (s *Store) RecordDevice(ctx context.Context, id, ip, userAgent string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, s.names.expand(`UPDATE {table} SET ip = $2, user_agent = $3
		WHERE id = $1 AND ip = '' AND user_agent = ''`), id, ip, userAgent)
	if err != nil {
		return s.fail("record device", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	_, _, err = database{s}.Probe(ctx, id, time.Time{})
	return err
}
