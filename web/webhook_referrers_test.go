package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/store"
)

// TestWebhookDigestPushOfAReferrer: a registry notification of a manifest
// pushed by digest alone (no tag), whose subject is a tagged image, records
// it as that image's signature, audited once; redelivered, nothing changes.
func TestWebhookDigestPushOfAReferrer(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	hs := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL, WebhookToken: hookToken})
	s := hs.store
	auth := "Bearer " + hookToken
	post := func(body string) {
		t.Helper()
		if status, _, msg := postEvents(t, hs.URL, auth, body); status != http.StatusOK {
			t.Fatalf("%d %s", status, msg)
		}
	}

	img, err := random.Image(1500, 2)
	if err != nil {
		t.Fatal(err)
	}
	subject := reg.pushImage(t, "team-a/api:latest", img)
	post(envelope(event("push", "team-a/api", "latest", subject, mtManifest, evT0)))

	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size, _ := img.Size()
	sigImg, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		static.NewLayer([]byte(`{"critical":{"image":{"docker-manifest-digest":"`+subject+`"}}}`), "application/vnd.dev.cosign.simplesigning.v1+json"))
	if err != nil {
		t.Fatal(err)
	}
	sigImg = mutate.ConfigMediaType(sigImg, types.OCIConfigJSON)
	sigImg = mutate.Subject(sigImg, v1.Descriptor{MediaType: mf.MediaType, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(subject, "sha256:")}, Size: size}).(v1.Image)
	sig := digestOf(t, sigImg)
	reg.pushImage(t, "team-a/api@"+sig, sigImg)

	before := dump(t, s)
	digestPush := envelope(event("push", "team-a/api", "", sig, string(types.OCIManifestSchema1), evT0.Add(time.Second)))
	post(digestPush)
	refs, err := s.ReferrersOf(t.Context(), subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sig || refs.Referrers[0].Type != store.ReferrerSignature || refs.Referrers[0].Via != store.ViaSubject {
		t.Fatalf("referrers of the subject: %+v", refs)
	}
	if got := history(t, s, store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}); len(got) != 1 || got[0] != subject {
		t.Errorf("the tag's history %v: the signature is no revision", got)
	}
	evs, _ := s.AuditLog(t.Context(), store.AuditFilter{})
	n := 0
	for _, e := range evs {
		if e.Action == "registry.referrer" && e.After == sig {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d audit events for the referrer", n)
	}
	if dump(t, s) == before {
		t.Error("nothing was written")
	}

	// Redelivered, with the registry refusing meanwhile: not asked again.
	reg.mode.Store("401")
	after := dump(t, s)
	post(digestPush)
	reg.mode.Store("ok")
	if dump(t, s) != after {
		t.Error("a redelivered digest push changed the database")
	}
}
