package redisstore

import "github.com/revokehq/revoke/store"

var _ store.SystemNamer = (*Store)(nil)

// SystemName implements store.SystemNamer: metrics name the backend
// "redis", as OpenTelemetry's db.system.name does.
func (s *Store) SystemName() string { return "redis" }
