package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

// cmdImport reads `oc get is,images -o json|yaml` dumps. Each file lands in
// one transaction: a bad file writes nothing.
func (c *cli) cmdImport(ctx context.Context, args []string) error {
	f := c.newFlags("import", false)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || pos[0] != "openshift" {
		return usagef("import: want `import openshift FILE|- ...` (the output of `oc get is,images -A -o json`)")
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, name := range pos[1:] {
		if err := c.importFile(ctx, s, name, openshift.Options{DefaultNamespace: *f.ns, Now: s.Now()}); err != nil {
			return err
		}
	}
	return nil
}

func (c *cli) importFile(ctx context.Context, s *store.Store, name string, opt openshift.Options) error {
	var r io.Reader
	display := name
	if name == "-" {
		r, display = c.stdin, "<stdin>"
	} else {
		file, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import %s: %w", name, err)
		}
		defer file.Close()
		r = file
	}
	sum, err := importOpenShift(ctx, s, display, r, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %d image streams (%d changed), %d tags, %d images (%d new or changed), %d mappings (%d changed)\n",
		display, sum.Streams, sum.StreamsChanged, sum.Tags, sum.Images, sum.ImagesChanged, sum.Mappings, sum.MappingsChanged)
	for _, n := range sum.Notes() {
		fmt.Fprintf(c.stdout, "  note: %s\n", n)
	}
	return nil
}

// importOpenShift decodes and applies one file in one transaction.
func importOpenShift(ctx context.Context, s *store.Store, name string, r io.Reader, opt openshift.Options) (openshift.Summary, error) {
	objs, err := openshift.Decode(name, r, opt)
	if err != nil {
		return openshift.Summary{}, err
	}
	var sum openshift.Summary
	err = s.Tx(ctx, func(tx *store.Store) error {
		var err error
		sum, err = openshift.Apply(ctx, tx, objs)
		return err
	})
	if err != nil {
		return sum, fmt.Errorf("%s: %w (nothing from this file was written)", name, err)
	}
	return sum, nil
}
