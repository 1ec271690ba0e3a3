package sqlitestore

// SystemName names the backend for telemetry (see store.SystemNamer), as
// OpenTelemetry's db.system.name spells SQLite.
func (s *Store) SystemName() string { return "sqlite" }
