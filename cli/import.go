package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"layerwise/change"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// cmdImport reads `oc get is,images -o json|yaml` dumps. Each file lands in
// one transaction with one audit event: a bad file writes nothing.
func (c *cli) cmdImport(ctx context.Context, args []string) error {
	f := c.newWriteFlags("import", false)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || pos[0] != "openshift" {
		return usagef("import: want `import openshift FILE|- ...` (the output of `oc get is,images -A -o json`)")
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, name := range pos[1:] {
		if err := c.importFile(ctx, svc, p, name, openshift.Options{DefaultNamespace: *f.ns, Now: s.Now()}); err != nil {
			return err
		}
	}
	return nil
}

func (c *cli) importFile(ctx context.Context, svc *change.Service, p *store.Principal, name string, opt openshift.Options) error {
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
	sum, err := svc.ImportDump(ctx, p, display, r, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %d image streams (%d changed), %d tags, %d images (%d new or changed), %d mappings (%d changed)\n",
		display, sum.Streams, sum.StreamsChanged, sum.Tags, sum.Images, sum.ImagesChanged, sum.Mappings, sum.MappingsChanged)
	for _, n := range sum.Notes() {
		fmt.Fprintf(c.stdout, "  note: %s\n", n)
	}
	if !sum.Changed() {
		c.nothingChanged("%s", display)
	}
	return nil
}
