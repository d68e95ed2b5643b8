package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"layerwise/format"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

func (c *cli) cmdDescribe(ctx context.Context, args []string) error {
	f := c.newFlags("describe", false)
	policy := c.policyFlags(f) // the platform's, for why each revision is kept
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("describe: want `describe is NS/STREAM` or `describe istag NS/STREAM:TAG`")
	}
	kind, name := pos[0], pos[1]
	// oc also accepts is/NAME and istag/NAME:TAG.
	if k, n, ok := strings.Cut(kind, "/"); ok && name == "" {
		kind, name = k, n
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	switch kind {
	case "is", "imagestream", "imagestreams":
		ref, err := store.ParseStreamRef(name, *f.ns)
		if err != nil {
			return err
		}
		p, err := policy()
		if err != nil {
			return err
		}
		return describeStream(ctx, s, ref, p, c.stdout)
	case "istag", "imagestreamtag", "imagestreamtags":
		ref, err := store.ParseTagRef(name, *f.ns)
		if err != nil {
			return err
		}
		return describeTag(ctx, s, ref, c.stdout)
	}
	return usagef("describe: unknown kind %q; want is or istag", kind)
}

// describeStream prints a stream as `oc describe is` does (oc's lines, in
// its order and words), then Layerwise's sizes, counted once.
func describeStream(ctx context.Context, s *store.Store, ref store.StreamRef, policy store.Policy, out io.Writer) error {
	st, err := s.GetStream(ctx, ref)
	if err != nil {
		return err
	}
	retention, rules, err := streamRetention(ctx, s, ref, policy)
	if err != nil {
		return err
	}
	sizes, err := s.StreamSizes(ctx, ref)
	if err != nil {
		return err
	}
	if err := openshift.DescribeStream(out, st, s.Now()); err != nil {
		return err
	}
	// Layerwise's additions, after oc's lines.
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)
	size := format.Size(sizes.Bytes) + " (shared layers counted once)"
	if n := len(sizes.Unknown); n > 0 {
		size += fmt.Sprintf("; %d of the images have no layer data, their size is unknown", n)
	}
	fmt.Fprintf(w, "Size:\t%s\n", size)
	for i, r := range rules {
		label := ""
		if i == 0 {
			label = "Retention Rules:"
		}
		fmt.Fprintf(w, "%s\t%d. %s\n", label, i+1, r)
	}
	tags := append([]store.TagSnapshot(nil), st.Tags...)
	store.OrderTags(tags, func(t store.TagSnapshot) string { return t.Name })
	for _, t := range tags {
		if len(t.Items) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\t%s\n", t.Name, format.Size(sizes.Tags[t.Name]))
		for i, it := range t.Items {
			mark := " "
			if i == 0 {
				mark = "*"
			}
			what, size := it.Image, format.Size(sizes.Images[it.Image])
			switch {
			case it.Image == "":
				what, size = it.DockerImageReference, "no image (a pull spec)"
			case sizes.Unknown[it.Image]:
				size = "size unknown"
			}
			fmt.Fprintf(w, "    %s %s\t%s\n", mark, what, size)
			if why := retentionLine(retention[t.Name], i, it.Image, s.Now()); why != "" {
				fmt.Fprintf(w, "        %s\n", why)
			}
		}
	}
	return w.Flush()
}

