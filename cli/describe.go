package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"layerwise/format"
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

func kv(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, "\n\t\t\t")
}

// describeStream prints a stream in the manner of `oc describe is`.
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
	now := s.Now()
	w := tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)
	fmt.Fprintf(w, "Name:\t%s\n", st.Name)
	fmt.Fprintf(w, "Namespace:\t%s\n", st.Namespace)
	fmt.Fprintf(w, "Created:\t%s\n", format.Ago(st.Created, now))
	fmt.Fprintf(w, "Labels:\t%s\n", kv(st.Labels))
	fmt.Fprintf(w, "Annotations:\t%s\n", kv(st.Annotations))
	fmt.Fprintf(w, "Docker Pull Spec:\t%s\n", orNone(st.PullSpec))
	fmt.Fprintf(w, "Image Lookup:\tlocal=%t\n", st.LookupLocal)
	fmt.Fprintf(w, "Unique Images:\t%d\n", sizes.UniqueImages)
	fmt.Fprintf(w, "Tags:\t%d\n", len(st.Tags))
	sizeLine := format.Size(sizes.Bytes) + " (shared layers counted once)"
	if n := len(sizes.Unknown); n > 0 {
		sizeLine += fmt.Sprintf("; %d of the images have no layer data, their size is unknown", n)
	}
	fmt.Fprintf(w, "Size:\t%s\n", sizeLine)
	for i, r := range rules {
		label := ""
		if i == 0 {
			label = "Retention Rules:"
		}
		fmt.Fprintf(w, "%s\t%d. %s\n", label, i+1, r)
	}
	w.Flush()

	tags := append([]store.TagSnapshot(nil), st.Tags...)
	store.OrderTags(tags, func(t store.TagSnapshot) string { return t.Name })
	for _, t := range tags {
		fmt.Fprintf(out, "\n%s\n", t.Name)
		describeTagSource(out, st, t)
		if c := t.Condition; c != nil && c.Status == "False" {
			fmt.Fprintf(out, "\n  ! error: Import failed (%s): %s\n", c.Reason, c.Message)
			if c.Time != nil {
				fmt.Fprintf(out, "      %s\n", format.Ago(*c.Time, now))
			}
		}
		if len(t.Items) > 0 {
			fmt.Fprintln(out)
		}
		for i, it := range t.Items {
			mark := " "
			if i == 0 {
				mark = "*"
			}
			pull := it.DockerImageReference
			if pull == "" {
				pull = it.Image
			}
			fmt.Fprintf(out, "  %s %s\n", mark, pull)
			line := format.Ago(it.Created, now)
			switch {
			case sizes.Unknown[it.Image]:
				line += ", size unknown"
			case it.Image != "":
				line += ", " + format.Size(sizes.Images[it.Image])
			}
			fmt.Fprintf(out, "      %s\n", line)
			describeRetention(out, retention[t.Name], i, it.Image, now)
		}
		if len(t.Items) == 0 && (t.Condition == nil || t.Condition.Status != "False") {
			fmt.Fprintln(out, "  no image yet")
		}
	}
	return nil
}

func describeTagSource(out io.Writer, st store.StreamSnapshot, t store.TagSnapshot) {
	if t.From == nil {
		if !t.InSpec {
			fmt.Fprintln(out, "  pushed image")
		}
		return
	}
	from := t.From.Name
	if t.From.Namespace != "" && t.From.Namespace != st.Namespace {
		from = t.From.Namespace + "/" + from
	}
	switch {
	case t.Reference:
		fmt.Fprintf(out, "  reference to registry %s\n", from)
	case t.Scheduled && t.From.Kind == store.KindDockerImage:
		fmt.Fprintf(out, "  updates automatically from registry %s\n", from)
	case t.From.Kind == store.KindImageStreamTag && !strings.Contains(from, "/") && isSameStreamTag(st.Name, t.From.Name):
		fmt.Fprintf(out, "  tagged from %s (tracking)\n", from)
	default:
		fmt.Fprintf(out, "  tagged from %s\n", from)
	}
	if t.Insecure {
		fmt.Fprintln(out, "    will use insecure HTTPS or HTTP connections")
	}
	if t.ReferencePolicy == "Local" {
		fmt.Fprintln(out, "    prefer registry pullthrough when referencing this tag")
	}
	if t.ImportMode == "PreserveOriginal" {
		fmt.Fprintln(out, "    keeps every platform of a manifest list (PreserveOriginal)")
	}
}

