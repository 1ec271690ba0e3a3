package store

import "context"

// DeviceRecorder is implemented by stores that can record, once, where a
// session is used from, for sessions created without a device: scs creates
// its sessions in a commit that has no request to read one from, so the
// Manager records the device the first time it resolves such a session.
type DeviceRecorder interface {
	// RecordDevice sets the IP and UserAgent of the session with the given
	// id when both are empty, and leaves a session that has either as it
	// is. An unknown id gives ErrNotFound.
	RecordDevice(ctx context.Context, id, ip, userAgent string) error
}
