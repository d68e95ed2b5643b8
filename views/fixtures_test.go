package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"layerwise/buildinfo"
	"layerwise/store"
)

// now is the clock of every fixture.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	hostileLabel  = `<script>alert(1)</script>`
	hostileStream = `"><img src=x onerror=alert(1)>`
	dA            = "sha256:aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	dB            = "sha256:bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"
	dL1           = "sha256:1111111111113333333333333333333333333333333333333333333333333333"
	dL2           = "sha256:2222222222224444444444444444444444444444444444444444444444444444"
	dCfg          = "sha256:cccccccccccc5555555555555555555555555555555555555555555555555555"
)

func ago(d time.Duration) time.Time { return now.Add(-d) }
func tp(t time.Time) *time.Time     { return &t }

func page(title string) Page {
	return Page{
		Title: title, User: "alice", CSRF: "tok-123", Now: now, UsageAt: ago(3 * time.Minute),
		Build:  buildinfo.Info{Version: "v1.2.0", Commit: "83aeb84a1b2c3d4e5f60718293a4b5c6d7e8f901", Date: "2026-12-02T13:31:00Z", GoVersion: "go1.26.8"},
		Crumbs: []Crumb{{Label: "Overview", Href: "/"}, {Label: "payments", Href: "/ns/payments"}, {Label: title}},
	}
}

// render renders c and parses the result.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc, html
}

// text is the whitespace-normalised text of a selection.
func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func overviewFixture() Overview {
	return Overview{
		Page:             page("Overview"),
		RegistryBytes:    237_609_370,
		RegistryBlobs:    42,
		ReclaimableBytes: 3 << 30,
		UnknownImages:    2,
		NamespaceCount:   2,
		OverCount:        1,
		Namespaces: []NamespaceBar{
			{Name: "payments", Streams: 4, Bytes: 60 << 30, ExclusiveBytes: 10 << 30, ReclaimableBytes: 1 << 30, ThresholdBytes: 50 << 30, Over: true, Fraction: 1},
			{Name: "web", Streams: 1, Bytes: 15 << 30, ExclusiveBytes: 5 << 30, ThresholdBytes: 50 << 30, Fraction: 0.25},
		},
		Pager: Pager{Page: 1, Pages: 3, Total: 52, NextHref: "/?page=2"},
		Jobs: []JobStatus{
			{Name: "prune", Schedule: "0 0 * * *", Next: tp(now.Add(12 * time.Hour)),
				Last: &store.JobRun{Job: "prune", Started: ago(12 * time.Hour), Status: "ok", Message: "freed 1.0 GiB"}},
			{Name: "report", Schedule: "0 7 * * 1"},
		},
		Trend: []Point{{At: ago(72 * time.Hour), Bytes: 200 << 20}, {At: ago(48 * time.Hour), Bytes: 210 << 20}, {At: ago(24 * time.Hour), Bytes: 226 << 20}},
	}
}

func namespaceFixture() NamespacePage {
	p := page("payments")
	p.Crumbs = []Crumb{{Label: "Overview", Href: "/"}, {Label: "payments"}}
	return NamespacePage{
		Page: p, Name: "payments", Bytes: 60 << 30, ExclusiveBytes: 10 << 30, ReclaimableBytes: 1 << 30,
		ThresholdBytes: 50 << 30, Over: true, Contacts: []string{"team@example.com"}, StreamCount: 2,
		Filter: "ap", Sort: "size",
		SortHrefs: map[string]string{"size": "/ns/payments?q=ap&sort=size", "name": "/ns/payments?q=ap&sort=name", "updated": "/ns/payments?q=ap&sort=updated"},
		Streams: []StreamRow{
			{Name: "api", Href: "/ns/payments/is/api", Tags: 3, UniqueImages: 5, Bytes: 1536 << 20, ExclusiveBytes: 512 << 20, Updated: ago(5 * 24 * time.Hour), Fraction: 1},
			{Name: "app", Href: "/ns/payments/is/app", Tags: 1, UniqueImages: 1, Bytes: 768 << 20, ExclusiveBytes: -1, Fraction: 0.5},
		},
		Pager: Pager{Page: 2, Pages: 3, Total: 61, PrevHref: "/ns/payments?page=1", NextHref: "/ns/payments?page=3"},
		Trend: []Point{{At: ago(48 * time.Hour), Bytes: 50 << 30}, {At: ago(24 * time.Hour), Bytes: 60 << 30}},
		Chart: UsageChart{Threshold: 50 << 30, WeekChange: 10 << 30, WeekAgo: ago(7 * 24 * time.Hour), WeekBytes: 50 << 30,
			Points: []ChartPoint{
				{At: ago(14 * 24 * time.Hour), Bytes: 45 << 30, Exclusive: 8 << 30, Reclaimable: 2 << 30},
				{At: ago(7 * 24 * time.Hour), Bytes: 50 << 30, Exclusive: 9 << 30, Reclaimable: 1 << 30},
				{At: now, Bytes: 60 << 30, Exclusive: 10 << 30, Reclaimable: 1 << 30, Live: true},
			}},
	}
}