func isSameStreamTag(stream, from string) bool {
	name, _, ok := strings.Cut(from, ":")
	return !ok || name == stream
}

// describeTag prints a tag's current image in the manner of `oc describe istag`.
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
	now := s.Now()
	if len(tag.Items) == 0 || tag.Items[0].Image == "" {
		fmt.Fprintf(out, "Tag:\t\t%s\n", ref)
		describeTagSource(out, st, *tag)
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
	w := tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)
	fmt.Fprintf(w, "Image Name:\t%s\n", img.Digest)
	fmt.Fprintf(w, "Docker Image:\t%s\n", orNone(cur.DockerImageReference))
	fmt.Fprintf(w, "Name:\t%s\n", img.Digest)
	fmt.Fprintf(w, "Created:\t%s\n", format.Ago(cur.Created, now))
	if c := tag.Condition; c != nil && c.Status == "False" {
		fmt.Fprintf(w, "Import:\tfailed (%s): %s\n", c.Reason, c.Message)
	}
	if !img.Known {
		fmt.Fprintf(w, "Image Size:\tunknown: the image's metadata was never imported\n")
		w.Flush()
		return nil
	}
	if len(img.Manifests) > 0 {
		fmt.Fprintf(w, "Image Size:\t%s in %d platforms\n", format.Size(img.Bytes), len(img.Manifests))
		for i, m := range img.Manifests {
			label := ""
			if i == 0 {
				label = "Manifests:"
			}
			platform := m.OS + "/" + m.Architecture
			if m.Variant != "" {
				platform += "/" + m.Variant
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", label, platform, m.Digest)
		}
		w.Flush()
		return nil
	}
	fmt.Fprintf(w, "Image Size:\t%s in %s\n", format.Size(img.Bytes), plural(len(img.Layers), "layer"))
	for i, l := range img.Layers {
		label := ""
		if i == 0 {
			label = "Layers:"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", label, format.Size(l.Size), l.Digest)
	}
	if img.Config != nil {
		fmt.Fprintf(w, "Config:\t%s\t%s\n", format.Size(img.Config.Size), img.Config.Digest)
	}
	m := img.Meta
	created := "<none>"
	if m.Created != nil {
		created = format.Ago(*m.Created, now)
	}
	fmt.Fprintf(w, "Image Created:\t%s\n", created)
	fmt.Fprintf(w, "Author:\t%s\n", orNone(m.Author))
	fmt.Fprintf(w, "Arch:\t%s\n", orNone(m.Architecture))
	fmt.Fprintf(w, "Entrypoint:\t%s\n", orNone(strings.Join(m.Entrypoint, " ")))
	fmt.Fprintf(w, "Command:\t%s\n", orNone(strings.Join(m.Cmd, " ")))
	fmt.Fprintf(w, "Working Dir:\t%s\n", orNone(m.WorkingDir))
	fmt.Fprintf(w, "User:\t%s\n", orNone(m.User))
	fmt.Fprintf(w, "Exposes Ports:\t%s\n", orNone(strings.Join(m.Ports, ", ")))
	fmt.Fprintf(w, "Docker Labels:\t%s\n", strings.ReplaceAll(kv(m.Labels), "\n\t\t\t", "\n\t"))
	env := "<none>"
	if len(m.Env) > 0 {
		env = strings.Join(m.Env, "\n\t")
	}
	fmt.Fprintf(w, "Environment:\t%s\n", env)
	w.Flush()
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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

// describeRetention prints why the i-th revision of a tag is kept, when it
// becomes prunable and when it was last pulled.
func describeRetention(out io.Writer, list []store.EntryRetention, i int, image string, now time.Time) {
	if i >= len(list) || list[i].Position != i || list[i].Image != image {
		return // the history changed between the two reads
	}
	e := list[i]
	r := e.Retention
	switch on := r.PrunableAt(); {
	case !r.Kept():
		fmt.Fprintf(out, "      prunable: %s\n", r.Text())
	case !on.IsZero():
		fmt.Fprintf(out, "      kept: %s; prunable on %s\n", r.Text(), on.Format("2006-01-02 15:04 UTC"))
	default:
		fmt.Fprintf(out, "      kept: %s\n", r.Text())
	}
	if !e.LastPulled.IsZero() {
		fmt.Fprintf(out, "      last pulled %s\n", format.Ago(e.LastPulled, now))
	}
}
