package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"layerwise/format/jsonlist"
	"layerwise/store"
)

// The whole registry's `usage -o json` (and the API's compact form), read
// batch by batch from the stored figures and written by AppendJSON, is
// byte for byte what encoding/json makes of the full pass's figures, on a
// random registry with the edge cases: namespaces past one read batch,
// streams with no tags, tags with no history, entries with no image but a
// pull spec, times before 1970 (whole or not), at the zero time and with
// sub-seconds, and
// texts that need JSON escapes or hold the read's separators (written
// around the validation, as a hand-edited dump could hold them).
func TestWholeRegistryUsageJSONIsEncodingJSON(t *testing.T) {
	s := openOracleStore(t)
	r := rand.New(rand.NewPCG(7, 15))
	policy := store.Policy{KeepTagRevisions: 1, KeepYoungerThan: 48 * time.Hour}

	var digests []string
	var snaps []store.ImageSnapshot
	for i := range 40 {
		img := store.ImageSnapshot{Digest: digestOf(fmt.Sprint("image", i)), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: &store.BlobRef{Digest: digestOf(fmt.Sprint("config", i)), Size: int64(100 + i)}}
		for range 1 + r.IntN(3) {
			k := r.IntN(60) // layers shared between images, one size a digest
			img.Layers = append(img.Layers, store.BlobRef{Digest: digestOf(fmt.Sprint("layer", k)), Size: int64(1000 + k*7919)})
		}
		if _, err := s.PutImage(octx, img); err != nil {
			t.Fatal(err)
		}
		digests, snaps = append(digests, img.Digest), append(snaps, img)
	}
	times := []time.Time{
		oracleNow.Add(-time.Hour), oracleNow.Add(-100 * time.Hour), oracleNow.AddDate(-1, 0, 0),
		time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC), {},
	}
	const namespaces = 150 // past one read batch (streamBatch)
	for n := range namespaces {
		ns := fmt.Sprintf("team-%03d", (n*37)%namespaces) // not created in name order
		for st := range r.IntN(3) + 1 {
			snap := store.StreamSnapshot{Namespace: ns, Name: fmt.Sprintf("app-%d", st), Created: oracleNow}
			for tg := range r.IntN(4) { // 0: a stream with no tags
				tag := store.TagSnapshot{Name: []string{"latest", "v1", "1.2", "stable"}[tg], InSpec: true}
				for range r.IntN(4) { // 0: a tag with no history
					ev := store.EventSnapshot{Created: times[r.IntN(len(times))]}
					if !ev.Created.IsZero() {
						ev.Created = ev.Created.Add(-time.Duration(r.IntN(1000)) * time.Minute)
					}
					if r.IntN(6) == 0 {
						ev.DockerImageReference = fmt.Sprintf("quay.io/ext/%s:v%d", ns, r.IntN(9)) // no image, a pull spec
					} else {
						ev.Image = digests[r.IntN(len(digests))]
						ev.DockerImageReference = "registry.local/" + ns + "/" + snap.Name + "@" + ev.Image
					}
					tag.Items = append(tag.Items, ev)
				}
				snap.Tags = append(snap.Tags, tag)
			}
			if _, err := s.PutStream(octx, snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A push at a time with sub-seconds (kept to the microsecond).
	push := store.Push{Tag: store.TagRef{Namespace: "team-000", Stream: "pushed", Tag: "latest"}, Images: snaps[:1],
		PullSpec: "registry.local/team-000/pushed@" + digests[0], At: oracleNow.Add(-90*time.Minute + 123456789*time.Nanosecond)}
	if _, err := s.RecordPush(octx, push); err != nil {
		t.Fatal(err)
	}
	// Texts the validation refuses, as a dump written around it holds
	// them: JSON escapes and the read's own separators.
	odd := "quay.io/x,y:z/<b>&\"q\"\\\u2028é:1,2"
	if err := s.DB().Exec(`UPDATE tag_events SET docker_image_reference = ? WHERE id IN (SELECT MIN(id) FROM tag_events WHERE image_id IS NULL)`, odd).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`UPDATE images SET digest = ? WHERE digest = ?`, "sha256:<&>,1:2,"+strings.Repeat("f", 50), digests[1]).Error; err != nil {
		t.Fatal(err)
	}
	// Half a second before 1970: whole seconds round down (-1), not toward 0.
	if err := s.DB().Exec(`UPDATE tag_events SET created = ? WHERE id = (SELECT MAX(id) FROM tag_events WHERE image_id IS NOT NULL)`,
		time.Date(1969, 12, 31, 23, 59, 59, 5e8, time.UTC)).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.ComputePlanSummary(octx, policy); err != nil {
		t.Fatal(err)
	}

	full, err := s.ComputeUsage(octx, policy)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.ReadUsageHead(octx)
	if err != nil {
		t.Fatal(err)
	}
	head := store.Usage{Registry: h.Registry, ComputedAt: oracleNow, PullsRecordedSince: h.PullsRecordedSince, PlanComputedAt: h.PlanComputedAt}
	want := head
	want.Namespaces = append([]store.NamespaceUsage{}, full.Namespaces...)
	sort.Slice(want.Namespaces, func(i, j int) bool { return want.Namespaces[i].Name < want.Namespaces[j].Name })
	checkEdgeCases(t, want.Namespaces, odd)

	for _, indent := range []bool{true, false} {
		var got, exp bytes.Buffer
		err := jsonlist.Write(&got, &head, indent, jsonlist.List{Key: "namespaces", Seq: func(yield func(any) error) error {
			return s.EachNamespaceUsage(octx, func(n store.NamespaceUsage) error { return yield(n) })
		}})
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&exp)
		if indent {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), exp.Bytes()) {
			t.Errorf("indent %v: the streamed JSON differs from encoding/json's at %s", indent, firstDifference(got.Bytes(), exp.Bytes()))
		}
	}
}