// describeTag prints a tag's current image as `oc describe istag` does,
// then Layerwise's lines: the size counted once and what it is made of.
func describeTag(ctx context.Context, s *store.Store, ref store.TagRef, out io.Writer) error {
	st, err := s.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("image stream tag %s not found: %w", ref, err)
		}
		return err
	}
	var tag *store.TagSnapshot
	for i := range st.Tags {
		if st.Tags[i].Name == ref.Tag {
			tag = &st.Tags[i]
		}
	}
	if tag == nil {
		return fmt.Errorf("image stream tag %s not found", ref)
	}
	if len(tag.Items) == 0 || tag.Items[0].Image == "" {
		// oc has no image to describe here; say what the tag holds.
		fmt.Fprintf(out, "Tag:\t\t%s\n", ref)
		if t := tagSource(st, *tag); t != "" {
			fmt.Fprintf(out, "  %s\n", t)
		}
		if c := tag.Condition; c != nil && c.Status == "False" {
			fmt.Fprintf(out, "! error: Import failed (%s): %s\n", c.Reason, c.Message)
		}
		if len(tag.Items) > 0 {
			fmt.Fprintf(out, "Reference:\t%s\n", tag.Items[0].DockerImageReference)
		} else {
			fmt.Fprintln(out, "No image yet.")
		}
		return nil
	}
	cur := tag.Items[0]
	img, err := s.GetImage(ctx, cur.Image)
	if err != nil {
		return err
	}
	if cur.DockerImageReference != "" {
		// An ImageStreamTag's image carries the tag's pull spec.
		img.DockerImageReference = cur.DockerImageReference
	}
	if !img.Known {
		w := tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)
		fmt.Fprintf(w, "Image Name:\t%s\nDocker Image:\t%s\nName:\t%s\n", img.Digest, img.DockerImageReference, img.Digest)
		fmt.Fprintf(w, "Image Size:\tunknown: the image's metadata was never imported\n")
		return w.Flush()
	}
	if err := openshift.DescribeImage(out, img.ImageSnapshot, img.Digest, img.Bytes, s.Now()); err != nil {
		return err
	}
	// Layerwise's additions, after oc's lines.
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)
	what := "config, distinct layers and manifest where the registry stores them, counted once"
	if len(img.Manifests) > 0 {
		what = fmt.Sprintf("every platform of the list (%d), blobs counted once", len(img.Manifests))
	}
	fmt.Fprintf(w, "Size:\t%s (%s)\n", format.Size(img.Bytes), what)
	if c := img.Config; c != nil {
		note := ""
		if c.Derived {
			note = "\t(derived from dockerImageMetadata.Size: no manifest gave it)"
		}
		fmt.Fprintf(w, "Config:\t%s\t%s%s\n", format.Size(c.Size), c.Digest, note)
	} else if img.ConfigDigest != "" {
		fmt.Fprintf(w, "Config:\tsize unknown\t%s\n", img.ConfigDigest)
	}
	if m := img.Manifest; m != nil {
		fmt.Fprintf(w, "Manifest:\t%s\t(stored by the registry)\n", format.Size(m.Size))
	}
	if c := tag.Condition; c != nil && c.Status == "False" {
		// oc shows a failed import on the stream only; the tag keeps its image.
		fmt.Fprintf(w, "Import:\tfailed (%s): %s\n", c.Reason, c.Message)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	refs, err := s.ReferrersOf(ctx, img.Digest)
	if err != nil {
		return err
	}
	return openshift.DescribeReferrers(out, refs, s.Now())
}

// tagSource says where a tag without an image comes from, in oc's words.
func tagSource(st store.StreamSnapshot, t store.TagSnapshot) string {
	if !t.InSpec {
		return "no spec tag"
	}
	if t.From == nil {
		return "tag without source image"
	}
	from := t.From.Name
	if t.From.Namespace != "" && t.From.Namespace != st.Namespace {
		from = t.From.Namespace + "/" + from
	}
	switch {
	case t.Reference && t.From.Kind == store.KindDockerImage:
		return "reference to registry " + from
	case t.Scheduled && t.From.Kind == store.KindDockerImage:
		return "updates automatically from registry " + from
	}
	return "tagged from " + from
}

// streamRetention is why each revision of a stream is kept (by tag, in
// history order) and the namespace's rules.
func streamRetention(ctx context.Context, s *store.Store, ref store.StreamRef, policy store.Policy) (map[string][]store.EntryRetention, []store.RetentionRule, error) {
	f, err := s.StreamFacts(ctx, ref, policy)
	if err != nil {
		return nil, nil, err
	}
	pulls, err := s.StreamPulls(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	return f.Evaluate(pulls, s.Now()), f.Rules, nil
}

// retentionLine says why the i-th revision of a tag is kept (or that it
// is prunable), when it becomes prunable and when it was last pulled.
func retentionLine(list []store.EntryRetention, i int, image string, now time.Time) string {
	if i >= len(list) || list[i].Position != i || list[i].Image != image {
		return "" // the history changed between the two reads
	}
	e := list[i]
	r := e.Retention
	line := "kept: " + r.Text()
	switch on := r.PrunableAt(); {
	case !r.Kept():
		line = "prunable: " + r.Text()
	case !on.IsZero():
		line += "; prunable on " + on.Format("2006-01-02 15:04 UTC")
	}
	if !e.LastPulled.IsZero() {
		line += "; last pulled " + format.Ago(e.LastPulled, now)
	}
	return line
}
