package revoke_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revokehq/revoke/internal/doccheck"
)

// readmeModules are the modules whose compiled files README.md may quote:
// this one, and examples/chi, a module of its own to keep chi out of this
// go.mod.
var readmeModules = []string{".", "examples/chi"}

// TestREADMESnippets: every ```go block of README.md is a run of lines of
// a Go file that a module of the repository compiles (an Example function
// or an example program), and drops no error. A snippet that drifted from
// the API, or that a reader would copy with a silent failure in it, fails
// here.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := doccheck.GoBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("README.md has no go block")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	files := map[string][]string{}
	moduleOf := map[string]*doccheck.Module{}
	for _, dir := range readmeModules {
		mod, err := doccheck.LoadModule(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		ps, fs, err := mod.Files()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			paths = append(paths, p)
			files[p] = fs[p]
			moduleOf[p] = mod
		}
	}
	for _, b := range blocks {
		m, ok := doccheck.Find(b, paths, files)
		if !ok {
			t.Errorf("README.md:%d: this go block is in no compiled Go file of the repository; copy it from an Example function or an example program:\n%s",
				b.Line, strings.Join(b.Lines, "\n"))
			continue
		}
		problems, err := moduleOf[m.File].IgnoredErrors(m.File, m.Line, m.Line+len(b.Lines)-1)
		if err != nil {
			t.Errorf("README.md:%d: %v", b.Line, err)
			continue
		}
		rel, err := filepath.Rel(root, m.File)
		if err != nil {
			rel = m.File
		}
		for _, p := range problems {
			t.Errorf("README.md:%d (%s:%d): %s", b.Line+p.Line-m.Line, rel, p.Line, p.Msg)
		}
	}
}
