package doccheck

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Problem is a place where code drops an error.
type Problem struct {
	File string
	Line int
	Msg  string
}

// IgnoredErrors reports where the code on lines from to to (1-based,
// inclusive) of file, a compiled file of the module, drops an error: an
// error assigned to the blank identifier (_ := f(), x, _ := f(), _ = f()),
// or a call statement whose results include an error. It fails when the
// file's package does not type-check.
func (m *Module) IgnoredErrors(file string, from, to int) ([]Problem, error) {
	cp, err := m.check(file)
	if err != nil {
		return nil, err
	}
	f := cp.files[file]
	var problems []Problem
	report := func(n ast.Node, format string, args ...any) {
		problems = append(problems, Problem{File: file, Line: cp.fset.Position(n.Pos()).Line, Msg: fmt.Sprintf(format, args...)})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		if line := cp.fset.Position(n.Pos()).Line; line < from || line > to {
			// A node before the range may still enclose it.
			return cp.fset.Position(n.End()).Line >= from && line <= to
		}
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, i := range blankErrors(cp.info, n.Lhs, n.Rhs) {
				report(n, "the error of %s is assigned to _: handle it", types.ExprString(valueOf(n.Rhs, i)))
			}
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, name := range n.Names {
				lhs[i] = name
			}
			for _, i := range blankErrors(cp.info, lhs, n.Values) {
				report(n, "the error of %s is assigned to _: handle it", types.ExprString(valueOf(n.Values, i)))
			}
		case *ast.ExprStmt:
			call, ok := ast.Unparen(n.X).(*ast.CallExpr)
			if ok && returnsError(cp.info.TypeOf(call)) && !printing(cp.info, call) {
				report(n, "the error of %s is dropped: handle it", types.ExprString(call.Fun))
			}
		}
		return true
	})
	return problems, nil
}

// blankErrors returns the indexes of lhs that are the blank identifier and
// receive an error.
func blankErrors(info *types.Info, lhs, rhs []ast.Expr) []int {
	var idx []int
	for i, l := range lhs {
		id, ok := ast.Unparen(l).(*ast.Ident)
		if !ok || id.Name != "_" {
			continue
		}
		var t types.Type
		switch {
		case len(rhs) == len(lhs):
			t = info.TypeOf(rhs[i])
		case len(rhs) == 1:
			if tuple, ok := info.TypeOf(rhs[0]).(*types.Tuple); ok && i < tuple.Len() {
				t = tuple.At(i).Type()
			}
		}
		if isError(t) {
			idx = append(idx, i)
		}
	}
	return idx
}

// valueOf returns the expression that gives the i-th value of rhs.
func valueOf(rhs []ast.Expr, i int) ast.Expr {
	if len(rhs) == 1 {
		return rhs[0]
	}
	return rhs[i]
}

var errorType = types.Universe.Lookup("error").Type().Underlying().(*types.Interface)

func isError(t types.Type) bool {
	if t == nil {
		return false
	}
	if b, ok := t.(*types.Basic); ok && b.Kind() == types.UntypedNil {
		return false
	}
	return types.Implements(t, errorType)
}

func returnsError(t types.Type) bool {
	if tuple, ok := t.(*types.Tuple); ok {
		for v := range tuple.Variables() {
			if isError(v.Type()) {
				return true
			}
		}
		return false
	}
	return isError(t)
}

// printing reports whether call is one of fmt's Print and Fprint functions,
// whose errors every Go reader expects to go unchecked.
func printing(info *types.Info, call *ast.CallExpr) bool {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.Ident:
		id = fun
	default:
		return false
	}
	fn, ok := info.Uses[id].(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == "fmt" &&
		(strings.HasPrefix(fn.Name(), "Print") || strings.HasPrefix(fn.Name(), "Fprint"))
}

// checkedPackage is a type-checked compilation of a package.
type checkedPackage struct {
	fset  *token.FileSet
	files map[string]*ast.File
	info  *types.Info
}

// check type-checks the compilation file belongs to, with its imports read
// from the export data the go command builds for them.
func (m *Module) check(file string) (*checkedPackage, error) {
	host, ok := m.files[file]
	if !ok {
		return nil, fmt.Errorf("doccheck: %s is not a compiled file of the module", file)
	}
	variant := host.pkg
	args := []string{"-export", "-deps"}
	switch host.kind {
	case kindTest:
		variant = host.pkg + " [" + host.pkg + ".test]"
		args = append(args, "-test")
	case kindXTest:
		variant = host.pkg + "_test [" + host.pkg + ".test]"
		args = append(args, "-test")
	}
	if cp, ok := m.checked[variant]; ok {
		return cp, nil
	}
	pkgs, err := goList(m.dir, append(args, host.pkg)...)
	if err != nil {
		return nil, err
	}
	byPath := map[string]listedPackage{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	target, ok := byPath[variant]
	if !ok {
		return nil, fmt.Errorf("doccheck: go list did not list %s", variant)
	}

	cp := &checkedPackage{
		fset:  token.NewFileSet(),
		files: map[string]*ast.File{},
		info:  &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}},
	}
	var files []*ast.File
	for _, name := range target.GoFiles {
		path := filepath.Join(target.Dir, name)
		f, err := parser.ParseFile(cp.fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("doccheck: %w", err)
		}
		files = append(files, f)
		cp.files[path] = f
	}
	lookup := func(path string) (io.ReadCloser, error) {
		if mapped, ok := target.ImportMap[path]; ok {
			path = mapped
		}
		p, ok := byPath[path]
		if !ok || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	}
	conf := types.Config{Importer: importer.ForCompiler(cp.fset, "gc", lookup)}
	if _, err := conf.Check(target.ImportPath, cp.fset, files, cp.info); err != nil {
		return nil, fmt.Errorf("doccheck: type-checking %s: %w", variant, err)
	}
	m.checked[variant] = cp
	return cp, nil
}
