package main

import (
	"context"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// mirrorFlag adds --registry-url to a command that changes tags (tag,
// promote, rollback): with it the change is written through to the
// managed registry as serve does, and a registry that refuses the write
// refuses the change.
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

// writeThrough runs change and writes its result through to m in one
// transaction (m nil: just the change).
func writeThrough(ctx context.Context, s *store.Store, m *registry.Mirror, change func(tx *store.Store) (store.TagResult, error)) (store.TagResult, error) {
	var res store.TagResult
	err := s.Tx(ctx, func(tx *store.Store) error {
		var err error
		if res, err = change(tx); err != nil {
			return err
		}
		return m.Publish(ctx, tx, res.Tag, res)
	})
	return res, err
}
