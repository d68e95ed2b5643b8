package docs

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "layerwise"

// layers reads the ```layers block of ARCHITECTURE.md: package paths by
// layer, top first, and the test-only packages.
func layers(t *testing.T) (layer map[string]int, testOnly map[string]bool) {
	t.Helper()
	f, err := os.Open("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layer, testOnly = map[string]int{}, map[string]bool{}
	in, n := false, 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```layers":
			in = true
		case in && line == "```":
			return layer, testOnly
		case in && strings.HasPrefix(line, "test-only:"):
			for _, p := range strings.Fields(strings.TrimPrefix(line, "test-only:")) {
				testOnly[p] = true
			}
		case in:
			for _, p := range strings.Fields(line) {
				layer[p] = n
			}
			n++
		}
	}
	t.Fatal("ARCHITECTURE.md has no ```layers block")
	return nil, nil
}

// imports are the repository's packages each production package imports,
// read from the source (test files left out), keyed by path relative to
// the module ("main" for the root).
func imports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if file.Name.Name == "main" && filepath.Dir(path) != ".." {
			return nil // a tool's own main (e.g. a generator under internal/)
		}
		rel, _ := filepath.Rel("..", filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if pkg == "." {
			pkg = "main"
		}
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module || strings.HasPrefix(p, module+"/") {
				out[pkg][strings.TrimPrefix(strings.TrimPrefix(p, module), "/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportsFollowTheDocumentedDirection holds the code to the layers of
// ARCHITECTURE.md.
func TestImportsFollowTheDocumentedDirection(t *testing.T) {
	layer, testOnly := layers(t)
	for pkg, deps := range imports(t) {
		if strings.Contains(pkg, "/internal/") {
			continue // internal tools sit beside their package
		}
		from, ok := layer[pkg]
		if !ok && !testOnly[pkg] {
			t.Errorf("package %s is in no layer of ARCHITECTURE.md: add it where it belongs", pkg)
			continue
		}
		for dep := range deps {
			switch to, listed := layer[dep]; {
			case testOnly[dep] && !testOnly[pkg]:
				t.Errorf("%s imports %s, which is for tests only", pkg, dep)
			case testOnly[pkg]:
			case !listed:
				t.Errorf("%s imports %s, which is in no layer of ARCHITECTURE.md", pkg, dep)
			case to <= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point to a lower layer (ARCHITECTURE.md)", pkg, from, dep, to)
			}
		}
	}
}
