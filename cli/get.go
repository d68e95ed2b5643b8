package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"layerwise/format"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// cmdGet lists image streams like `oc get is`; -o json prints a v1 List of
// image.openshift.io/v1 ImageStreams that `import openshift` reads back.
func (c *cli) cmdGet(ctx context.Context, args []string) error {
	f := c.newFlags("get", true)
	all := f.Bool("A", false, "all namespaces")
	f.BoolVar(all, "all-namespaces", false, "all namespaces")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || (pos[0] != "is" && pos[0] != "imagestream" && pos[0] != "imagestreams") {
		return usagef("get: want `get is [-n NS | -A] [-o json]`")
	}
	ns := *f.ns
	nsSet := false
	f.Visit(func(fl *flagT) { nsSet = nsSet || fl.Name == "n" || fl.Name == "namespace" })
	if *all || !nsSet {
		// Without -n, show everything: there is no "current project" here.
		ns = ""
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	streams, err := s.ListStreams(ctx, ns)
	if err != nil && !(errors.Is(err, store.ErrNotFound) && ns != "") {
		return err
	}
	if len(pos) > 1 {
		var picked []store.StreamSnapshot
		for _, name := range pos[1:] {
			ref, err := store.ParseStreamRef(name, *f.ns)
			if err != nil {
				return err
			}
			st, err := s.GetStream(ctx, ref)
			if err != nil {
				return err
			}
			picked = append(picked, st)
		}
		streams = picked
	}
	if f.json() {
		b, err := openshift.Export(streams)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(b)
		return err
	}
	if len(streams) == 0 {
		if ns != "" {
			fmt.Fprintf(c.stderr, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(c.stderr, "No resources found.")
		}
		return nil
	}
	w := tabwriter.NewWriter(c.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tNAME\tIMAGE REPOSITORY\tTAGS\tUPDATED")
	now := s.Now()
	for _, st := range streams {
		tags := append([]store.TagSnapshot(nil), st.Tags...)
		store.OrderTags(tags, func(t store.TagSnapshot) string { return t.Name })
		var names []string
		var updated string
		var newest store.EventSnapshot
		for _, t := range tags {
			names = append(names, t.Name)
			if len(t.Items) > 0 && t.Items[0].Created.After(newest.Created) {
				newest = t.Items[0]
			}
		}
		if !newest.Created.IsZero() {
			updated = format.Ago(newest.Created, now)
		}
		if len(names) > 4 {
			names = append(names[:3], fmt.Sprintf("+ %d more...", len(names)-3))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", st.Namespace, st.Name, st.PullSpec, strings.Join(names, ","), updated)
	}
	return w.Flush()
}
