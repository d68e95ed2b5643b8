package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"layerwise/change"
	"layerwise/jobs"
	"layerwise/jobs/registry"
	"layerwise/store"
)

func (c *cli) cmdPrune(ctx context.Context, args []string) error {
	f := c.newWriteFlags("prune", true)
	policy := c.policyFlags(f)
	confirm := f.Bool("confirm", false, "apply the plan; without it prune is a dry run")
	showKept := f.Bool("show-kept", false, "also list the revisions that stay, with why and the date each would become prunable")
	regURL := f.String("registry-url", c.env("LAYERWISE_REGISTRY_URL", ""), "the managed registry: delete pruned manifests there (LAYERWISE_REGISTRY_URL)")
	authFile := f.String("registry-auth-file", c.env("LAYERWISE_REGISTRY_AUTH_FILE", ""), "registry credentials, a .dockerconfigjson (LAYERWISE_REGISTRY_AUTH_FILE)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("prune: unexpected argument %q (prune takes flags only)", pos[0])
	}
	p, err := policy()
	if err != nil {
		return err
	}
	set := jobs.PruneSettings{Policy: p}
	if *regURL != "" {
		if set.Registry, err = registry.NewDeleter(*regURL, *authFile); err != nil {
			return usagef("--registry-url: %v", err)
		}
	}
	s, svc, who, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	plan, err := s.PlanPruneWith(ctx, p, nil, store.PlanOptions{Kept: *showKept})
	if err != nil {
		return err
	}
	if !*confirm {
		if f.json() {
			if *showKept {
				return writePlanJSON(c.stdout, withKept{PrunePlan: plan}, plan)
			}
			return writePlanJSON(c.stdout, plan, plan)
		}
		c.printPlan(plan, true)
		return nil
	}
	plan.DryRun = false
	// Refused before the plan is printed as being applied (the Service
	// checks again).
	if err := change.NeedPlatformAdmin(who, "prune"); err != nil {
		return err
	}
	if !f.json() {
		c.printPlan(plan, false)
	}
	// A CLI run shows on /jobs like the nightly one.
	set.RecordRun = true
	out, perr := svc.Prune(ctx, who, set, "cli", plan)
	if perr != nil {
		return fmt.Errorf("prune: %w", perr)
	}
	if f.json() {
		if *showKept {
			return writePlanJSON(c.stdout, struct {
				*store.PrunePlan
				Applied jobs.PruneOutcome     `json:"applied"`
				Kept    []store.PruneRevision `json:"kept"`
			}{plan, out, nil}, plan)
		}
		return writePlanJSON(c.stdout, struct {
			*store.PrunePlan
			Applied jobs.PruneOutcome `json:"applied"`
		}{plan, out}, plan)
	}
	fmt.Fprintf(c.stdout, "\nSummary: %s\n", out.Summary())
	if !out.Changed() {
		c.nothingChanged("prune")
	}
	return nil
}

// printPlan prints a plan in the manner of `oc adm prune images`: what goes
// from which stream, the images, then a summary line.
func (c *cli) printPlan(p *store.PrunePlan, dry bool) {
	w := c.stdout
	if dry {
		fmt.Fprintln(w, "Dry run enabled - no modifications will be made. Add --confirm to remove images")
	}
	fmt.Fprintf(w, "\nPolicy: keep the newest %d revisions of every tag and every revision younger than %s; never the current one, a pinned image or an image in use on the cluster.\n",
		p.Policy.KeepTagRevisions, p.Policy.KeepYoungerThan)
	if p.Hold != nil {
		fmt.Fprintf(w, "\nHeld: %s\n", p.Hold.Text())
	}
	for _, n := range p.Namespaces {
		if n.Override {
			fmt.Fprintf(w, "  namespace %s: keep %d revisions, younger than %s\n", n.Name, n.Policy.KeepTagRevisions, n.Policy.KeepYoungerThan)
		}
		for i, r := range n.Rules {
			fmt.Fprintf(w, "  namespace %s rule %d: %s\n", n.Name, i+1, r)
		}
	}
	streams := map[string]bool{}
	if len(p.Revisions) > 0 {
		fmt.Fprintln(w, "\nDeleting references from image streams to images ...")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "STREAM\tTAG\tIMAGE\tCREATED")
		for _, r := range p.Revisions {
			streams[r.Namespace+"/"+r.Stream] = true
			img := r.Image
			if img == "" {
				img = "(no image)"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", r.Namespace, r.Stream, r.Tag, img, r.Created.Format("2006-01-02T15:04:05Z"))
		}
		tw.Flush()
	}
	if len(p.Images) > 0 {
		fmt.Fprintln(w, "\nDeleting images ...")
		fmt.Fprintln(w, "IMAGE")
		for _, img := range p.Images {
			fmt.Fprintln(w, img)
		}
	}
	if p.Kept != nil {
		fmt.Fprintln(w, "\nKeeping revisions ...")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "STREAM\tTAG\tIMAGE\tCREATED\tWHY\tPRUNABLE ON")
		for _, r := range p.Kept {
			img := r.Image
			if img == "" {
				img = "(no image)"
			}
			on := "-"
			if t := r.Retention.PrunableAt(); !t.IsZero() {
				on = t.Format("2006-01-02T15:04:05Z")
			}
			why := r.Retention.Text()
			if r.InUseBy != "" {
				why = r.InUseBy
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Stream, r.Tag, img, r.Created.Format("2006-01-02T15:04:05Z"), why, on)
		}
		tw.Flush()
	}
	verb := "would delete"
	if !dry {
		verb = "deleting"
	}
	fmt.Fprintf(w, "\nSummary: %s %d image stream revisions in %d streams, %d images, %d blobs, freeing %s\n",
		verb, len(p.Revisions), len(streams), len(p.Images), p.Blobs, size(p.BytesFreed))
}
