package cli

import (
	"context"
	"fmt"
	"strconv"

	"layerwise/store/synth"
)

func (c *cli) cmdGenerate(ctx context.Context, args []string) error {
	f := c.newFlags("generate", false)
	namespaces := f.Int("namespaces", 20, "how many namespaces (2000 is the large benchmark dataset)")
	seed := f.String("seed", "1", "the same seed gives the same data")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("generate: unexpected argument %q", pos[0])
	}
	sd, err := strconv.ParseUint(*seed, 10, 64)
	if err != nil {
		return usagef("--seed %q: want a whole number", *seed)
	}
	if *namespaces < 1 {
		return usagef("--namespaces %d: want at least 1", *namespaces)
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := synth.Generate(ctx, s, synth.Options{Namespaces: *namespaces, Seed: sd})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "generated %d namespaces, %d streams, %d tags, %d history entries, %d images (%d manifest lists), %d blobs (%s), %d image-blob links in %s\n",
		st.Namespaces, st.Streams, st.Tags, st.TagEvents, st.Images, st.ManifestLists, st.Blobs, size(st.BlobBytes), st.ImageBlobs, st.Elapsed.Round(1e7))
	return nil
}
