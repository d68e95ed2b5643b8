package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

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
	// The stored figures: bytes as of now, reclaimable ones as of the
	// stored prune plan (computed here when there is none yet).
	head, err := c.usageHead(ctx, s, p)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if err := store.ValidateNamespace(pos[0]); err != nil {
			return err
		}
		n, err := s.ReadNamespaceUsageFull(ctx, pos[0])
		if err != nil {
			return err
		}
		if f.json() {
			return writeUsageJSON(c.stdout, head, func(yield func(store.NamespaceUsage) error) error { return yield(n) })
		}
		return c.printNamespaceUsage(n)
	}
	if f.json() {
		return writeUsageJSON(c.stdout, head, func(yield func(store.NamespaceUsage) error) error {
			return s.EachNamespaceUsage(ctx, yield)
		})
	}
	ranked, err := s.ReadNamespaces(ctx, store.NamespaceQuery{Order: "size"})
	if err != nil {
		return err
	}
	return c.printRegistryUsage(head, ranked.Rows)
}

// usageHead reads the registry's stored figures. With no stored prune plan
// yet (a database no server has run on) it computes one with policy p, as
// the server's plan job would; a plan of another policy is used as it is,
// with a note saying so.
func (c *cli) usageHead(ctx context.Context, s *store.Store, p store.Policy) (store.Usage, error) {
	h, err := s.ReadUsageHead(ctx)
	if err != nil {
		return store.Usage{}, err
	}
	if h.PlanComputedAt.IsZero() {
		if _, err := s.ComputePlanSummary(ctx, p); err != nil {
			return store.Usage{}, err
		}
		if h, err = s.ReadUsageHead(ctx); err != nil {
			return store.Usage{}, err
		}
	} else if sum, err := s.ReadPlanSummary(ctx); err == nil && sum.Policy != p {
		fmt.Fprintf(c.stderr, "note: reclaimable bytes are the stored prune plan's, computed %s with --keep-tag-revisions=%d --keep-younger-than=%s\n",
			sum.ComputedAt.Format(time.RFC3339), sum.Policy.KeepTagRevisions, sum.Policy.KeepYoungerThan)
	}
	return store.Usage{Registry: h.Registry, ComputedAt: s.Now(), PullsRecordedSince: h.PullsRecordedSince, PlanComputedAt: h.PlanComputedAt}, nil
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

// printRegistryUsage prints the registry and its namespaces, biggest first.
func (c *cli) printRegistryUsage(u store.Usage, ns []store.NamespaceFigures) error {
	fmt.Fprintf(c.stdout, "Registry: %s in %d blobs, shared layers counted once; prune would free %s\n",
		size(u.Registry.Bytes), u.Registry.Blobs, size(u.Registry.ReclaimableBytes))
	if u.Registry.UnknownImages > 0 {
		fmt.Fprintf(c.stdout, "  %d images have no layer data (only their digests were imported): their bytes are not counted\n", u.Registry.UnknownImages)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nNAMESPACE\tSTREAMS\tSIZE\tEXCLUSIVE\tRECLAIMABLE\t")
	for _, n := range ns {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t\n", n.Name, n.StreamCount, size(n.Bytes), size(n.ExclusiveBytes), size(n.ReclaimableBytes))
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
