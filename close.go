package revoke

// Close unregisters the callback through which the Manager reports its
// resolution and refusal counts (registered with the MeterProvider in New),
// so that a MeterProvider outliving the Manager stops calling it. The
// Manager keeps working, its counts no longer reported; the store is the
// caller's and stays open. Call it when the Manager is done serving;
// calling it again does nothing.
func (m *Manager) Close() error {
	var err error
	m.closeOnce.Do(func() { err = m.tel.counts.unregister() })
	return err
}