func tagFixture() TagView {
	t := tagFixtureHistory()
	t.Current, t.Revisions = &t.History[0], len(t.History)
	return t
}

func tagFixtureHistory() TagView {
	return TagView{
		Name: "latest", Href: TagHref("payments", "api", "latest"), InSpec: true,
		Source: "updates automatically from registry quay.io/acme/api:latest", Scheduled: true, Insecure: true,
		ImportError: &ImportError{Reason: "NotFound", Message: "manifest unknown", At: tp(ago(2 * time.Hour))},
		Bytes:       300 << 20, ExclusiveBytes: 100 << 20,
		History: []Revision{
			{Image: dA, Ref: "quay.io/acme/api@" + dA, Href: ImageHref(dA), Created: ago(3 * time.Hour), Bytes: 200 << 20, Known: true, Current: true},
			{Image: dB, Ref: "quay.io/acme/api@" + dB, Href: ImageHref(dB), Created: ago(125 * 24 * time.Hour), Known: false, Prunable: true},
		},
	}
}

func streamFixture() StreamPage {
	p := page("api")
	p.Crumbs = []Crumb{{Label: "Overview", Href: "/"}, {Label: "payments", Href: "/ns/payments"}, {Label: "api"}}
	other := TagView{Name: "prod", Href: TagHref("payments", "api", "prod"), Source: "tracks latest", Alias: true, Reference: true, InSpec: false, ExclusiveBytes: -1}
	return StreamPage{
		Page: p, Namespace: "payments", Name: "api",
		PullSpec: "image-registry.svc:5000/payments/api", PublicPullSpec: "registry.example.com/payments/api",
		Created: ago(400 * 24 * time.Hour), Labels: []KV{{Key: "team", Value: hostileLabel}},
		Annotations: nil, Bytes: 300 << 20, ExclusiveBytes: -1, UniqueImages: 2,
		Tags: []TagView{tagFixture(), other},
		Parts: []Part{
			{Label: "latest", Bytes: 100 << 20, Href: TagHref("payments", "api", "latest"), Kind: "tag"},
			{Label: "prod", Bytes: 1, Kind: "tag"},
			{Label: "shared between tags", Bytes: 50 << 20, Kind: "shared-stream"},
			{Label: "shared with other streams", Bytes: 150<<20 - 1, Kind: "shared-registry"},
		},
	}
}

func imageFixture() *ImageView {
	return &ImageView{
		Digest: dA, Href: ImageHref(dA), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Ref: "quay.io/acme/api@" + dA, Known: true, Bytes: 3 << 20, Created: tp(ago(3 * time.Hour)),
		OS: "linux", Arch: "amd64", Entrypoint: []string{"/bin/api"}, Cmd: nil,
		Env:    []string{"PATH=/usr/bin", "GREETING=" + hostileLabel},
		Labels: []KV{{Key: "org.opencontainers.image.title", Value: hostileLabel}},
		Layers: []LayerView{
			{Digest: dL1, Href: BlobHref(dL1), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 2 << 20, Position: 0,
				Shares: store.BlobShares{Images: 3, Tags: 4, Streams: 2, Namespaces: 1}, Fraction: 2.0 / 3},
			{Digest: dL2, Href: BlobHref(dL2), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 1<<20 - 4096, Position: 1,
				Shares: store.BlobShares{Images: 1, Tags: 1, Streams: 1, Namespaces: 1}, Fraction: float64(1<<20-4096) / (3 << 20)},
			{Digest: dL1, Href: BlobHref(dL1), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 2 << 20, Position: 2,
				Shares: store.BlobShares{Images: 3, Tags: 4, Streams: 2, Namespaces: 1}, Duplicate: true, Fraction: 2.0 / 3},
		},
		Config: &LayerView{Digest: dCfg, Href: BlobHref(dCfg), MediaType: "application/vnd.oci.image.config.v1+json", Size: 4096, Position: -1,
			Shares: store.BlobShares{Images: 1, Tags: 1, Streams: 1, Namespaces: 1}, Fraction: 4096.0 / (3 << 20)},
	}
}

