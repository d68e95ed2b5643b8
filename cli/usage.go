package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"layerwise/store"
)

func (c *cli) cmdUsage(ctx context.Context, args []string) error {
	f := c.newFlags("usage", true)
	policy := c.policyFlags(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("usage: want at most one namespace")
	}
	p, err := policy()
	if err != nil {
		return err
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.ComputeUsage(ctx, p)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if err := store.ValidateNamespace(pos[0]); err != nil {
			return err
		}
		n, ok := u.Namespace(pos[0])
		if !ok {
			return fmt.Errorf("namespace %s not found", pos[0])
		}
		u.Namespaces = []store.NamespaceUsage{n}
	}
	if f.json() {
		return writeUsageJSON(c.stdout, u)
	}
	if len(pos) == 1 {
		return c.printNamespaceUsage(u.Namespaces[0])
	}
	return c.printRegistryUsage(u)
}

func (c *cli) printRegistryUsage(u *store.Usage) error {
	fmt.Fprintf(c.stdout, "Registry: %s in %d blobs, shared layers counted once; prune would free %s\n",
		size(u.Registry.Bytes), u.Registry.Blobs, size(u.Registry.ReclaimableBytes))
	if u.Registry.UnknownImages > 0 {
		fmt.Fprintf(c.stdout, "  %d images have no layer data (only their digests were imported): their bytes are not counted\n", u.Registry.UnknownImages)
	}
	ns := append([]store.NamespaceUsage(nil), u.Namespaces...)
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].Bytes > ns[j].Bytes })
	w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nNAMESPACE\tSTREAMS\tSIZE\tEXCLUSIVE\tRECLAIMABLE\t")
	for _, n := range ns {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t\n", n.Name, len(n.Streams), size(n.Bytes), size(n.ExclusiveBytes), size(n.ReclaimableBytes))
	}
	return w.Flush()
}

func (c *cli) printNamespaceUsage(n store.NamespaceUsage) error {
	fmt.Fprintf(c.stdout, "Namespace %s: %s (exclusive %s, prune would free %s)\n\n",
		n.Name, size(n.Bytes), size(n.ExclusiveBytes), size(n.ReclaimableBytes))
	w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "STREAM / TAG\tREVISIONS\tSIZE\tEXCLUSIVE")
	for _, st := range n.Streams {
		revs := 0
		for _, t := range st.Tags {
			revs += len(t.Revisions)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", st.Name, revs, size(st.Bytes), size(st.ExclusiveBytes))
		for _, t := range st.Tags {
			fmt.Fprintf(w, "  :%s\t%d\t%s\t%s\n", t.Name, len(t.Revisions), size(t.Bytes), size(t.ExclusiveBytes))
		}
	}
	return w.Flush()
}
