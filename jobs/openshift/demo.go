package openshift

import _ "embed"

//go:embed demo.yaml
var demoYAML []byte

// DemoData is a small realistic registry as one OpenShift List in YAML:
// Images and ImageStreams of five namespaces, dated 2026 with the newest
// around 2026-11-20 (decode it with Options.Shift to move it to now).
func DemoData() []byte {
	return append([]byte(nil), demoYAML...)
}
