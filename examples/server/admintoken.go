package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"
)

// showAdminToken tells the operator the admin API token. A generated one is
// shown only on a terminal, where a person reads it, and never to the
// structured log: a file or pipe on stdout is likely a log that is kept or
// shipped elsewhere, and the token grants every admin API.
func showAdminToken(cfg config, logger *slog.Logger, out io.Writer, terminal bool) {
	switch {
	case !cfg.adminTokenMade:
		logger.Info("admin API token read from " + envAdminToken)
	case terminal:
		fmt.Fprintf(out, "Admin API token (generated, shown once; set %s to choose one): %s\n", envAdminToken, cfg.adminToken)
	default:
		logger.Warn("an admin API token was generated but is shown on a terminal only, and stdout is not one: set " + envAdminToken + " to use the admin APIs")
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
