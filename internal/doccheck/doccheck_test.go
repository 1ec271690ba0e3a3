package doccheck_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/internal/doccheck"
)

func TestGoBlocks(t *testing.T) {
	is := is.New(t)
	md := strings.Join([]string{
		"# Title",           // 1
		"",                  // 2
		"```go",             // 3
		"",                  // 4
		"x := 1",            // 5
		"```",               // 6
		"```",               // 7: a block of no language
		"go run .",          // 8
		"```",               // 9
		"- a list item:",    // 10
		"",                  // 11
		"  ```go",           // 12
		"  if err != nil {", // 13
		"  \treturn err",    // 14
		"  }",               // 15
		"  ```",             // 16
		"```sh",             // 17
		"echo",              // 18
		"```",               // 19
	}, "\n")
	blocks := doccheck.GoBlocks(md)
	is.Equal(len(blocks), 2)
	is.Equal(blocks[0], doccheck.Block{Line: 5, Lines: []string{"x := 1"}}) // the leading blank line trimmed
	is.Equal(blocks[1], doccheck.Block{Line: 13, Lines: []string{"if err != nil {", "\treturn err", "}"}})
}

func TestFind(t *testing.T) {
	is := is.New(t)
	files := map[string][]string{
		"a.go": {"package a", "", "func f() error {", "\tif err := g(); err != nil {", "\t\treturn err", "\t}", "", "\treturn nil", "}"},
	}
	paths := []string{"a.go"}
	find := func(lines ...string) (doccheck.Match, bool) {
		return doccheck.Find(doccheck.Block{Line: 1, Lines: lines}, paths, files)
	}

	m, ok := find("if err := g(); err != nil {", "\treturn err", "}", "", "return nil")
	is.True(ok) // one tab less than the file, blank line kept
	is.Equal(m, doccheck.Match{File: "a.go", Line: 4})

	_, ok = find("if err := g(); err != nil {", "return err") // the inner line loses its own indentation
	is.True(!ok)
	_, ok = find("if err := g(); err != nil {", "\treturn err", "}", "return nil") // a blank line left out
	is.True(!ok)
	_, ok = find("\t\t\tif err := g(); err != nil {") // more indented than the file
	is.True(!ok)
	_, ok = find("return err // changed")
	is.True(!ok)
}

// TestIgnoredErrors: every way of dropping an error is reported, on its
// line and only within the range asked for; the idioms are not.
func TestIgnoredErrors(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	write := func(name, text string) {
		is.NoErr(os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("m.go", `package m

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

func Drops(w io.Writer, m map[string]int) {
	_, _ = strconv.Atoi("1")        // 11: the error to _
	n, _ := strconv.Atoi("2")       // 12
	f, _ := os.Open("x")            // 13
	_ = f.Close()                   // 14
	f.Close()                       // 15: a call statement
	var _ = os.Remove("x")          // 16
	var e error = nil
	_ = e                           // 18
	fmt.Fprintln(w, n)              // printing: allowed
	defer f.Close()                 // deferred: allowed
	_, ok := m["k"]                 // not an error
	_ = ok
	if err := os.Remove("x"); err != nil {
		return
	}
	func() { os.Remove("y") }()     // 26: inside a closure
}

func Outside() { os.Remove("z") } // 29: outside the range asked for
`)
	write("m_test.go", `package m_test

import "os"

func helper() { os.Remove("t") } // 5: in the external test package
`)
	mod, err := doccheck.LoadModule(dir)
	is.NoErr(err)
	lines := func(file string, from, to int) []int {
		problems, err := mod.IgnoredErrors(filepath.Join(dir, file), from, to)
		is.NoErr(err)
		var got []int
		for _, p := range problems {
			is.True(p.Msg != "")
			got = append(got, p.Line)
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
	is.Equal(lines("m.go", 10, 27), []int{11, 12, 13, 14, 15, 16, 18, 26})
	is.Equal(lines("m.go", 29, 29), []int{29})
	is.Equal(lines("m_test.go", 1, 5), []int{5})

	_, err = mod.IgnoredErrors(filepath.Join(dir, "other.go"), 1, 1)
	is.True(err != nil) // not a file of the module
}

// TestIgnoredErrorsTypeError: a file that does not type-check fails the
// check rather than passing it.
func TestIgnoredErrorsTypeError(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	is.NoErr(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.26\n"), 0o644))
	is.NoErr(os.WriteFile(filepath.Join(dir, "m.go"), []byte("package m\n\nfunc F() { undefined() }\n"), 0o644))
	mod, err := doccheck.LoadModule(dir)
	is.NoErr(err)
	_, err = mod.IgnoredErrors(filepath.Join(dir, "m.go"), 1, 3)
	is.True(err != nil)
}