// checkEdgeCases fails when the random registry lacks a case the test is
// for: it would pass without testing it.
func checkEdgeCases(t *testing.T, nss []store.NamespaceUsage, odd string) {
	t.Helper()
	have := map[string]bool{}
	for _, n := range nss {
		for _, st := range n.Streams {
			have["stream with no tags"] = have["stream with no tags"] || len(st.Tags) == 0
			for _, tg := range st.Tags {
				have["tag with no history"] = have["tag with no history"] || len(tg.Revisions) == 0
				for _, rv := range tg.Revisions {
					have["entry with no image"] = have["entry with no image"] || rv.Image == "" && rv.Reference != ""
					have["odd pull spec"] = have["odd pull spec"] || rv.Reference == odd
					have["odd digest"] = have["odd digest"] || strings.HasPrefix(rv.Image, "sha256:<&>,")
					have["before 1970"] = have["before 1970"] || rv.Created.Year() == 1969
					have["half a second before 1970"] = have["half a second before 1970"] || rv.Created.Unix() == -1
					have["zero time"] = have["zero time"] || rv.Created.Year() == 1
					have["pushed with sub-seconds"] = have["pushed with sub-seconds"] || n.Name == "team-000" && st.Name == "pushed"
					have["prunable"] = have["prunable"] || rv.Prunable
					have["not current"] = have["not current"] || !rv.Current
				}
			}
		}
	}
	for _, c := range []string{"stream with no tags", "tag with no history", "entry with no image", "odd pull spec", "odd digest",
		"before 1970", "half a second before 1970", "zero time", "pushed with sub-seconds", "prunable", "not current"} {
		if !have[c] {
			t.Errorf("the registry has no %s", c)
		}
	}
	if len(nss) <= 128 {
		t.Errorf("%d namespaces: not past one read batch", len(nss))
	}
}

func digestOf(word string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(word)))
}

// firstDifference shows where two documents part.
func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-120)
	return fmt.Sprintf("byte %d:\ngot  …%s\nwant …%s", i, a[from:min(len(a), i+80)], b[from:min(len(b), i+80)])
}
