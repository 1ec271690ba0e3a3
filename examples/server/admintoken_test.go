package main

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestAdminTokenOnTerminalOnly: a generated admin token is shown once on a
// terminal and never written to the structured log; on anything else it is
// not shown at all, and the log says how to set one.
func TestAdminTokenOnTerminalOnly(t *testing.T) {
	const token = "GENERATEDTOKEN0123456789"
	made := config{adminToken: token, adminTokenMade: true}
	for _, tc := range []struct {
		name      string
		cfg       config
		terminal  bool
		shown     bool
		inLogText string
	}{
		{"generated, on a terminal", made, true, true, ""},
		{"generated, stdout a file or pipe", made, false, false, "set " + envAdminToken},
		{"configured", config{adminToken: token}, true, false, "read from " + envAdminToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var out, log bytes.Buffer
			showAdminToken(tc.cfg, slog.New(slog.NewTextHandler(&log, nil)), &out, tc.terminal)
			is.Equal(strings.Count(out.String(), token), map[bool]int{true: 1}[tc.shown])
			is.True(!strings.Contains(log.String(), token)) // never in the log
			is.True(strings.Contains(log.String(), tc.inLogText))
		})
	}
}

func TestIsTerminal(t *testing.T) {
	is := is.New(t)
	f, err := os.Create(t.TempDir() + "/out")
	is.NoErr(err)
	defer f.Close()
	pr, pw, err := os.Pipe()
	is.NoErr(err)
	defer pr.Close()
	defer pw.Close()
	is.True(!isTerminal(f))               // a file
	is.True(!isTerminal(pw))              // a pipe
	is.True(!isTerminal(&bytes.Buffer{})) // not a file at all
}
