package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"layerwise/format"
	"layerwise/store"
)

// Size is a byte count in IEC units ("226.6 MiB"), as everywhere else.
func Size(n int64) string { return format.Size(n) }

// exclusive formats exclusive bytes, which are -1 while usage is computed.
func exclusive(n int64) string {
	if n < 0 {
		return "…"
	}
	return format.Size(n)
}

// ShortDigest shortens "sha256:abcdef…" to the algorithm and 12 hex digits.
func ShortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok {
		if len(d) > 12 {
			return d[:12]
		}
		return d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return algo + ":" + hex
}

// NamespaceHref is the page of a namespace.
func NamespaceHref(ns string) string { return "/ns/" + url.PathEscape(ns) }

// StreamHref is the page of an image stream.
func StreamHref(ns, name string) string {
	return NamespaceHref(ns) + "/is/" + url.PathEscape(name)
}

// TagHref is the page of an image stream tag: /ns/{ns}/istag/{name}:{tag}.
func TagHref(ns, stream, tag string) string {
	return NamespaceHref(ns) + "/istag/" + url.PathEscape(stream) + ":" + url.PathEscape(tag)
}

// ImageHref is the page of an image by digest.
func ImageHref(digest string) string { return "/images/" + url.PathEscape(digest) }

// BlobHref is the page of a blob (layer or config) by digest.
func BlobHref(digest string) string { return "/blobs/" + url.PathEscape(digest) }

// WithFrom adds where the reader came from (ns/stream or ns/stream:tag)
// to an image or blob link, so that page's breadcrumbs lead back there.
func WithFrom(href, from string) string {
	if from == "" || href == "" {
		return href
	}
	return href + "?from=" + url.QueryEscape(from)
}

// isoTime is the machine-readable time of a <time datetime="">.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// exactTime is the time shown on hover.
func exactTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// relTime is "4 months ago", or "in 5 minutes" for times ahead of now.
func relTime(t, now time.Time) string {
	if d := t.Sub(now); d >= time.Minute {
		return "in " + lowerFirst(format.Duration(d))
	}
	return format.Ago(t, now)
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// plural is "1 image", "3 images", "19 matches".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + pluralOf(word)
}

// nounFor is word, or its plural when n is not 1: the noun after a number
// written separately ("<strong>3</strong> images").
func nounFor(n int, word string) string {
	if n == 1 {
		return word
	}
	return pluralOf(word)
}

// pluralOf is the plural of an English noun of the dashboard's words:
// "-es" after a hissing sound (match, box, class), else "-s".
func pluralOf(word string) string {
	for _, end := range []string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(word, end) {
			return word + "es"
		}
	}
	return word + "s"
}

func itoa(n int) string { return strconv.Itoa(n) }

// sharesLine is how a layer is shared, for the layers table.
func sharesLine(s store.BlobShares) string {
	return "shared by " + plural(s.Images, "image") + " · " + plural(s.Streams, "stream") +
		" · " + plural(s.Namespaces, "namespace")
}

// sharesSentence is how a blob is shared, for the blob page.
func sharesSentence(s store.BlobShares) string {
	return "Shared by " + plural(s.Images, "image") + " in " + plural(s.Streams, "stream") +
		" of " + plural(s.Namespaces, "namespace") + "."
}

// orNone is the value, or "<none>" as oc prints it.
func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "<none>"
	}
	return s
}

// joinArgs shows an entrypoint or command as oc does: quoted when an
// argument has spaces.
func joinArgs(args []string) string {
	if len(args) == 0 {
		return "<none>"
	}
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			out[i] = strconv.Quote(a)
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

// platform is "linux/arm64/v8".
func platform(os, arch, variant string) string {
	parts := []string{}
	for _, p := range []string{os, arch, variant} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, "/")
}

// percent formats a fraction 0..1 as an SVG length: "42.5%".
func percent(f float64) string {
	return strconv.FormatFloat(clamp01(f)*100, 'f', 3, 64) + "%"
}

// percentText is a fraction for people: "42%", "<1%".
func percentText(f float64) string {
	switch {
	case f <= 0:
		return "0%"
	case f < 0.01:
		return "<1%"
	}
	return strconv.FormatFloat(f*100, 'f', 0, 64) + "%"
}

