package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// importImageJSON is what import-image -o json prints.
type importImageJSON struct {
	Tag                  string `json:"tag"`
	From                 string `json:"from"`
	Image                string `json:"image"`
	DockerImageReference string `json:"dockerImageReference"`
	Changed              bool   `json:"changed"`
	Bytes                int64  `json:"bytes"`
	Layers               int    `json:"layers"`
	Manifests            int    `json:"manifests,omitempty"`
}

// cmdImportImage follows oc import-image: read an image from its registry
// and record it on a tag; without --from, re-import the tag's own source.
func (c *cli) cmdImportImage(ctx context.Context, args []string) error {
	f := c.newWriteFlags("import-image", true)
	from := f.String("from", "", "the external image: [registry/]repository[:tag][@sha256:digest]")
	confirm := f.Bool("confirm", false, "create the image stream if it does not exist, or re-point a tag that has another source")
	scheduled := f.Bool("scheduled", false, "re-import the tag periodically")
	insecure := f.Bool("insecure", false, "allow plain HTTP or a TLS certificate that does not verify")
	importMode := f.String("import-mode", "", "Legacy (default: one platform of a manifest list) or PreserveOriginal (the list and every platform)")
	refPolicy := f.String("reference-policy", "", "source (default) or local")
	platform := f.String("platform", registry.DefaultPlatform, "the platform Legacy keeps from a manifest list")
	authFile := f.String("registry-auth-file", c.env("LAYERWISE_REGISTRY_AUTH_FILE", ""), "a .dockerconfigjson file with registry credentials (LAYERWISE_REGISTRY_AUTH_FILE)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("import-image: want one NS/STREAM[:TAG], e.g. `import-image team-a/api:1.0 --from quay.io/acme/api:1.0 --confirm`")
	}
	mode := ""
	if *importMode != "" {
		if mode, err = registry.NormalizeImportMode(*importMode); err != nil {
			return usagef("valid ImportMode values are Legacy or PreserveOriginal")
		}
	}
	policy := ""
	if *refPolicy != "" {
		if policy, err = referencePolicy(*refPolicy); err != nil {
			return err
		}
	}
	dst, err := store.ParseTagRef(pos[0], *f.ns)
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	opt := registry.ImportOptions{Scheduled: *scheduled, Insecure: *insecure, ImportMode: mode, ReferencePolicy: policy,
		Platform: *platform, Confirm: *confirm}
	res, err := svc.Import(ctx, p, c.importFetcher(*authFile), dst, *from, opt)
	var rerr *registry.Error
	if errors.As(err, &rerr) && rerr.Detail() != "" {
		// The operator at the command line gets what exactly failed, which
		// the dashboard keeps from its users.
		return fmt.Errorf("%w [%s]", err, rerr.Detail())
	}
	if err != nil {
		return err
	}
	info, err := s.GetImage(ctx, res.Image)
	if err != nil {
		return err
	}
	layers, platforms, err := imageLayers(ctx, s, info)
	if err != nil {
		return err
	}
	if f.json() {
		return c.printJSON(importImageJSON{Tag: dst.String(), From: res.Spec, Image: res.Image, DockerImageReference: res.Ref,
			Changed: !res.NoOp(), Bytes: info.Bytes, Layers: layers, Manifests: len(info.Manifests)})
	}
	fmt.Fprintf(c.stdout, "imagestream.image.openshift.io/%s imported\n\n", dst.Stream)
	fmt.Fprintf(c.stdout, "Tag:     %s:%s from %s\n", dst.Stream, dst.Tag, res.Spec)
	fmt.Fprintf(c.stdout, "Image:   %s\n", res.Image)
	fmt.Fprintf(c.stdout, "Pull:    %s\n", res.Ref)
	if len(info.Manifests) > 0 {
		fmt.Fprintf(c.stdout, "Size:    %s in %d layers, counted once (manifest list: %s)\n", size(info.Bytes), layers, strings.Join(platforms, ", "))
	} else {
		fmt.Fprintf(c.stdout, "Size:    %s in %d layers\n", size(info.Bytes), layers)
	}
	if res.NoOp() {
		c.nothingChanged("  %s:%s was already at this image", dst.Stream, dst.Tag)
	}
	return nil
}

// imageLayers counts an image's layers; for a manifest list the distinct
// layers of its children, with their platforms.
func imageLayers(ctx context.Context, s *store.Store, info store.ImageInfo) (int, []string, error) {
	if len(info.Manifests) == 0 {
		return len(info.Layers), nil, nil
	}
	seen := map[string]bool{}
	var platforms []string
	for _, m := range info.Manifests {
		p := m.OS + "/" + m.Architecture
		if m.Variant != "" {
			p += "/" + m.Variant
		}
		platforms = append(platforms, p)
		child, err := s.GetImage(ctx, m.Digest)
		if err != nil {
			return 0, nil, err
		}
		for _, l := range child.Layers {
			seen[l.Digest] = true
		}
	}
	return len(seen), platforms, nil
}
