package store

import (
	"errors"
	"testing"
	"time"

	"layerwise/store/storetest"
)

// TestDisabledAccountIsRefusedEverywhere: once disabled, an account cannot
// log in (with the right password it is told why), its session and its API
// token stop working, and it cannot act (LoadPrincipal: proxy, OIDC, the
// CLI's --as); enabled again, the token works again.
func TestDisabledAccountIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.CreateUser(ctx, "dana", "dana-pass", false)
	if err != nil {
		t.Fatal(err)
	}
	session, err := s.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := s.CreateToken(ctx, "dana", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := s.SetUserDisabled(ctx, "dana", true); err != nil || !changed {
		t.Fatalf("disable: %v %v", changed, err)
	}
	if changed, err := s.SetUserDisabled(ctx, "dana", true); err != nil || changed {
		t.Fatalf("disable twice: changed %v, %v", changed, err)
	}
	if _, err := s.Authenticate(ctx, "dana", "dana-pass"); !errors.Is(err, ErrDisabled) {
		t.Errorf("login of a disabled account: %v", err)
	}
	if _, err := s.Authenticate(ctx, "dana", "wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a wrong password tells about the account: %v", err)
	}
	if _, err := s.SessionUser(ctx, session); err == nil {
		t.Error("the session of a disabled account still works")
	}
	if _, err := s.TokenUser(ctx, token); err == nil {
		t.Error("the token of a disabled account still works")
	}
	dana, _ := s.GetUser(ctx, "dana")
	if _, err := s.LoadPrincipal(ctx, dana); !errors.Is(err, ErrDisabled) {
		t.Errorf("a disabled account acts: %v", err)
	}

	if changed, err := s.SetUserDisabled(ctx, "dana", false); err != nil || !changed {
		t.Fatalf("enable: %v %v", changed, err)
	}
	if _, err := s.TokenUser(ctx, token); err != nil {
		t.Errorf("the token after enabling: %v", err)
	}
	if _, err := s.Authenticate(ctx, "dana", "dana-pass"); err != nil {
		t.Errorf("login after enabling: %v", err)
	}
	if _, err := s.SessionUser(ctx, session); err == nil {
		t.Error("the session ended by disabling came back")
	}
}

func TestSetPasswordAndListUsers(t *testing.T) {
	t.Parallel()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateUser(ctx, "root", "root-pass", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "eve", "eve-pass", false); err != nil {
		t.Fatal(err)
	}
	pushTo(t, s, "ml/app:latest", image("a", 1, layer{"l", 10}), t0)
	if err := s.AddRoleBinding(ctx, "ml", "eve", RoleEditor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateToken(ctx, "eve", "ci", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "eve", "new-pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "eve", "eve-pass"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old password still works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "eve", "new-pass"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	wantErr(t, s.SetPassword(ctx, "eve", "abc"), ErrInvalid, "too short")
	wantErr(t, s.SetPassword(ctx, "nobody", "long-enough"), ErrNotFound, "user nobody not found")
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Name != "eve" || users[1].Name != "root" || !users[1].PlatformAdmin ||
		len(users[0].Roles) != 1 || users[0].Roles[0] != (NamespaceRole{"ml", "editor"}) || users[0].Tokens != 1 {
		t.Fatalf("users %+v", users)
	}
}

// A database from before step 0014 gets users.disabled_at and keeps its accounts.
func TestMigrationAddsDisabledAt(t *testing.T) {
	t.Parallel()
	path := storetest.DSN(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "old", "old-pass", false); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Migrator().DropColumn(&User{}, "DisabledAt"); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0014_user_disabled").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if !s.DB().Migrator().HasColumn(&User{}, "DisabledAt") {
		t.Fatal("no users.disabled_at after migrating")
	}
	if _, err := s.Authenticate(ctx, "old", "old-pass"); err != nil {
		t.Fatalf("the account after migrating: %v", err)
	}
}
