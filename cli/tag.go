package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"layerwise/change"
	"layerwise/format"
	"layerwise/store"
)

// cmdTag follows oc tag: `tag SRC DST...` and `tag -d DST...`.
func (c *cli) cmdTag(ctx context.Context, args []string) error {
	f := c.newWriteFlags("tag", false)
	del := f.Bool("d", false, "delete the given tags")
	f.BoolVar(del, "delete", false, "delete the given tags")
	alias := f.Bool("alias", false, "make DST track SRC (same stream only)")
	scheduled := f.Bool("scheduled", false, "re-import an external image periodically")
	insecure := f.Bool("insecure", false, "allow HTTP or unverified TLS for the import")
	reference := f.Bool("reference", false, "record the external pull spec without importing it")
	refPolicy := f.String("reference-policy", "source", "source or local")
	importMode := f.String("import-mode", "", "Legacy or PreserveOriginal (external images)")
	source := f.String("source", "", "read SRC as istag, isimage or docker")
	mirror := c.mirrorFlag(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if *del {
		if len(pos) == 0 {
			return usagef("tag -d: name at least one NS/STREAM:TAG")
		}
		s, svc, p, err := f.openChange(ctx, nil)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, a := range pos {
			ref, err := store.ParseTagRef(a, *f.ns)
			if err != nil {
				return err
			}
			if err := svc.DeleteTag(ctx, p, ref); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Deleted tag %s/%s:%s\n", ref.Namespace, ref.Stream, ref.Tag)
		}
		return nil
	}
	if len(pos) < 2 {
		return usagef("tag: want SRC and at least one DST, e.g. `tag team-a/api:latest team-a/api:prod`")
	}
	policy, err := referencePolicy(*refPolicy)
	if err != nil {
		return err
	}
	src, err := store.ParseSource(pos[0], *f.ns, *source)
	if err != nil {
		return err
	}
	opt := store.TagOptions{Alias: *alias, Scheduled: *scheduled, Insecure: *insecure, Reference: *reference,
		ReferencePolicy: policy, ImportMode: *importMode}
	m, err := mirror()
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, m)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, a := range pos[1:] {
		dst, err := store.ParseTagRef(a, *f.ns)
		if err != nil {
			return err
		}
		res, err := svc.SetTag(ctx, p, src, dst, opt)
		if err != nil {
			return err
		}
		c.printTagResult(res, src, opt)
	}
	return nil
}

func referencePolicy(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "source":
		return "Source", nil
	case "local":
		return "Local", nil
	}
	return "", usagef("--reference-policy %q: want source or local", v)
}

// printTagResult says what happened in oc's words.
func (c *cli) printTagResult(res store.TagResult, src store.Source, opt store.TagOptions) {
	dst := res.Tag.Stream + ":" + res.Tag.Tag
	switch {
	case res.NoOp():
		c.nothingChanged("Tag %s was already set to %s", dst, res.Spec)
	case opt.Alias:
		fmt.Fprintf(c.stdout, "Tag %s set up to track %s.\n", dst, src.Stream+":"+src.Tag)
	case opt.Scheduled:
		fmt.Fprintf(c.stdout, "Tag %s set to import %s periodically.\n", dst, res.Spec)
	default:
		fmt.Fprintf(c.stdout, "Tag %s set to %s.\n", dst, res.Spec)
	}
	switch {
	case res.Image == "" && src.Kind == store.KindDockerImage && !opt.Reference && strings.Contains(src.Ref, "@"):
		// A digest no tag of the namespace holds is not borrowed from
		// another namespace: it is recorded until read from its registry.
		fmt.Fprintf(c.stdout, "  %s records %s unverified (not read from its registry, no image linked): run `layerwise import-image %s --from %s` to read it.\n",
			dst, src.Ref, res.Tag, src.Ref)
	case res.Image == "" && src.Kind == store.KindDockerImage && !opt.Reference:
		fmt.Fprintf(c.stdout, "  %s has no image yet: run `layerwise import-image %s --from %s` to import it.\n",
			dst, res.Tag, src.Ref)
	}
}

