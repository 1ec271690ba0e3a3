package memstore

import (
	"context"

	"github.com/revokehq/revoke/store"
)

var _ store.DeviceRecorder = (*Store)(nil)

// RecordDevice implements store.DeviceRecorder.
func (s *Store) RecordDevice(_ context.Context, id, ip, userAgent string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	p, ok := s.byID[id]
	if !ok {
		return store.ErrNotFound
	}
	if p.IP == "" && p.UserAgent == "" {
		p.IP, p.UserAgent = ip, userAgent
		s.invalidateLocked(id)
	}
	return nil
}
