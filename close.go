package revoke

// Close gives up the Manager's part in reporting resolution and refusal
// counts: these are reported through a callback registered with the
// MeterProvider in New and shared by the Managers of that MeterProvider,
// and the last of them to close unregisters it, so that a MeterProvider
// outliving its Managers stops calling back into them. Until then the
// closed Manager's counts stay in the sums the others report. The Manager
// keeps working, but what it counts after Close may go unreported; the
// store is the caller's and stays open. Call Close when the Manager is done
// serving; calling it again does nothing.
func (m *Manager) Close() error {
	var err error
	m.closeOnce.Do(func() { err = m.tel.counts.release() })
	return err
}
