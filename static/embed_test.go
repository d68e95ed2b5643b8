package static

import (
	"encoding/xml"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestEmbeddedFiles(t *testing.T) {
	cases := []struct {
		name     string
		contains []string
		minSize  int
	}{
		{"style.css", []string{"system-ui", ".table-wrap", "overflow-x: auto", "@media (max-width: 720px)", "text-overflow: ellipsis"}, 2000},
		{"htmx.min.js", []string{"var htmx=", `version:"2.`}, 40000},
		{"htmx.LICENSE", []string{"Zero-Clause BSD"}, 100},
		{"favicon.svg", []string{"<svg", "</svg>"}, 100},
		{"copy.js", []string{"data-copy", "clipboard", "copy-button"}, 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := fs.ReadFile(FS, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < c.minSize {
				t.Errorf("%d bytes, want at least %d", len(b), c.minSize)
			}
			for _, s := range c.contains {
				if !strings.Contains(string(b), s) {
					t.Errorf("lacks %q", s)
				}
			}
		})
	}
}

// TestNoExternalResources: the dashboard loads nothing from elsewhere.
func TestNoExternalResources(t *testing.T) {
	css, err := fs.ReadFile(FS, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`@import`, `url\(\s*['"]?(https?:)?//`, `@font-face`} {
		if regexp.MustCompile(re).Match(css) {
			t.Errorf("style.css matches %s", re)
		}
	}
	svg, err := fs.ReadFile(FS, "favicon.svg")
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		XMLName xml.Name
		Rects   []struct{} `xml:"rect"`
	}
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" || len(root.Rects) < 3 {
		t.Errorf("favicon.svg: %v, root %q, %d rects", err, root.XMLName.Local, len(root.Rects))
	}
	if strings.Contains(string(svg), "<script") || strings.Contains(string(svg), "href") {
		t.Error("favicon.svg should be plain shapes")
	}
}
