package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"layerwise/store"
)

func (c *cli) cmdUsage(ctx context.Context, args []string) error {
	f := c.newWriteFlags("usage", true)
	policy := c.policyFlags(f)
	verify := f.Bool("verify", false, "recompute every figure with the full pass and compare it with the stored figures; exit 1 naming each difference")
	repair := f.Bool("repair", false, "like --verify, then rebuild the stored figures from the full pass when they differ (platform admin; audited)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if *verify || *repair {
		if len(pos) > 0 {
			return usagef("usage --verify and --repair check the whole registry; give no namespace")
		}
		return c.verifyUsage(ctx, f, *repair)
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

// verifyUsage is `usage --verify` / `--repair`: the stored counted-once
// figures against a from-scratch pass over the registry.
func (c *cli) verifyUsage(ctx context.Context, f *flags, repair bool) error {
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	var diffs []store.UsageDifference
	if repair {
		diffs, err = svc.RepairUsage(ctx, p, nil)
	} else {
		diffs, err = s.VerifyUsage(ctx)
	}
	if err != nil {
		return err
	}
	if f.json() {
		if diffs == nil {
			diffs = []store.UsageDifference{}
		}
		if err := c.printJSON(map[string]any{"equal": len(diffs) == 0, "repaired": repair && len(diffs) > 0, "differences": diffs}); err != nil {
			return err
		}
	} else {
		for _, d := range diffs {
			fmt.Fprintln(c.stdout, d.String())
		}
		switch {
		case len(diffs) == 0:
			fmt.Fprintln(c.stdout, "usage verified: every stored figure equals the full pass")
		case repair:
			fmt.Fprintf(c.stdout, "%d differences; the stored figures were rebuilt from the full pass (audited as usage.repair). Please report the differences: each one is a bug.\n", len(diffs))
		default:
			fmt.Fprintf(c.stdout, "%d differences between the stored figures and the full pass; `layerwise usage --repair` rebuilds them. Please report them: each one is a bug.\n", len(diffs))
		}
	}
	if len(diffs) > 0 && !repair {
		return fmt.Errorf("usage verification failed: %d differences", len(diffs))
	}
	return nil
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
