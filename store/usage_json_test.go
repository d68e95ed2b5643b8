package store_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"layerwise/store"
)

// NamespaceUsage.AppendJSON writes what encoding/json writes, indented
// (as `usage -o json`) and compact (the API), byte for byte.
func TestNamespaceUsageAppendJSONIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	cases := map[string]store.NamespaceUsage{
		"zero":          {},
		"no streams":    {Name: "team-a", Bytes: 1, Streams: []store.StreamUsage{}},
		"negative":      {Name: "x", Bytes: -5, ExclusiveBytes: -1 << 62, NotPulledBytes: 1<<63 - 1},
		"nil tags":      {Name: "a", Streams: []store.StreamUsage{{Name: "s"}}},
		"escapes":       {Name: "<b>&\"q\"\\\n\t\x01\u2028\u2029é\xff", Streams: []store.StreamUsage{}},
		"offset zone":   {Streams: []store.StreamUsage{{Updated: at.In(time.FixedZone("x", -7*3600)), Tags: []store.TagUsage{}}}},
		"empty history": {Streams: []store.StreamUsage{{Name: "s", Tags: []store.TagUsage{{Name: "t", Revisions: []store.RevisionUsage{}}}}}},
		"full": {Name: "ns", Bytes: 10, ExclusiveBytes: 5, ReclaimableBytes: 3, NotPulledBytes: 2, Streams: []store.StreamUsage{
			{Name: "api", Bytes: 7, ExclusiveBytes: 1, UniqueImages: 2, Updated: at, Tags: []store.TagUsage{
				{Name: "latest", Bytes: 4, ExclusiveBytes: 4, Revisions: []store.RevisionUsage{
					{Image: "sha256:" + string(bytes.Repeat([]byte("a"), 64)), Created: at, Bytes: 4, Current: true},
					{Created: at.Add(-time.Hour), Reference: "quay.io/x/y@sha256:abc<>", Prunable: true},
				}},
				{Name: "v1", Revisions: nil},
			}},
			{Name: "web", Tags: []store.TagUsage{}},
		}},
	}
	for name, n := range cases {
		for _, form := range []struct{ prefix, indent string }{{"    ", "  "}, {"", ""}, {"", "\t"}} {
			var want []byte
			var err error
			if form.prefix == "" && form.indent == "" {
				want, err = json.Marshal(n)
			} else {
				want, err = json.MarshalIndent(n, form.prefix, form.indent)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := n.AppendJSON([]byte("head"), form.prefix, form.indent)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if string(got) != "head"+string(want) {
				t.Errorf("%s %q %q:\ngot  %s\nwant head%s", name, form.prefix, form.indent, got, want)
			}
		}
	}
	if _, err := (store.NamespaceUsage{Streams: []store.StreamUsage{{Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}).AppendJSON(nil, "", ""); err == nil {
		t.Error("a year past 9999 was written: encoding/json refuses it")
	}
}
