package cli

import "layerwise/jobs/registry"

// importFetcher reads registries for import-image with the credentials of
// authFile; a reference to the managed registry (LAYERWISE_REGISTRY_URL)
// is read as that registry stores it: a manifest list whole, whatever the
// import mode, and every manifest as a blob.
func (c *cli) importFetcher(authFile string) *registry.Client {
	f := registry.NewFetcher(authFile)
	if u := c.env("LAYERWISE_REGISTRY_URL", ""); u != "" {
		if host, _, err := registry.ParseRegistryURL(u); err == nil {
			f.ManagedHost = host
		}
	}
	return f
}