func clamp01(f float64) float64 {
	if f != f || f < 0 { // NaN too
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}

// thresholdMark is where a namespace's threshold sits on the overview's bar
// scale (the biggest namespace on the page is 1), or -1 when it falls off
// the scale or cannot be placed.
func thresholdMark(bars []NamespaceBar, b NamespaceBar) float64 {
	if b.ThresholdBytes <= 0 {
		return -1
	}
	var scale float64
	for _, x := range bars {
		if x.Fraction > 0 && x.Bytes > 0 {
			scale = float64(x.Bytes) / x.Fraction
			break
		}
	}
	if scale <= 0 {
		return -1
	}
	m := float64(b.ThresholdBytes) / scale
	if m > 1 {
		return -1
	}
	return m
}

// thresholdText says how a namespace stands against its threshold.
func thresholdText(bytes, threshold int64) string {
	if threshold <= 0 {
		return "no threshold"
	}
	return percentText(float64(bytes)/float64(threshold)) + " of " + format.Size(threshold)
}

// sortState is the aria-sort value of a column and its arrow, "" when the
// listing is not sorted by it.
func sortState(current, col string) (aria, arrow string) {
	if current == "" {
		current = "size"
	}
	if current != col {
		return "", ""
	}
	if col == "name" {
		return "ascending", "▲"
	}
	return "descending", "▼"
}

// sortCaption says how a listing is sorted: ", by name", ", biggest first", ….
func sortCaption(key, what string) string {
	switch key {
	case "name":
		return ", by name"
	case "updated":
		return ", most recently updated first"
	case "tags":
		return ", most tags first"
	case "images":
		return ", most unique images first"
	case "exclusive":
		return ", most exclusive bytes first"
	case "reclaimable":
		return ", most reclaimable first"
	case "threshold":
		return ", nearest to their threshold first"
	case "streams":
		return ", most streams first"
	}
	return ", biggest first"
}

// jobStatusClass picks the badge colour of a job run's status.
func jobStatusClass(status string) string {
	switch status {
	case "ok", "success", "succeeded":
		return "badge badge-ok"
	case "failed", "error":
		return "badge badge-danger"
	case "running":
		return "badge badge-info"
	case "abandoned":
		return "badge badge-warn"
	}
	return "badge"
}

// kindLabel names a search result kind for people.
func kindLabel(kind string) string {
	switch kind {
	case "namespace":
		return "Namespace"
	case "stream":
		return "Image stream"
	case "tag":
		return "Tag"
	case "image":
		return "Image"
	case "blob":
		return "Blob"
	}
	if kind == "" {
		return "Result"
	}
	return lowerFirst(kind)
}

// envText is the environment, one variable a line.
func envText(env []string) string { return strings.Join(env, "\n") }

// LayerParts are the segments of an image's stacked layer bar: every layer
// once (duplicates skipped), then the config blob.
func LayerParts(img ImageView) []Part {
	var parts []Part
	for _, l := range img.Layers {
		if l.Duplicate {
			continue
		}
		parts = append(parts, Part{
			Label: "layer " + itoa(l.Position+1) + " · " + ShortDigest(l.Digest),
			Bytes: l.Size,
			Href:  l.Href,
			Kind:  "layer",
		})
	}
	if img.Config != nil {
		parts = append(parts, Part{Label: "config", Bytes: img.Config.Size, Href: img.Config.Href, Kind: "config"})
	}
	if img.Manifest != nil {
		parts = append(parts, Part{Label: "manifest", Bytes: img.Manifest.Size, Href: img.Manifest.Href, Kind: "config"})
	}
	return parts
}

// importTitle is "Import failed: NotFound".
func importTitle(e *ImportError) string {
	if e.Reason == "" {
		return "Import failed"
	}
	return "Import failed: " + e.Reason
}

// yourNamespaces names a non-admin's namespaces on the overview.
func yourNamespaces(n int) string {
	if n == 1 {
		return "your namespace"
	}
	return "your " + plural(n, "namespace")
}

// scopeLabel heads a non-admin's total: theirs, never the registry's.
func scopeLabel(n int) string {
	if n == 1 {
		return "Your namespace, every blob counted once"
	}
	return "Your " + plural(n, "namespace") + ", their totals summed"
}

// scopeSub says how far a non-admin's total is counted once.
func scopeSub(n int) string {
	switch n {
	case 0:
		return "you hold a role in no namespace yet"
	case 1:
		return "the registry's other namespaces are not counted"
	}
	return "a blob two of them share counts in each; the registry's other namespaces are not counted"
}
