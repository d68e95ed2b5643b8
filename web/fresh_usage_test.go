package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"layerwise/format"
	"layerwise/jobs/openshift"
	"layerwise/store"
	"layerwise/store/storetest"
	"layerwise/views"
)

// A tag made through the API on one replica shows its bytes at once — the
// very next request, with no wait for a cache or a poll — in GET
// /api/v1/namespaces/{ns}/usage and on the namespace page, on that replica
// and on a second one over the same database: both read the figures the
// write stored in its own transaction.
func TestATagShowsItsBytesAtOnceOnEveryReplica(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seed, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	seed.SetPasswordCost(bcrypt.MinCost) // seconds per hash under -race at the default cost
	objs, err := openshift.Decode("demo", bytes.NewReader(openshift.DemoData()), openshift.Options{DefaultNamespace: "default", Now: seed.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.CreateUser(ctx, "demo", "demo", true); err != nil {
		t.Fatal(err)
	}
	token, _, err := seed.CreateToken(ctx, "demo", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()

	a, b := startReplica(t, ctx, dsn), startReplica(t, ctx, dsn)
	waitReady(t, a.url)
	waitReady(t, b.url)
	c := loginOn(t, a.url)

	apiBytes := func(base string) int64 {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/namespaces/payments/usage", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var nu store.NamespaceUsage
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &nu) != nil {
			t.Fatalf("GET %s usage of payments: %d %s", base, resp.StatusCode, body)
		}
		return nu.Bytes
	}
	// Both replicas have answered (and cached whatever they cache) before.
	before := apiBytes(a.url)
	if got := apiBytes(b.url); got != before {
		t.Fatalf("replica B says payments uses %d bytes, A %d", got, before)
	}
	// Both replicas have shown the pages (and cached what they cache).
	for _, base := range []string{a.url, b.url} {
		fetch(t, c, base+"/ns/payments", http.StatusOK)
		if page := fetch(t, c, base+"/ns/payments/is/api", http.StatusOK); strings.Contains(page, "borrowed") {
			t.Fatal("payments/api has a tag borrowed before the test made it")
		}
	}

	// Through A's API: payments/api:borrowed takes ml's trainer image, whose
	// layers payments does not hold yet.
	req, _ := http.NewRequest("PUT", a.url+"/api/v1/namespaces/payments/imagestreamtags/api:borrowed",
		strings.NewReader(`{"from": {"kind": "ImageStreamTag", "name": "trainer:latest", "namespace": "ml"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT the tag on A: %d %s", resp.StatusCode, msg)
	}

	// What a full pass over the registry says now.
	full, err := seed.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := full.Namespace("payments")
	if want.Bytes <= before {
		t.Fatalf("the fixture's tag adds nothing to payments (%d bytes before, %d after)", before, want.Bytes)
	}
	for name, base := range map[string]string{"A": a.url, "B": b.url} {
		if got := apiBytes(base); got != want.Bytes {
			t.Errorf("replica %s's API says payments uses %d bytes right after the tag, a full pass %d (before: %d)", name, got, want.Bytes, before)
		}
		page := fetch(t, c, base+"/ns/payments", http.StatusOK)
		if !strings.Contains(page, format.Size(want.Bytes)) {
			t.Errorf("replica %s's namespace page does not show payments' %s right after the tag (before: %s)",
				name, format.Size(want.Bytes), format.Size(before))
		}
		// The stream's page lists the new tag, and the tag has its page.
		if page := fetch(t, c, base+"/ns/payments/is/api", http.StatusOK); !strings.Contains(page, views.TagHref("payments", "api", "borrowed")) {
			t.Errorf("replica %s's stream page of payments/api does not list the tag borrowed right after it was made", name)
		}
		fetch(t, c, base+"/ns/payments/istag/api:borrowed", http.StatusOK)
	}
}

// loginOn logs demo/demo in through a replica's login form; the session is
// good on every replica.
func loginOn(t *testing.T, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	m := csrfRe.FindStringSubmatch(fetch(t, c, base+"/login", http.StatusOK))
	if m == nil {
		t.Fatal("no CSRF field on the login form")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"name": {"demo"}, "password": {"demo"}, "_csrf": {m[1]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return c
}
