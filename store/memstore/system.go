package memstore

// SystemName names the backend for telemetry (see store.SystemNamer): it
// keeps the sessions in the process's memory.
func (s *Store) SystemName() string { return "memory" }
