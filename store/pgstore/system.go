package pgstore

// SystemName names the backend for telemetry (see store.SystemNamer), as
// OpenTelemetry's db.system.name spells PostgreSQL.
func (s *Store) SystemName() string { return "postgresql" }