func (c *cli) cmdPromote(ctx context.Context, args []string) error {
	f := c.newWriteFlags("promote", false)
	to := f.String("to", "", "destination tag (default: the next step of the namespace's ladder)")
	mirror := c.mirrorFlag(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("promote: want one NS/STREAM:TAG, e.g. `promote team-a/api:latest`")
	}
	ref, err := store.ParseTagRef(pos[0], *f.ns)
	if err != nil {
		return err
	}
	m, err := mirror()
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, m)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := svc.Promote(ctx, p, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream}, ref.Tag, *to)
	if err != nil {
		return err
	}
	if res.NoOp() {
		c.nothingChanged("%s:%s already had %s", ref.Stream, res.Tag.Tag, res.Image)
		return nil
	}
	fmt.Fprintf(c.stdout, "Promoted %s:%s to %s: %s\n", ref.Stream, ref.Tag, res.Tag.Tag, res.Image)
	return nil
}

func (c *cli) cmdRollback(ctx context.Context, args []string) error {
	f := c.newWriteFlags("rollback", false)
	mirror := c.mirrorFlag(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("rollback: want NS/STREAM:TAG and optionally the sha256 digest to make current")
	}
	ref, err := store.ParseTagRef(pos[0], *f.ns)
	if err != nil {
		return err
	}
	digest := ""
	if len(pos) == 2 {
		digest = pos[1]
	}
	m, err := mirror()
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, m)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := svc.Rollback(ctx, p, ref, digest)
	if err != nil {
		return err
	}
	if res.NoOp() {
		c.nothingChanged("%s is already at %s", ref, res.Image)
	} else {
		fmt.Fprintf(c.stdout, "Rolled back %s to %s.\n", ref, res.Image)
	}
	return nil
}

func (c *cli) streamCommand(ctx context.Context, verb string, args []string, fn func(*change.Service, *store.Principal, store.StreamRef) error) error {
	f := c.newWriteFlags(verb, false)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "is" && pos[0] != "imagestream") {
		return usagef("%s: want `%s is NS/STREAM`", verb, verb)
	}
	ref, err := store.ParseStreamRef(pos[1], *f.ns)
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(svc, p, ref)
}

func (c *cli) cmdCreate(ctx context.Context, args []string) error {
	return c.streamCommand(ctx, "create", args, func(svc *change.Service, p *store.Principal, ref store.StreamRef) error {
		if err := svc.CreateStream(ctx, p, ref); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "imagestream.image.openshift.io/%s created in %s\n", ref.Stream, ref.Namespace)
		return nil
	})
}

func (c *cli) cmdDelete(ctx context.Context, args []string) error {
	return c.streamCommand(ctx, "delete", args, func(svc *change.Service, p *store.Principal, ref store.StreamRef) error {
		if err := svc.DeleteStream(ctx, p, ref); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "imagestream.image.openshift.io %q deleted from %s (images stay until prune)\n", ref.Stream, ref.Namespace)
		return nil
	})
}

