package handlers

import "testing"

// TestSafeNext: a post-login redirect stays a clean path on this site;
// everything a browser could read as another origin falls back to "/".
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/ns/payments", "/ns/payments"},
		{"/ns/payments/istag/api:latest?tab=history#h", "/ns/payments/istag/api:latest?tab=history#h"},
		{"/search?q=sha256%3Aabc", "/search?q=sha256%3Aabc"},
		{"", "/"},
		{"ns/payments", "/"},
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{"/\t/evil.com", "/"},   // the report: browsers drop the tab
		{"/\n/evil.com", "/"},   // and newlines
		{"/\r\n/evil.com", "/"}, // and carriage returns
		{"/\x00/evil.com", "/"},
		{"/\x7f/evil.com", "/"},
		{"/\\evil.com", "/"},  // read as //evil.com
		{"/\\/evil.com", "/"}, // likewise
		{"\\\\evil.com", "/"},
		{"/ /evil.com", "/"},
		{"/a//b", "/"},
		{"https://evil.com", "/"},
		{"https:/evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"/\u2028/evil.com", "/"},              // a Unicode line separator
		{"/\u00a0/evil.com", "/"},              // a no-break space
		{"/%2F%2Fevil.com", "/%2F%2Fevil.com"}, // escaped slashes stay a path
		{"/%09/evil.com", "/%09/evil.com"},     // an escaped tab too
	} {
		if got := SafeNext(tc.in); got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
