package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// dbFileMode is the mode of a SQLite file the demo creates: its sessions
// hold token hashes, user ids, addresses and user agents, none of them for
// other users of the machine. SQLite gives the -wal and -shm files it makes
// beside it the mode of the database file.
const dbFileMode = 0o600

// createDBFile creates the SQLite file at path with dbFileMode unless it
// exists; an existing one that others may read is kept as it is, with a
// warning. It reports whether it created the file, so that a failed open
// can remove it again.
func createDBFile(path string, logger *slog.Logger) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, dbFileMode)
	if err == nil {
		return true, f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the SQLite file is readable or writable by other users; restrict it with chmod 600", "path", path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
	return false, nil
}
