package doccheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is the main module of a directory as the go command sees it: its
// packages and the Go files each one compiles (build constraints applied,
// testdata and nested modules left out).
type Module struct {
	dir  string
	pkgs []listedPackage
	// files maps a compiled file's path to its package and kind.
	files map[string]hostFile
	// checked caches the type-checked packages, by variant.
	checked map[string]*checkedPackage
}

type listedPackage struct {
	Dir          string
	ImportPath   string
	Name         string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Export       string
	ImportMap    map[string]string
	ForTest      string
	Error        *struct{ Err string }
}

// fileKind says which compilation of a package a file belongs to.
type fileKind int

const (
	kindPackage fileKind = iota // the package itself
	kindTest                    // the package with its _test.go files
	kindXTest                   // the external _test package
)

type hostFile struct {
	pkg  string
	kind fileKind
}

// LoadModule lists the packages of the module in dir (go list ./...).
func LoadModule(dir string) (*Module, error) {
	pkgs, err := goList(dir, "./...")
	if err != nil {
		return nil, err
	}
	m := &Module{dir: dir, pkgs: pkgs, files: map[string]hostFile{}, checked: map[string]*checkedPackage{}}
	for _, p := range pkgs {
		if p.Error != nil {
			return nil, fmt.Errorf("doccheck: package %s: %s", p.ImportPath, p.Error.Err)
		}
		for kind, names := range [][]string{kindPackage: append(p.GoFiles, p.CgoFiles...), kindTest: p.TestGoFiles, kindXTest: p.XTestGoFiles} {
			for _, name := range names {
				m.files[filepath.Join(p.Dir, name)] = hostFile{pkg: p.ImportPath, kind: fileKind(kind)}
			}
		}
	}
	return m, nil
}

// Files returns every compiled Go file of the module, in a stable order, and
// the lines of each.
func (m *Module) Files() ([]string, map[string][]string, error) {
	var paths []string
	lines := map[string][]string{}
	for _, p := range m.pkgs {
		for _, names := range [][]string{p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles} {
			for _, name := range names {
				path := filepath.Join(p.Dir, name)
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, nil, err
				}
				paths = append(paths, path)
				lines[path] = strings.Split(string(b), "\n")
			}
		}
	}
	return paths, lines, nil
}

// goList runs go list -json in dir and decodes its packages.
func goList(dir string, args ...string) ([]listedPackage, error) {
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=Dir,ImportPath,Name,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,Export,ImportMap,ForTest,Error"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("doccheck: go list %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("doccheck: go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}
