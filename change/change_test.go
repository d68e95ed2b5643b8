package change

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

func threshold(gib int64) store.NamespaceSettings {
	b := gib << 30
	return store.NamespaceSettings{ThresholdBytes: &b}
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// TestServiceRules runs changes in order on one database: each is refused
// (ErrForbidden, nothing written) without its role, writes exactly one
// audit event when it changes something, and none — nor runs the hooks —
// when it changes nothing.
func TestServiceRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"a1", "a2"} {
		img := store.ImageSnapshot{Digest: digest("image:" + name), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: &store.BlobRef{Digest: digest("config:" + name), Size: 10}, Layers: []store.BlobRef{{Digest: digest("layer:" + name), Size: 100}}}
		if _, err := s.MapImage(ctx, "p", "api", "latest", img, at.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	principals := map[string]*store.Principal{}
	for _, u := range []struct {
		name, role string
		platform   bool
	}{{"vi", "viewer", false}, {"ed", "editor", false}, {"ad", "admin", false}, {"root", "", true}} {
		usr, err := s.CreateUser(ctx, u.name, "pw-"+u.name, u.platform)
		if err != nil {
			t.Fatal(err)
		}
		if u.role != "" {
			r, _ := store.ParseRole(u.role)
			if err := s.AddRoleBinding(ctx, "p", u.name, r); err != nil {
				t.Fatal(err)
			}
		}
		if principals[u.name], err = s.LoadPrincipal(ctx, usr); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(s, nil)
	hooks := 0
	svc.OnChange(func() { hooks++ })
	latest := store.Source{Kind: store.KindImageStreamTag, Namespace: "p", Stream: "api", Tag: "latest"}
	prod := store.TagRef{Namespace: "p", Stream: "api", Tag: "prod"}
	img := digest("image:a2")

	cases := []struct {
		name   string
		who    string
		do     func(p *store.Principal) error
		err    error // the sentinel the change fails with
		events int   // audit events written
	}{
		{"tag as a viewer", "vi", func(p *store.Principal) error {
			_, err := svc.SetTag(ctx, p, latest, prod, store.TagOptions{})
			return err
		}, ErrForbidden, 0},
		{"tag", "ed", func(p *store.Principal) error {
			_, err := svc.SetTag(ctx, p, latest, prod, store.TagOptions{})
			return err
		}, nil, 1},
		{"tag again", "ed", func(p *store.Principal) error {
			_, err := svc.SetTag(ctx, p, latest, prod, store.TagOptions{})
			return err
		}, nil, 0},
		{"promote to where it is", "ed", func(p *store.Principal) error {
			_, err := svc.Promote(ctx, p, store.StreamRef{Namespace: "p", Stream: "api"}, "latest", "prod")
			return err
		}, nil, 0},
		{"rollback", "ed", func(p *store.Principal) error {
			_, err := svc.Rollback(ctx, p, store.TagRef{Namespace: "p", Stream: "api", Tag: "latest"}, "")
			return err
		}, nil, 1},
		{"settings as an editor", "ed", func(p *store.Principal) error { _, err := svc.SetNamespace(ctx, p, "p", threshold(5)); return err }, ErrForbidden, 0},
		{"settings", "ad", func(p *store.Principal) error { _, err := svc.SetNamespace(ctx, p, "p", threshold(5)); return err }, nil, 1},
		{"the same settings", "ad", func(p *store.Principal) error { _, err := svc.SetNamespace(ctx, p, "p", threshold(5)); return err }, nil, 0},
		{"a role", "ad", func(p *store.Principal) error { _, err := svc.SetRole(ctx, p, "p", "vi", store.RoleEditor); return err }, nil, 1},
		{"the same role", "ad", func(p *store.Principal) error { _, err := svc.SetRole(ctx, p, "p", "vi", store.RoleEditor); return err }, nil, 0},
		{"a role for no account", "ad", func(p *store.Principal) error {
			_, err := svc.SetRole(ctx, p, "p", "nobody", store.RoleViewer)
			return err
		}, store.ErrInvalid, 0},
		{"pin", "ed", func(p *store.Principal) error { _, err := svc.Pin(ctx, p, "p", img, "keep"); return err }, nil, 1},
		{"pin with the same note", "ed", func(p *store.Principal) error { _, err := svc.Pin(ctx, p, "p", img, "  keep "); return err }, nil, 0},
		{"pin with a new note", "ed", func(p *store.Principal) error { _, err := svc.Pin(ctx, p, "p", img, "keep, used by api"); return err }, nil, 1},
		{"create a user as a namespace admin", "ad", func(p *store.Principal) error { _, err := svc.CreateUser(ctx, p, "x", "pw-x1", false); return err }, ErrForbidden, 0},
		{"create a user", "root", func(p *store.Principal) error { _, err := svc.CreateUser(ctx, p, "x", "pw-x1", false); return err }, nil, 1},
		{"a token of one's own", "ed", func(p *store.Principal) error { _, _, err := svc.CreateToken(ctx, p, "ed", "ci", 0); return err }, nil, 1},
		{"a token of someone else", "ed", func(p *store.Principal) error { _, _, err := svc.CreateToken(ctx, p, "ad", "ci", 0); return err }, ErrForbidden, 0},
		{"a dump as a namespace admin", "ad", func(p *store.Principal) error {
			_, err := svc.ImportDump(ctx, p, "dump.json", strings.NewReader(`{"kind": "List", "items": []}`), openshift.Options{})
			return err
		}, ErrForbidden, 0},
		{"nobody logged in", "", func(p *store.Principal) error {
			_, err := svc.SetTag(ctx, p, latest, prod, store.TagOptions{})
			return err
		}, ErrForbidden, 0},
	}
	for _, c := range cases {
		evs, _ := s.AuditLog(ctx, store.AuditFilter{})
		before, calls := len(evs), hooks
		err := c.do(principals[c.who])
		if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
		evs, _ = s.AuditLog(ctx, store.AuditFilter{})
		if n := len(evs) - before; n != c.events {
			t.Errorf("%s: %d audit events, want %d", c.name, n, c.events)
		}
		if n := len(evs) - before; n == 1 && evs[0].Actor != c.who {
			t.Errorf("%s: audited as %q, want %q", c.name, evs[0].Actor, c.who)
		}
		// Tokens and accounts change nothing a page caches.
		if c.events == 0 && hooks != calls {
			t.Errorf("%s changed nothing but ran the change hooks", c.name)
		}
	}
	if hooks == 0 {
		t.Error("the change hooks never ran")
	}
}
