package store

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestCosignTag(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		tag, subject, suffix string
		ok                   bool
	}{
		{"sha256-" + hex + ".sig", "sha256:" + hex, "sig", true},
		{"sha256-" + hex + ".att", "sha256:" + hex, "att", true},
		{"sha256-" + hex + ".sbom", "sha256:" + hex, "sbom", true},
		{"sha256-" + hex, "", "", false},               // the OCI fallback tag, not cosign's
		{"sha256-" + hex[:63] + ".sig", "", "", false}, // 63 hex: an ordinary tag
		{"sha256-" + hex + "0.sig", "", "", false},     // 65 hex
		{"sha256-" + strings.ToUpper(hex) + ".sig", "", "", false},
		{"sha256-" + hex + ".sig.bak", "", "", false},
		{"sha512-" + hex + ".sig", "", "", false},
		{"latest", "", "", false},
	} {
		subject, suffix, ok := CosignTag(tc.tag)
		if subject != tc.subject || suffix != tc.suffix || ok != tc.ok {
			t.Errorf("CosignTag(%q) = %q, %q, %v; want %q, %q, %v", tc.tag, subject, suffix, ok, tc.subject, tc.suffix, tc.ok)
		}
	}
}

func TestClassifyReferrer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		suffix string
		types  []string
		want   ReferrerType
	}{
		{"sig", nil, ReferrerSignature},
		{"sbom", nil, ReferrerSBOM},
		{"att", nil, ReferrerAttestation},
		{"", []string{"application/vnd.dev.cosign.simplesigning.v1+json"}, ReferrerSignature},
		{"", []string{"application/vnd.dev.cosign.artifact.sig.v1+json"}, ReferrerSignature},
		{"", []string{"application/vnd.dev.sigstore.bundle.v0.3+json"}, ReferrerSignature},
		{"", []string{"application/vnd.cncf.notary.signature"}, ReferrerSignature},
		{"", []string{"application/spdx+json"}, ReferrerSBOM},
		{"", []string{"text/spdx"}, ReferrerSBOM},
		{"", []string{"application/vnd.cyclonedx+json"}, ReferrerSBOM},
		{"", []string{"application/vnd.in-toto+json"}, ReferrerAttestation},
		{"", []string{"application/vnd.dsse.envelope.v1+json"}, ReferrerAttestation},
		// The artifactType is empty, the config is generic: a layer tells.
		{"", []string{"", "application/vnd.oci.image.config.v1+json", "application/vnd.dev.cosign.simplesigning.v1+json"}, ReferrerSignature},
		// The first type that tells wins.
		{"", []string{"application/spdx+json", "application/vnd.dsse.envelope.v1+json"}, ReferrerSBOM},
		{"", []string{"application/vnd.example.thing"}, ReferrerOther},
		{"", nil, ReferrerOther},
	} {
		if got := ClassifyReferrer(tc.suffix, tc.types...); got != tc.want {
			t.Errorf("ClassifyReferrer(%q, %q) = %s, want %s", tc.suffix, tc.types, got, tc.want)
		}
	}
}

// sigOf is a cosign-like signature of subject: a config of its own, a
// 300-byte simplesigning layer of its own (n tells signatures apart).
func sigOf(subject string, n int) ImageSnapshot {
	name := fmt.Sprintf("sig-%s-%d", subject, n)
	return ImageSnapshot{Digest: dg("image:" + name), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: &BlobRef{Digest: dg("config:" + name), Size: 233, MediaType: "application/vnd.oci.image.config.v1+json"},
		Layers: []BlobRef{{Digest: dg("layer:" + name), Size: 300, MediaType: "application/vnd.dev.cosign.simplesigning.v1+json"}}}
}

func cosignTagOf(digest, suffix string) string {
	return strings.Replace(digest, ":", "-", 1) + "." + suffix
}

