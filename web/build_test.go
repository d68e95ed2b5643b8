package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"layerwise/buildinfo"
)

// The running build is named in every page's footer and in /metrics.
func TestBuildInfoInFooterAndMetrics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false)
	b := buildinfo.Read()
	c := ts.client(t)
	page := ts.get(t, c, "/", http.StatusOK)
	want := fmt.Sprintf(`<p class="build" title="commit %s, %s, %s">Layerwise %s · commit %s</p>`,
		b.Commit, b.Date, b.GoVersion, b.Version, b.ShortCommit())
	if !strings.Contains(page, want) {
		t.Errorf("the overview's footer lacks %s", want)
	}
	metrics := ts.scrape(t)
	gauge := fmt.Sprintf(`layerwise_build_info{commit=%q,date=%q,goversion=%q,version=%q} 1`, b.Commit, b.Date, b.GoVersion, b.Version)
	if !strings.Contains(metrics, gauge) {
		t.Errorf("/metrics lacks %s", gauge)
	}
}
