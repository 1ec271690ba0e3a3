package sqlitestore

import (
	"context"
	"time"

	"github.com/revokehq/revoke/store"
)

var _ store.DeviceRecorder = (*Store)(nil)

// sqlRecordDevice runs once per session at most, so it is not prepared.
const sqlRecordDevice = `UPDATE sessions SET ip = ?2, user_agent = ?3
	WHERE id = ?1 AND ip = '' AND user_agent = ''`

// RecordDevice implements store.DeviceRecorder.
func (s *Store) RecordDevice(ctx context.Context, id, ip, userAgent string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := store.CallContext(ctx, s.callTimeout)
	defer cancel()
	res, err := s.w.ExecContext(ctx, sqlRecordDevice, id, ip, userAgent)
	if err != nil {
		return s.fail("record device", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("record device", err)
	} else if n > 0 {
		return nil
	}
	_, _, err = database{s}.Probe(ctx, id, time.Time{})
	return err
}
