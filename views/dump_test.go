package views

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDumpPages(t *testing.T) {
	dir := os.Getenv("VIEWS_DUMP")
	if dir == "" {
		t.Skip("set VIEWS_DUMP=dir to write every page as HTML")
	}
	for name, c := range allPages() {
		_, html := render(t, c)
		if err := os.WriteFile(filepath.Join(dir, name+".html"), []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
