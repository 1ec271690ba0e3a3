//go:build unix

package main

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
)

// TestDBFilePrivate: the SQLite file the demo creates, and the -wal and
// -shm files beside it, are for their owner only, whatever the umask lets
// through.
func TestDBFilePrivate(t *testing.T) {
	is := is.New(t)
	old := syscall.Umask(0o022) // the usual one, which leaves files world-readable
	defer syscall.Umask(old)
	db := filepath.Join(t.TempDir(), "demo.db")
	r := startRun(t, []string{"-db", db}, env(envPassword, testPassword))
	newClient(t, r.base).login("alice", testPassword) // a write: the WAL is in use

	for _, path := range []string{db, db + "-wal", db + "-shm"} {
		fi, err := os.Stat(path)
		is.NoErr(err)
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %#o, want none for group and others", filepath.Base(path), perm)
		}
	}
	r.stop(t)
}

// TestDBFileExisting: an existing file is opened as it is; one that others
// can read is named in a warning.
func TestDBFileExisting(t *testing.T) {
	is := is.New(t)
	db := filepath.Join(t.TempDir(), "demo.db")
	is.NoErr(os.WriteFile(db, nil, 0o644))
	is.NoErr(os.Chmod(db, 0o644)) // whatever the umask
	var log bytes.Buffer
	created, err := createDBFile(db, slog.New(slog.NewTextHandler(&log, nil)))
	is.NoErr(err)
	is.True(!created)
	is.True(strings.Contains(log.String(), "chmod 600"))
	fi, err := os.Stat(db)
	is.NoErr(err)
	is.Equal(fi.Mode().Perm(), fs.FileMode(0o644)) // left as it was

	_, err = createDBFile(filepath.Join(t.TempDir(), "missing", "demo.db"), slog.New(slog.DiscardHandler))
	is.True(err != nil) // a directory that does not exist
}
