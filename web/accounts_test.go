package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"layerwise/store"
)

// apiStatus is the status of GET path with a bearer token.
func (ts *testServer) apiStatus(t *testing.T, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccountsPage: a platform admin adds an account, resets its password
// and disables it (it can then neither log in, nor use its session or its
// API token) and enables it again, each audited, never with the password;
// nobody else reaches the page or its forms (issue 16: only the CLI could).
func TestAccountsPage(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ctx := context.Background()
	body := ts.get(t, c, "/accounts", http.StatusOK)
	d := doc(t, body)
	if d.Find(`nav.mainnav a[href="/accounts"]`).Length() != 1 {
		t.Error("no Accounts link in a platform admin's menu")
	}
	if row := squash(d.Find("#user-demo").Text()); !strings.Contains(row, "demo you") || !strings.Contains(row, "platform admin") || !strings.Contains(row, "active") {
		t.Errorf("demo's row %q", row)
	}
	token := csrfOf(t, body)

	// Add.
	status, loc, _ := ts.post(t, c, "/accounts", url.Values{"_csrf": {token}, "name": {"bob"}, "password": {"bob-pass-1"}})
	if status != http.StatusSeeOther || loc != "/accounts?done=added&user=bob#user-bob" {
		t.Fatalf("add: %d to %q", status, loc)
	}
	row := doc(t, ts.get(t, c, loc, http.StatusOK)).Find("#user-bob")
	if !row.HasClass("changed") || !strings.Contains(squash(row.Text()), "Account bob added.") {
		t.Errorf("no feedback on bob's row: %q", squash(row.Text()))
	}
	if status, _, body := ts.post(t, c, "/accounts", url.Values{"_csrf": {token}, "name": {"bob"}, "password": {"x-pass-2"}}); status != http.StatusConflict ||
		!strings.Contains(body, "User bob already exists") {
		t.Errorf("adding bob twice: %d %s", status, doc(t, body).Find(".field-error").Text())
	}
	if err := ts.store.AddRoleBinding(ctx, "ml", "bob", store.RoleEditor); err != nil {
		t.Fatal(err)
	}
	if row := squash(doc(t, ts.get(t, c, "/accounts", http.StatusOK)).Find("#user-bob").Text()); !strings.Contains(row, "ml: editor") {
		t.Errorf("bob's roles not listed: %q", row)
	}
	bobToken, _, err := ts.store.CreateToken(ctx, "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	bob := ts.client(t)
	if resp := ts.login(t, bob, "bob", "bob-pass-1"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("bob's login: %d", resp.StatusCode)
	}
	bobBody := ts.get(t, bob, "/", http.StatusOK)
	if doc(t, bobBody).Find(`a[href="/accounts"]`).Length() != 0 {
		t.Error("bob, no platform admin, sees the Accounts link")
	}
	ts.get(t, bob, "/accounts", http.StatusForbidden)
	if status, _, _ := ts.post(t, bob, "/accounts", url.Values{"_csrf": {csrfOf(t, bobBody)}, "name": {"mallory"}, "password": {"m-pass-1"}}); status != http.StatusForbidden {
		t.Errorf("bob added an account: %d", status)
	}

	// Reset the password.
	if status, loc, _ := ts.post(t, c, "/accounts/bob/password", url.Values{"_csrf": {token}, "password": {"bob-pass-2"}}); status != http.StatusSeeOther ||
		!strings.Contains(loc, "done=password") {
		t.Fatalf("reset: %d to %q", status, loc)
	}
	if resp := ts.login(t, ts.client(t), "bob", "bob-pass-1"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password still logs in: %d", resp.StatusCode)
	}
	if status, _, body := ts.post(t, c, "/accounts/bob/password", url.Values{"_csrf": {token}, "password": {"abc"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "too short") {
		t.Errorf("a short password: %d", status)
	}

	// Disable: no login, no session, no token.
	if status, loc, _ := ts.post(t, c, "/accounts/bob/disable", url.Values{"_csrf": {token}}); status != http.StatusSeeOther || !strings.Contains(loc, "done=disabled") {
		t.Fatalf("disable: %d to %q", status, loc)
	}
	if resp, err := bob.Get(ts.URL + "/"); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("bob's session after disabling: %v %v", resp.StatusCode, err)
	}
	if st := ts.apiStatus(t, "/api/v1/usage", bobToken); st != http.StatusUnauthorized {
		t.Errorf("bob's token after disabling: %d", st)
	}
	resp := ts.login(t, ts.client(t), "bob", "bob-pass-2")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a disabled account logs in: %d", resp.StatusCode)
	}
	if row := squash(doc(t, ts.get(t, c, "/accounts", http.StatusOK)).Find("#user-bob").Text()); !strings.Contains(row, "disabled") || !strings.Contains(row, "Enable bob") {
		t.Errorf("bob's row after disabling %q", row)
	}
	// Not oneself.
	if status, _, body := ts.post(t, c, "/accounts/demo/disable", url.Values{"_csrf": {token}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "You cannot disable your own account") {
		t.Errorf("disabling oneself: %d", status)
	}
	// Enable again: the token works.
	if status, _, _ := ts.post(t, c, "/accounts/bob/enable", url.Values{"_csrf": {token}}); status != http.StatusSeeOther {
		t.Fatalf("enable: %d", status)
	}
	if st := ts.apiStatus(t, "/api/v1/usage", bobToken); st != http.StatusOK {
		t.Errorf("bob's token after enabling: %d", st)
	}
	// No CSRF token, no change.
	if status, _, _ := ts.post(t, c, "/accounts/bob/disable", url.Values{}); status != http.StatusForbidden {
		t.Errorf("disable without the CSRF token: %d", status)
	}

	evs, err := ts.store.AuditLog(ctx, store.AuditFilter{Actor: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Action+" "+e.Target+": "+e.Before+" → "+e.After)
		if strings.Contains(e.Before+e.After, "bob-pass") {
			t.Errorf("a password in the audit log: %+v", e)
		}
	}
	want := []string{"user.enable bob: disabled → active", "user.disable bob: active → disabled",
		"user.password bob: password set → password reset", "user.add bob: none → user"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
