package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIRefusesDegenerateInput: the API refuses what `import openshift`
// refuses, in the same words (store.TestImportAndRequestsShareOneValidation
// has the import side): an alias cycle, a body that is not UTF-8, a pull
// spec with HTML; nothing is written.
func TestAPIRefusesDegenerateInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	token := ts.apiUser(t, "eddie", false, "payments=editor")
	tag := func(name string) string { return "/api/v1/namespaces/payments/imagestreamtags/api:" + name }
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: tag("stable"), token: token,
		body: `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}, "alias": true}`})
	cases := []struct{ name, path, body, says string }{
		{"alias cycle", tag("latest"), `{"from": {"kind": "ImageStreamTag", "name": "api:stable"}, "alias": true}`,
			"payments/api:latest: reference tag is circular (latest → stable → latest)"},
		{"self alias", tag("stable"), `{"from": {"kind": "ImageStreamTag", "name": "api:stable"}, "alias": true}`,
			"payments/api:stable: reference tag is circular (stable → stable)"},
		{"not UTF-8", tag("x"), "{\"from\": {\"kind\": \"DockerImage\", \"name\": \"quay.io/a/b\xff:1\"}}",
			"the request body is not valid UTF-8 (byte 53)"},
		{"HTML in a pull spec", tag("x"), `{"from": {"kind": "DockerImage", "name": "evil.example.com/<script>alert(1)</script>"}}`,
			"has a malformed repository"},
	}
	before := ts.apiDump(t)
	for _, c := range cases {
		r := ts.apiDo(t, apiCall{method: "PUT", path: c.path, body: c.body, token: token})
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", c.name, r)
			continue
		}
		if msg := r.errorText(t); !strings.Contains(msg, c.says) {
			t.Errorf("%s: error %q does not say %q", c.name, msg, c.says)
		}
	}
	if after := ts.apiDump(t); after != before {
		t.Fatalf("refused requests changed the database:\n%s", diffLines(before, after))
	}
}
