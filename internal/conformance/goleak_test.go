package conformance

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// moduleRoot returns the directory of the go.mod above the test's working
// directory (the package directory, under go test).
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the working directory")
		dir = parent
	}
}

// goPackageDirs returns every directory of the module that holds Go files,
// relative to root, mapped to whether it holds test files; testdata, hidden
// and _ directories and nested modules are left out, as the go tool does.
func goPackageDirs(t *testing.T, root string) map[string]bool {
	t.Helper()
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root {
				if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		dirs[rel] = dirs[rel] || strings.HasSuffix(name, "_test.go")
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// verifiesLeaks reports whether one of dir's test files has a TestMain that
// calls goleak.VerifyTestMain (under whatever name the file imports goleak).
func verifiesLeaks(t *testing.T, dir string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		goleakName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "go.uber.org/goleak" {
				goleakName = "goleak"
				if imp.Name != nil {
					goleakName = imp.Name.Name
				}
			}
		}
		if goleakName == "" {
			continue
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Name.Name != "TestMain" || fn.Body == nil {
				continue
			}
			found := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "VerifyTestMain" {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == goleakName {
						found = true
					}
				}
				return !found
			})
			if found {
				return true
			}
		}
	}
	return false
}

// TestEveryPackageChecksLeaks lists every package of the module and fails
// when one with tests has no TestMain calling goleak.VerifyTestMain, which
// is how the project proves that nothing outlives a test.
func TestEveryPackageChecksLeaks(t *testing.T) {
	root := moduleRoot(t)
	dirs := goPackageDirs(t, root)
	var lacking, untested []string
	for dir, hasTests := range dirs {
		switch {
		case !hasTests:
			untested = append(untested, dir)
		case !verifiesLeaks(t, filepath.Join(root, dir)):
			lacking = append(lacking, dir)
		}
	}
	sort.Strings(lacking)
	sort.Strings(untested)
	require.Contains(t, dirs, filepath.Join("internal", "conformance"), "the walk found this package")
	if len(untested) > 0 {
		t.Logf("packages without tests (nothing to check): %s", strings.Join(untested, ", "))
	}
	require.Empty(t, lacking, "packages with tests but no goleak.VerifyTestMain in a TestMain")
}

// TestVerifiesLeaksDetector checks the detector itself on small files.
func TestVerifiesLeaksDetector(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      bool
	}{
		{"goleak", `package p
import ("testing"; "go.uber.org/goleak")
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }`, true},
		{"renamed import", `package p
import ("testing"; leak "go.uber.org/goleak")
func TestMain(m *testing.M) { leak.VerifyTestMain(m, leak.IgnoreCurrent()) }`, true},
		{"no TestMain", `package p
import ("testing"; "go.uber.org/goleak")
func TestX(t *testing.T) { goleak.VerifyNone(t) }`, false},
		{"TestMain without goleak", `package p
import ("os"; "testing")
func TestMain(m *testing.M) { os.Exit(m.Run()) }`, false},
		{"another package's VerifyTestMain", `package p
import ("testing"; goleak "example.com/notgoleak")
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(tc.src), 0o600))
			require.Equal(t, tc.want, verifiesLeaks(t, dir))
		})
	}
}
