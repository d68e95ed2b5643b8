package registry

import "testing"

// One reading of LAYERWISE_REGISTRY_URL for the webhook, the sync,
// write-through and prune.
func TestParseRegistryURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		host     string
		insecure bool
		bad      bool
	}{
		{in: "http://127.0.0.1:5000", host: "127.0.0.1:5000", insecure: true},
		{in: "http://127.0.0.1:5000/", host: "127.0.0.1:5000", insecure: true},
		{in: "https://registry.example.com", host: "registry.example.com"},
		{in: "registry.example.com:5000", host: "registry.example.com:5000"},
		{in: " https://r.example.com ", host: "r.example.com"},
		{in: "ftp://r.example.com", bad: true},
		{in: "https://r.example.com/v2/team-a", bad: true},
		{in: "http://", bad: true},
	} {
		host, insecure, err := ParseRegistryURL(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %s", tc.in, host)
			}
			continue
		}
		if err != nil || host != tc.host || insecure != tc.insecure {
			t.Errorf("%q: got %q insecure=%v err=%v, want %q insecure=%v", tc.in, host, insecure, err, tc.host, tc.insecure)
		}
	}
}
