package store

import (
	"errors"
	"testing"
	"time"
)

func TestRolesAndPrincipals(t *testing.T) {
	t.Parallel()
	s, _, _ := shop(t)
	pushTo(t, s, "other/x:latest", image("x", 1, layer{"x", 1}), t0)
	if _, err := s.CreateUser(ctx, "ann", "secret-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "root", "secret-2", true); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoleBinding(ctx, "shop", "ann", RoleEditor); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.AddRoleBinding(ctx, "nope", "ann", RoleViewer), ErrNotFound, "namespace nope not found")
	wantErr(t, s.AddRoleBinding(ctx, "shop", "bob", RoleViewer), ErrNotFound, "user bob not found")
	ann, _ := s.GetUser(ctx, "ann")
	p, err := s.LoadPrincipal(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ns   string
		role Role
		want bool
	}{
		{"shop", RoleViewer, true}, {"shop", RoleEditor, true}, {"shop", RoleAdmin, false},
		{"other", RoleViewer, false},
	}
	for _, c := range cases {
		if got := p.Can(c.ns, c.role); got != c.want {
			t.Errorf("ann can %s in %s = %v", c.role, c.ns, got)
		}
	}
	root, _ := s.GetUser(ctx, "root")
	rp, _ := s.LoadPrincipal(ctx, root)
	if !rp.Can("other", RoleAdmin) || !rp.Can("anything", RoleAdmin) {
		t.Error("a platform admin has every role everywhere")
	}
	// A new binding replaces the old one.
	if err := s.AddRoleBinding(ctx, "shop", "ann", RoleViewer); err != nil {
		t.Fatal(err)
	}
	p, _ = s.LoadPrincipal(ctx, ann)
	if p.Can("shop", RoleEditor) {
		t.Error("the old editor role survived a new viewer binding")
	}
	m, _ := s.Members(ctx, "shop")
	if len(m) != 1 || m[0] != (Member{User: "ann", Role: "viewer"}) {
		t.Errorf("members = %+v", m)
	}
	if _, err := ParseRole("owner"); err == nil {
		t.Error("owner is not a role")
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	now := t0
	s.SetClock(func() time.Time { return now })
	if _, err := s.CreateUser(ctx, "ci", "secret-3", false); err != nil {
		t.Fatal(err)
	}
	forever, _, err := s.CreateToken(ctx, "ci", "pipeline", 0)
	if err != nil {
		t.Fatal(err)
	}
	short, tok, err := s.CreateToken(ctx, "ci", "short", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.TokenUser(ctx, forever); err != nil || u.Name != "ci" {
		t.Fatalf("live token: %v %v", u, err)
	}
	var stored []APIToken
	s.DB().Find(&stored)
	for _, st := range stored {
		if st.Hash == forever || st.Hash == short {
			t.Fatal("a token is stored in clear")
		}
	}
	for name, token := range map[string]string{"unknown": "lw_" + "00", "no prefix": "abc", "empty": ""} {
		if _, err := s.TokenUser(ctx, token); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s token: %v", name, err)
		}
	}
	now = t0.Add(time.Hour)
	if _, err := s.TokenUser(ctx, short); !errors.Is(err, ErrBadToken) {
		t.Errorf("expired token: %v", err)
	}
	if err := s.RevokeToken(ctx, "ci", tok.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RevokeToken(ctx, "ci", tok.ID), ErrNotFound, "already revoked")
	list, _ := s.Tokens(ctx, "ci")
	var live *APIToken
	for i := range list {
		if list[i].Name == "pipeline" {
			live = &list[i]
		}
	}
	if err := s.RevokeToken(ctx, "ci", live.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, forever); !errors.Is(err, ErrBadToken) {
		t.Errorf("revoked token: %v", err)
	}
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	for _, ev := range []AuditEvent{
		{Actor: "ann", Namespace: "shop", Action: "tag.set", Target: "shop/api:test", Before: "none", After: dg("a")},
		{Actor: "bob", Namespace: "shop", Action: "tag.delete", Target: "shop/api:old", Before: dg("b"), After: "none"},
		{Actor: "ann", Namespace: "web", Action: "tag.set", Target: "web/x:y"},
	} {
		if err := s.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		f    AuditFilter
		want int
	}{{AuditFilter{}, 3}, {AuditFilter{Namespace: "shop"}, 2}, {AuditFilter{Actor: "ann"}, 2}, {AuditFilter{Action: "tag.delete"}, 1}, {AuditFilter{Actor: "ann", Namespace: "web"}, 1}}
	for _, c := range cases {
		got, err := s.AuditLog(ctx, c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("%+v: %d events, %v; want %d", c.f, len(got), err, c.want)
		}
	}
	if err := s.Audit(ctx, AuditEvent{Actor: "ann", Action: "token.create", Target: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEvent{Actor: "bob", Action: "token.create", Target: "bob's"}); err != nil {
		t.Fatal(err)
	}
	// ann may read shop, and her own events outside any namespace.
	scoped, err := s.AuditLog(ctx, AuditFilter{Scope: &AuditScope{Namespaces: []string{"shop"}, Actor: "ann"}})
	if err != nil || len(scoped) != 3 {
		t.Fatalf("scoped log: %d events, %v; want shop's two and ann's token", len(scoped), err)
	}
	for _, e := range scoped {
		if e.Namespace == "web" || e.Target == "bob's" {
			t.Errorf("scope leaked %+v", e)
		}
	}
	if none, _ := s.AuditLog(ctx, AuditFilter{Scope: &AuditScope{Actor: "carl"}}); len(none) != 0 {
		t.Errorf("a user with no role and no events sees %d", len(none))
	}
	got, _ := s.AuditLog(ctx, AuditFilter{Action: "tag.set"})
	if got[0].Target != "web/x:y" || got[0].At.IsZero() {
		t.Errorf("newest first, with a time: %+v", got[0])
	}
}