func (c *cli) cmdNamespace(ctx context.Context, args []string) error {
	f := c.newWriteFlags("namespace", false)
	// Read through f.Visit below: only the flags given change anything.
	f.String("contacts", "", "comma-separated e-mail addresses that get the weekly report")
	f.String("threshold", "", "usage threshold for the weekly report, e.g. 50GiB; \"default\" clears it")
	f.String("ladder", "", "promotion ladder, e.g. latest,test,prod; \"default\" clears it")
	f.String("keep-tag-revisions", "", "this namespace's prune policy: revisions kept per tag (0-1000); \"default\" clears it")
	f.String("keep-younger-than", "", "this namespace's prune policy: keep revisions younger than this (96h, 14d); \"default\" clears it")
	rulesText := f.String("rules", "", "the namespace's retention rules, one per line or separated by ';' (e.g. '^v\\d+\\.\\d+\\.\\d+$ never; ^pr-\\d+$ keep 1'); \"none\" removes them")
	rulesFile := f.String("rules-file", "", "read the retention rules from this file, one per line ('-': standard input)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "set" {
		return usagef("namespace: want `namespace set NS [--contacts a@x,b@y] [--threshold 50GiB] [--ladder latest,test,prod] [--rules RULES | --rules-file FILE]`")
	}
	// Only the flags given change anything; the rules are the settings
	// form's (store.SettingsInput).
	var in store.SettingsInput
	f.Visit(func(fl *flagT) {
		v := fl.Value.String()
		switch fl.Name {
		case "contacts":
			in.Contacts = &v
		case "threshold":
			in.Threshold = &v
		case "ladder":
			in.Ladder = &v
		case "keep-tag-revisions":
			in.KeepTagRevisions = &v
		case "keep-younger-than":
			in.KeepYoungerThan = &v
		}
	})
	set, field, err := in.Parse()
	if err != nil {
		flag := map[string]string{"keep": "keep-tag-revisions", "younger": "keep-younger-than"}[field]
		if flag == "" {
			flag = field
		}
		return usagef("--%s: %v", flag, err)
	}
	rules, err := c.rulesFlags(f, *rulesText, *rulesFile)
	if err != nil {
		return err
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	changed, err := svc.SetNamespace(ctx, p, pos[1], set)
	if err != nil {
		return err
	}
	if rules != nil {
		ruled, err := svc.SetRetentionRules(ctx, p, pos[1], rules)
		if err != nil {
			return err
		}
		changed = changed || ruled
	}
	if !changed {
		c.nothingChanged("namespace %s: the settings were already these", pos[1])
	}
	ns, err := s.GetNamespace(ctx, pos[1])
	if err != nil {
		return err
	}
	th := "default"
	if ns.ThresholdBytes != nil {
		th = format.Size(*ns.ThresholdBytes)
	}
	ld, _ := s.Ladder(ctx, ns.Name)
	fmt.Fprintf(c.stdout, "namespace %s: contacts %s; threshold %s; ladder %s\n", ns.Name,
		orNone(strings.Join(ns.ContactList(), ", ")), th, strings.Join(ld, " → "))
	if ns.PruneKeepTagRevisions != nil || ns.PruneKeepYoungerThan != nil {
		p := ns.PrunePolicy(store.Policy{KeepTagRevisions: -1, KeepYoungerThan: -1})
		k, y := "default", "default"
		if p.KeepTagRevisions >= 0 {
			k = strconv.Itoa(p.KeepTagRevisions)
		}
		if p.KeepYoungerThan >= 0 {
			y = p.KeepYoungerThan.String()
		}
		fmt.Fprintf(c.stdout, "namespace %s: prune keeps %s revisions per tag, younger than %s\n", ns.Name, k, y)
	}
	have, err := s.RetentionRules(ctx, ns.Name)
	if err != nil {
		return err
	}
	for i, r := range have {
		fmt.Fprintf(c.stdout, "namespace %s: retention rule %d: %s\n", ns.Name, i+1, r)
	}
	return nil
}

// rulesFlags reads --rules or --rules-file (nil: neither was given).
func (c *cli) rulesFlags(f *flags, text, file string) ([]store.RetentionRule, error) {
	given := map[string]bool{}
	f.Visit(func(fl *flagT) { given[fl.Name] = true })
	flag := "--rules"
	switch {
	case given["rules"] && given["rules-file"]:
		return nil, usagef("give --rules or --rules-file, not both")
	case given["rules-file"]:
		flag = "--rules-file"
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(io.LimitReader(c.stdin, 1<<20))
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("--rules-file: %w", err)
		}
		text = string(b)
	case !given["rules"]:
		return nil, nil
	}
	rules, err := store.ParseRetentionRules(text)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	return rules, nil
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
