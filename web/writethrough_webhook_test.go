package web

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/jobs/registry/regtest"
	"layerwise/store"
	"layerwise/store/storetest"
)

// Write-through and notifications together: a promote or rollback made on
// the dashboard puts a manifest under a tag in the real registry, and the
// registry then notifies Layerwise of that very push. The echo must change
// nothing: no second history entry, not a byte of any table.
func TestWriteThroughEchoChangesNothing(t *testing.T) {
	t.Parallel()
	const tok = "echo-webhook-token"
	ln := listenLoopback(t)
	r := regtest.Start(t, regtest.Options{NotifyURL: "http://" + ln.Addr().String() + "/api/v1/registry/events", NotifyToken: tok})
	hs := startHookServer(t, ln, Config{RegistryURL: r.URL, WebhookToken: tok})
	s, ctx := hs.store, t.Context()
	admin := &store.Principal{User: "admin", PlatformAdmin: true}

	ref, err := name.ParseReference(r.Host+"/team-a/api:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string // oldest first
	for range 2 {
		img, err := random.Image(2000, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digestOf(t, img))
	}
	latest := store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}
	eventually(20*time.Second, func() bool { return len(history(t, s, latest)) == 2 })
	if got := history(t, s, latest); len(got) != 2 || got[0] != digests[1] {
		t.Fatalf("latest after two pushes: %v, want [%s %s]", got, digests[1], digests[0])
	}

	dump := func() string {
		t.Helper()
		return storetest.Dump(t, s)
	}
	// change makes a dashboard change, waits for the registry's notification
	// of the tag it wrote, and checks that the webhook found it already
	// recorded ("changed=0 unchanged=1" in its log line) and that no table
	// moved between the change and the echo.
	change := func(what string, fn func() error) {
		t.Helper()
		mark := len(hs.logs.String())
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		before := dump()
		since := func() string { return hs.logs.String()[mark:] }
		eventually(20*time.Second, func() bool { return strings.Contains(since(), "pushes=1") })
		log := since()
		if !strings.Contains(log, "pushes=1 changed=0 unchanged=1") || strings.Contains(log, " changed=1") {
			t.Fatalf("%s: want the echo of the written-through tag, already recorded; server log since:\n%s\nregistry log:\n%s", what, log, r.Log())
		}
		if dump() != before {
			t.Errorf("%s: the registry's echo of the write-through changed the database", what)
		}
	}

	change("promote latest → prod", func() error {
		_, err := hs.srv.change.Promote(ctx, admin, store.StreamRef{Namespace: "team-a", Stream: "api"}, "latest", "prod")
		return err
	})
	prod := store.TagRef{Namespace: "team-a", Stream: "api", Tag: "prod"}
	if got := history(t, s, prod); len(got) != 1 || got[0] != digests[1] {
		t.Errorf("prod history %v, want just %s", got, digests[1])
	}

	change("rollback latest", func() error {
		_, err := hs.srv.change.Rollback(ctx, admin, latest, digests[0])
		return err
	})
	if got := history(t, s, latest); len(got) == 0 || got[0] != digests[0] {
		t.Errorf("latest after rollback: %v, want %s current", got, digests[0])
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digests[0] {
		t.Errorf("the registry's latest is %s, the dashboard's %s", desc.Digest, digests[0])
	}
}