// pushRef records a push of img to ref (ns/stream:tag) at at, as the
// webhook and the registry sync do.
func pushRef(t *testing.T, s *Store, ref string, img ImageSnapshot, at time.Time) PushResult {
	t.Helper()
	r, err := ParseTagRef(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RecordPush(ctx, Push{Tag: r, Images: []ImageSnapshot{img}, PullSpec: "registry.test/" + r.Namespace + "/" + r.Stream + "@" + img.Digest, At: at})
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return res
}

// signedRevisions pushes revisions a..d to team/app:latest a month ago, an
// hour apart, each signed through a cosign tag right after its push.
func signedRevisions(t *testing.T, s *Store) []ImageSnapshot {
	t.Helper()
	var sigs []ImageSnapshot
	for i, n := range []string{"a", "b", "c", "d"} {
		img := rev(n)
		at := ago(old).Add(time.Duration(i) * time.Hour)
		s.SetClock(func() time.Time { return at }) // images are as old as their push
		pushRef(t, s, "team/app:latest", img, at)
		sig := sigOf(img.Digest, 0)
		res := pushRef(t, s, "team/app:"+cosignTagOf(img.Digest, "sig"), sig, at.Add(time.Minute))
		if !res.Changed || res.Referrer != img.Digest {
			t.Fatalf("signature push of %s: %+v", n, res)
		}
		sigs = append(sigs, sig)
	}
	s.SetClock(func() time.Time { return pruneNow })
	return sigs
}

func tagNames(t *testing.T, s *Store, ref StreamRef) []string {
	t.Helper()
	st, err := s.GetStream(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tg := range st.Tags {
		out = append(out, tg.Name)
	}
	return out
}

func queued(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.PendingManifestDeletions(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Repository+"@"+r.Digest)
	}
	sort.Strings(out)
	return out
}

func TestSigTagsNeverCountAsRevisions(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	sigs := signedRevisions(t, s)
	if got := tagNames(t, s, StreamRef{"team", "app"}); !equalStrings(got, []string{"latest"}) {
		t.Fatalf("tags %v: the cosign tags must not be tags", got)
	}
	if got := names(t, s, "team/app:latest"); got != "d,c,b,a" {
		t.Fatalf("history %s", got)
	}
	// A redelivered signature push changes nothing.
	if res := pushRef(t, s, "team/app:"+cosignTagOf(rev("d").Digest, "sig"), sigs[3], ago(old)); res.Changed {
		t.Errorf("a second push of the same signature changed something: %+v", res)
	}

	pl := plan(t, s, Policy{KeepTagRevisions: 3, KeepYoungerThan: time.Hour})
	if len(pl.Revisions) != 1 || pl.Revisions[0].Image != rev("a").Digest {
		t.Fatalf("keep-3 of 4 signed revisions plans %+v, want revision a alone", pl.Revisions)
	}
	if pl.Revisions[0].Referrers != 1 {
		t.Errorf("revision a lists %d referrers, want its signature", pl.Revisions[0].Referrers)
	}
	wantRefs := []PruneReferrer{{Subject: rev("a").Digest, Digest: sigs[0].Digest, Type: ReferrerSignature}}
	if fmt.Sprint(pl.Referrers) != fmt.Sprint(wantRefs) {
		t.Errorf("plan referrers %+v, want %+v", pl.Referrers, wantRefs)
	}
	// Its own layer (10), config (1), and the signature's config and layer.
	if want := int64(10 + 1 + 233 + 300); pl.BytesFreed != want {
		t.Errorf("plan frees %d bytes, want %d", pl.BytesFreed, want)
	}
	res, err := s.ApplyPrune(ctx, pl, ApplyOptions{BatchTags: 2, QueueRegistry: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesFreed != pl.BytesFreed || res.Images != 2 {
		t.Errorf("prune freed %d bytes in %d images, the plan said %d bytes in 2", res.BytesFreed, res.Images, pl.BytesFreed)
	}
	checkIntegrity(t, s)
	if imageExists(t, s, rev("a").Digest) || imageExists(t, s, sigs[0].Digest) {
		t.Error("revision a or its signature survived the prune")
	}
	for _, sig := range sigs[1:] {
		if !imageExists(t, s, sig.Digest) {
			t.Errorf("signature %s of a kept revision was pruned", sig.Digest)
		}
	}
	want := []string{"team/app@" + rev("a").Digest, "team/app@" + sigs[0].Digest}
	sort.Strings(want)
	if got := queued(t, s); !equalStrings(got, want) {
		t.Errorf("registry deletions %v, want %v", got, want)
	}
}

func TestSignatureOfKeptImageSurvives(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	sigs := signedRevisions(t, s)
	pl := plan(t, s, Policy{KeepTagRevisions: 1, KeepYoungerThan: time.Hour})
	if len(pl.Revisions) != 3 || len(pl.Referrers) != 3 {
		t.Fatalf("keep-1 plans %d revisions and %d referrers, want 3 and 3", len(pl.Revisions), len(pl.Referrers))
	}
	res := apply(t, s, pl)
	if res.BytesFreed != pl.BytesFreed {
		t.Errorf("freed %d, planned %d", res.BytesFreed, pl.BytesFreed)
	}
	checkIntegrity(t, s)
	if got := names(t, s, "team/app:latest"); got != "d" {
		t.Fatalf("history after keep-1: %s", got)
	}
	if !imageExists(t, s, sigs[3].Digest) {
		t.Fatal("the signature of the kept revision was pruned")
	}
	refs, err := s.ReferrersOf(ctx, rev("d").Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sigs[3].Digest || !refs.Signed || refs.Bytes != 533 {
		t.Errorf("referrers of d: %+v", refs)
	}
	// Nothing more to prune: the signature is not an unreferenced image.
	if pl := plan(t, s, Policy{KeepTagRevisions: 1, KeepYoungerThan: time.Hour}); len(pl.Images) != 0 {
		t.Errorf("a second plan removes %v", pl.Images)
	}
}

func TestOrphanedReferrerIsPruned(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	sigs := signedRevisions(t, s)
	// Revision d leaves the stream (the registry deleted it): its signature
	// is orphaned.
	if _, err := s.RemoveImageFromStream(ctx, StreamRef{"team", "app"}, rev("d").Digest); err != nil {
		t.Fatal(err)
	}
	// An SBOM whose subject the store never saw, recorded a month ago.
	s.SetClock(func() time.Time { return ago(old) })
	sbom := sigOf("sbom", 1)
	sbom.Layers[0].MediaType = "text/spdx+json"
	if _, err := s.RecordReferrer(ctx, Referrer{Subject: dg("never-pushed"), Images: []ImageSnapshot{sbom}, Via: ViaSubject}); err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return pruneNow })

	pl := plan(t, s, Policy{KeepTagRevisions: 5, KeepYoungerThan: time.Hour})
	if len(pl.Revisions) != 0 {
		t.Errorf("keep-5 removes revisions %+v", pl.Revisions)
	}
	var orphans []string
	for _, r := range pl.Referrers {
		if !r.Orphaned {
			t.Errorf("referrer %+v is not marked orphaned", r)
		}
		orphans = append(orphans, string(r.Type)+" "+r.Digest)
	}
	want := []string{"sbom " + sbom.Digest, "signature " + sigs[3].Digest}
	sort.Strings(orphans)
	sort.Strings(want)
	if !equalStrings(orphans, want) {
		t.Fatalf("orphaned referrers %v, want %v", orphans, want)
	}
	res := apply(t, s, pl)
	if res.BytesFreed != pl.BytesFreed {
		t.Errorf("freed %d, planned %d", res.BytesFreed, pl.BytesFreed)
	}
	checkIntegrity(t, s)
	for _, d := range []string{sigs[3].Digest, sbom.Digest, rev("d").Digest, dg("never-pushed")} {
		if imageExists(t, s, d) {
			t.Errorf("%s survived the prune", d)
		}
	}
	for _, sig := range sigs[:3] {
		if !imageExists(t, s, sig.Digest) {
			t.Errorf("signature %s of a revision in the history was pruned", sig.Digest)
		}
	}
}

func TestReferrerWithUnknownSubjectWaitsForIt(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	img := rev("late")
	// The signature arrives before its image (events out of order).
	pushRef(t, s, "team/app:"+cosignTagOf(img.Digest, "sig"), sigOf(img.Digest, 0), ago(time.Hour))
	info, err := s.GetImage(ctx, img.Digest)
	if err != nil || info.Known {
		t.Fatalf("the subject is recorded as an unknown image: %+v, %v", info.Known, err)
	}
	pushRef(t, s, "team/app:latest", img, ago(time.Hour))
	refs, err := s.ReferrersOf(ctx, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Type != ReferrerSignature || refs.Referrers[0].Via != ViaTagScheme {
		t.Errorf("referrers of the late image: %+v", refs)
	}
}

func TestUsageCountsReferrersWithTheirSubject(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	signedRevisions(t, s)
	pushTo(t, s, "other/app:latest", rev("d"), ago(old))
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	// team: base, 4 own layers, 4 configs (1 byte each); 4 signatures of 533.
	// other holds d, so d's signature counts there too.
	want := map[string]int64{"team": 1000 + 4*10 + 4*1 + 4*533, "other": 1000 + 10 + 1 + 533}
	for _, n := range u.Namespaces {
		if n.Bytes != want[n.Name] {
			t.Errorf("namespace %s uses %d bytes, want %d", n.Name, n.Bytes, want[n.Name])
		}
	}
	if u.Registry.Bytes != want["team"] {
		t.Errorf("registry %d bytes, want %d", u.Registry.Bytes, want["team"])
	}
}

func TestReferrersPerSubjectAreBounded(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	subject := rev("a").Digest
	err := s.Tx(ctx, func(tx *Store) error {
		for i := 0; i < MaxReferrersPerSubject; i++ {
			if _, err := tx.recordReferrer(ctx, Referrer{Subject: subject, Images: []ImageSnapshot{sigOf(subject, i)}, Via: ViaSubject}, SizeImported); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.RecordReferrer(ctx, Referrer{Subject: subject, Images: []ImageSnapshot{sigOf(subject, -1)}, Via: ViaSubject})
	wantErr(t, err, ErrTooManyReferrers, "already has 1000 referrers")
	wantErr(t, err, ErrInvalid, "is not recorded")
	if imageExists(t, s, sigOf(subject, -1).Digest) {
		t.Error("the refused referrer was recorded")
	}
	// One already recorded still goes through (a redelivery).
	if changed, err := s.RecordReferrer(ctx, Referrer{Subject: subject, Images: []ImageSnapshot{sigOf(subject, 5)}, Via: ViaSubject}); err != nil || changed {
		t.Errorf("a known referrer: changed %v, %v", changed, err)
	}
}

func TestASubjectManifestPushedUnderATagIsAReferrer(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	img := rev("a")
	pushRef(t, s, "team/app:latest", img, ago(time.Hour))
	sbom := sigOf("sbom", 1)
	sbom.Subject, sbom.ArtifactType = img.Digest, "application/spdx+json"
	res := pushRef(t, s, "team/app:sbom", sbom, ago(time.Minute))
	if !res.Changed || res.Referrer != img.Digest {
		t.Fatalf("push of a manifest with a subject: %+v", res)
	}
	if got := tagNames(t, s, StreamRef{"team", "app"}); !equalStrings(got, []string{"latest"}) {
		t.Errorf("tags %v: a referrer is in no tag history", got)
	}
	refs, err := s.ReferrersOf(ctx, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Type != ReferrerSBOM || refs.Referrers[0].ArtifactType != "application/spdx+json" || refs.Signed {
		t.Errorf("referrers %+v", refs)
	}
	signed, err := s.SignedDigests(ctx, []string{img.Digest})
	if err != nil || signed[img.Digest] {
		t.Errorf("an SBOM alone does not sign: %v %v", signed, err)
	}
}
