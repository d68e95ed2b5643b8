package cli

import (
	"layerwise/jobs/registry"
)

// mirrorFlag adds --registry-url to a command that changes tags (tag,
// promote, rollback): with it the change is written through to the
// managed registry as serve does (change.Service with a Mirror), and a
// registry that refuses the write refuses the change.
func (c *cli) mirrorFlag(f *flags) func() (*registry.Mirror, error) {
	u := f.String("registry-url", c.env("LAYERWISE_REGISTRY_URL", ""),
		"the managed registry, e.g. http://127.0.0.1:5000: write the change through to it (LAYERWISE_REGISTRY_URL)")
	auth := f.String("registry-auth-file", c.env("LAYERWISE_REGISTRY_AUTH_FILE", ""), "a .dockerconfigjson file with registry credentials (LAYERWISE_REGISTRY_AUTH_FILE)")
	return func() (*registry.Mirror, error) {
		m, err := registry.NewMirror(*u, registry.NewFetcher(*auth))
		if err != nil {
			return nil, usagef("--registry-url: %v", err)
		}
		return m, nil
	}
}