func tagPageFixture() TagPage {
	p := page("api:latest")
	return TagPage{Page: p, Namespace: "payments", Stream: "api", StreamHref: StreamHref("payments", "api"), Tag: tagFixture(), Image: imageFixture()}
}

func listFixture() *ImageView {
	return &ImageView{
		Digest: dB, Href: ImageHref(dB), MediaType: "application/vnd.oci.image.index.v1+json", Known: true, Bytes: 5 << 20,
		Platforms: []PlatformView{
			{OS: "linux", Arch: "amd64", Digest: dA, Href: ImageHref(dA), Bytes: 3 << 20, Known: true},
			{OS: "linux", Arch: "arm64", Variant: "v8", Digest: dL2, Href: ImageHref(dL2)},
		},
	}
}

func imagePageFixture() ImagePage {
	return ImagePage{
		Page: page(ShortDigest(dA)), Image: *imageFixture(),
		Holders: []Holder{
			{Namespace: "payments", Stream: "api", Tag: "latest", Href: TagHref("payments", "api", "latest"), Current: true, Created: ago(3 * time.Hour)},
			{Namespace: "web", Stream: "front", Tag: "v1", Href: TagHref("web", "front", "v1"), Created: ago(30 * 24 * time.Hour)},
		},
		Lists: []Holder{{Digest: dB, Href: ImageHref(dB)}},
	}
}

func blobPageFixture() BlobPage {
	return BlobPage{
		Page: page(ShortDigest(dL1)), Digest: dL1, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 2 << 20,
		Shares:     store.BlobShares{Images: 3, Tags: 4, Streams: 2, Namespaces: 1},
		Images:     []BlobImage{{Digest: dA, Href: ImageHref(dA)}, {Digest: dCfg, Href: ImageHref(dCfg), Config: true}},
		Streams:    []Holder{{Namespace: "payments", Stream: "api", Href: StreamHref("payments", "api")}, {Namespace: "payments", Stream: "app", Href: StreamHref("payments", "app")}},
		Namespaces: []string{"payments"},
		More:       1,
	}
}

// allPages renders every page the handlers can serve, for checks that hold
// everywhere.
func allPages() map[string]templ.Component {
	ov := overviewFixture()
	unplanned := overviewFixture()
	unplanned.Page.UsageAt = time.Time{}
	anon := page("Log in")
	anon.User = ""
	noImage := tagPageFixture()
	noImage.Image = nil
	list := tagPageFixture()
	list.Image = listFixture()
	return map[string]templ.Component{
		"overview":           ViewOverview(ov),
		"overview unplanned": ViewOverview(unplanned),
		"namespace":          ViewNamespace(namespaceFixture()),
		"namespace fragment": NamespaceStreams(namespaceFixture()),
		"stream":             ViewStream(streamFixture()),
		"tag":                ViewTag(tagPageFixture()),
		"tag without image":  ViewTag(noImage),
		"tag manifest list":  ViewTag(list),
		"image":              ViewImage(imagePageFixture()),
		"blob":               ViewBlob(blobPageFixture()),
		"search":             ViewSearch(SearchPage{Page: page("Search"), Results: []Result{{Kind: "stream", Label: "payments/api", Href: "/ns/payments/is/api"}}}),
		"search empty":       ViewSearch(SearchPage{Page: Page{Query: "zzz", Now: now}}),
		"not found":          ViewNotFound(NotFoundPage{Page: page("Not found"), What: "image stream payments/apii", Suggestions: []Result{{Kind: "stream", Label: "payments/api", Href: "/ns/payments/is/api"}}}),
		"error":              ViewError(ErrorPage{Page: page("Error"), Status: 500}),
		"login":              ViewLogin(LoginPage{Page: anon, Error: "wrong name or password", Next: "/ns/payments", Name: "bob"}),
	}
}
