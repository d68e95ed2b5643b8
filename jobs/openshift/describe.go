package openshift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"layerwise/format"
	"layerwise/store"
)

// `oc describe is` and `oc describe istag`, line for line: a port of
// openshift/oc pkg/helpers/describe (DescribeImageStream,
// formatImageStreamTags, DescribeImage) onto the objects Export makes, so
// that the output is oc's in wording, order and white space (the same
// tabwriter, tabs for padding). The one deliberate difference: sizes are
// IEC ("1.5 MiB") where oc prints decimal units ("1.573MB"). Layerwise's
// own lines (sizes counted once) are the caller's, after these.

const emptyString = "<none>"

// describer writes oc's lines to a tabwriter configured as oc's.
type describer struct {
	out *tabwriter.Writer
	now time.Time
}

func newDescriber(w io.Writer, now time.Time) *describer {
	out := new(tabwriter.Writer)
	out.Init(w, 0, 8, 1, '\t', 0)
	return &describer{out: out, now: now}
}

func toString(v string) string {
	if v == "" {
		return emptyString
	}
	return v
}

func (d *describer) formatString(label, v string) {
	fmt.Fprintf(d.out, "%s:", label)
	for _, l := range strings.Split(toString(v), "\n") {
		fmt.Fprintf(d.out, "\t%s\n", l)
	}
}

func (d *describer) ago(t time.Time) string {
	return format.HumanDuration(d.now.Sub(t))
}

func (d *describer) formatTime(label string, t time.Time) {
	fmt.Fprintf(d.out, "%s:\t%s ago\n", label, d.ago(t))
}

// formatMapStringString is oc's: the first pair through formatString (its
// value split at newlines), the others written as they are.
func (d *describer) formatMapStringString(label string, items map[string]string) {
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		d.formatString(label, "")
		return
	}
	for i, k := range keys {
		if i == 0 {
			d.formatString(label, k+"="+items[k])
		} else {
			fmt.Fprintf(d.out, "%s\t%s=%s\n", "", k, items[k])
		}
	}
}

func (d *describer) formatAnnotations(annotations map[string]string) {
	rest := map[string]string{}
	for k, v := range annotations {
		rest[k] = v
	}
	desc := rest["description"]
	delete(rest, "description")
	if desc != "" {
		d.formatString("Description", desc)
	}
	d.formatMapStringString("Annotations", rest)
}

func parseAPITime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, *s)
	return t
}

// DescribeStream writes the stream as `oc describe is` prints it.
func DescribeStream(w io.Writer, s store.StreamSnapshot, now time.Time) error {
	a := streamToAPI(s)
	d := newDescriber(w, now)
	d.formatString("Name", a.Metadata.Name)
	if a.Metadata.Namespace != "" {
		d.formatString("Namespace", a.Metadata.Namespace)
	}
	if created := parseAPITime(a.Metadata.CreationTimestamp); !created.IsZero() {
		d.formatTime("Created", created)
	}
	d.formatMapStringString("Labels", a.Metadata.Labels)
	d.formatAnnotations(a.Metadata.Annotations)
	if a.Status.PublicDockerImageRepository != "" {
		d.formatString("Image Repository", a.Status.PublicDockerImageRepository)
	} else {
		d.formatString("Image Repository", a.Status.DockerImageRepository)
	}
	d.formatString("Image Lookup", fmt.Sprintf("local=%t", a.Spec.LookupPolicy.Local))
	d.formatImageStreamTags(&a)
	return d.out.Flush()
}

func specHasTag(a *apiStream, name string) (apiSpecTag, bool) {
	for _, t := range a.Spec.Tags {
		if t.Name == name {
			return t, true
		}
	}
	return apiSpecTag{}, false
}

func statusHasTag(a *apiStream, name string) (apiStatusTag, bool) {
	for _, t := range a.Status.Tags {
		if t.Tag == name {
			return t, true
		}
	}
	return apiStatusTag{}, false
}

// followTagReference is oc's FollowTagReference: the tag a chain of
// same-stream ImageStreamTag references ends at, and whether it went
// through any (an alias); ok false for a broken or circular chain.
func followTagReference(a *apiStream, tag string) (target string, multiple, ok bool) {
	seen := map[string]bool{}
	for {
		if seen[tag] {
			return tag, multiple, false
		}
		seen[tag] = true
		ref, found := specHasTag(a, tag)
		if !found {
			return tag, multiple, false
		}
		if ref.From == nil || ref.From.Kind != store.KindImageStreamTag {
			return tag, multiple, true
		}
		if ref.From.Namespace != "" && ref.From.Namespace != a.Metadata.Namespace {
			return tag, multiple, false
		}
		if name, t, hasColon := strings.Cut(ref.From.Name, ":"); hasColon {
			if t == "" {
				t = "latest"
			}
			if name != a.Metadata.Name {
				return tag, multiple, false
			}
			tag = t
		} else {
			tag = ref.From.Name
		}
		multiple = true
	}
}

func orderTags(tags []string) {
	store.OrderTags(tags, func(s string) string { return s })
}

// latestObservedTagGeneration is oc's: the generation the controller has
// seen for the tag (its newest entry's, or its import condition's).
func latestObservedTagGeneration(a *apiStream, tag string) int64 {
	st, ok := statusHasTag(a, tag)
	if !ok {
		return 0
	}
	last := int64(0)
	if len(st.Items) > 0 && st.Items[0].Generation > last {
		last = st.Items[0].Generation
	}
	for _, c := range st.Conditions {
		if c.Type != "ImportSuccess" {
			continue
		}
		if c.Generation > last {
			last = c.Generation
		}
		break
	}
	return last
}

// refID is the digest a pull spec names ("" for one by tag).
func refID(ref string) string {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		return ref[i+1:]
	}
	return ""
}

func (d *describer) formatImageStreamTags(a *apiStream) {
	out := d.out
	if len(a.Status.Tags) == 0 && len(a.Spec.Tags) == 0 {
		fmt.Fprintf(out, "Tags:\t<none>\n")
		return
	}
	images := map[string]bool{}
	for _, t := range a.Status.Tags {
		for _, it := range t.Items {
			// oc counts an entry with only a pull spec as one image, "".
			if it.Image != "" || it.DockerImageReference != "" {
				images[it.Image] = true
			}
		}
	}
	var sorted []string
	for _, t := range a.Status.Tags {
		sorted = append(sorted, t.Tag)
	}
	localReferences := map[string]bool{}
	referential := map[string][]string{}
	for _, t := range a.Spec.Tags {
		if target, multiple, ok := followTagReference(a, t.Name); ok && multiple {
			localReferences[t.Name] = true
			referential[target] = append(referential[target], t.Name)
		}
		if _, ok := statusHasTag(a, t.Name); !ok {
			sorted = append(sorted, t.Name)
		}
	}
	fmt.Fprintf(out, "Unique Images:\t%d\nTags:\t%d\n\n", len(images), len(sorted))

	first := true
	orderTags(sorted)
	for _, tag := range sorted {
		if localReferences[tag] {
			continue
		}
		if first {
			first = false
		} else {
			fmt.Fprintf(out, "\n")
		}
		taglist, _ := statusHasTag(a, tag)
		tagRef, hasSpecTag := specHasTag(a, tag)
		scheduled, insecure, importing := false, false, false
		var name string
		if hasSpecTag && tagRef.From != nil {
			if tagRef.From.Namespace != "" && tagRef.From.Namespace != a.Metadata.Namespace {
				name = tagRef.From.Namespace + "/" + tagRef.From.Name
			} else {
				name = tagRef.From.Name
			}
			scheduled, insecure = tagRef.ImportPolicy.Scheduled, tagRef.ImportPolicy.Insecure
			gen := latestObservedTagGeneration(a, tag)
			importing = !tagRef.Reference && tagRef.Generation != nil && *tagRef.Generation > gen
		}
		if refs := referential[tag]; len(refs) > 0 {
			refs = append([]string(nil), refs...)
			orderTags(refs)
			fmt.Fprintf(out, "%s (%s)\n", tag, strings.Join(refs, ", "))
		} else {
			fmt.Fprintf(out, "%s\n", tag)
		}
		switch {
		case !hasSpecTag:
			fmt.Fprintf(out, "  no spec tag\n")
		case tagRef.From == nil:
			fmt.Fprintf(out, "  tag without source image\n")
		case tagRef.From.Kind == store.KindImageStreamTag:
			switch {
			case tagRef.Reference:
				fmt.Fprintf(out, "  reference to %s\n", name)
			case scheduled:
				fmt.Fprintf(out, "  updates automatically from %s\n", name)
			default:
				fmt.Fprintf(out, "  tagged from %s\n", name)
			}
		case tagRef.From.Kind == store.KindDockerImage:
			switch {
			case tagRef.Reference:
				fmt.Fprintf(out, "  reference to registry %s\n", name)
			case scheduled:
				fmt.Fprintf(out, "  updates automatically from registry %s\n", name)
			default:
				fmt.Fprintf(out, "  tagged from %s\n", name)
			}
		case tagRef.From.Kind == store.KindImageStreamImage:
			if tagRef.Reference {
				fmt.Fprintf(out, "  reference to image %s\n", name)
			} else {
				fmt.Fprintf(out, "  tagged from %s\n", name)
			}
		default:
			if tagRef.Reference {
				fmt.Fprintf(out, "  reference to %s %s\n", tagRef.From.Kind, name)
			} else {
				fmt.Fprintf(out, "  updates from %s %s\n", tagRef.From.Kind, name)
			}
		}
		if insecure {
			fmt.Fprintf(out, "    will use insecure HTTPS or HTTP connections\n")
		}
		if tagRef.ReferencePolicy != nil && tagRef.ReferencePolicy.Type == "Local" {
			fmt.Fprintf(out, "    prefer registry pullthrough when referencing this tag\n")
		}
		fmt.Fprintln(out)

		extra := false
		if v := tagRef.Annotations["description"]; v != "" {
			fmt.Fprintf(out, "  %s\n", v)
			extra = true
		}
		if v := tagRef.Annotations["tags"]; v != "" {
			fmt.Fprintf(out, "  Tags: %s\n", strings.Join(strings.Split(v, ","), ", "))
			extra = true
		}
		if v := tagRef.Annotations["supports"]; v != "" {
			fmt.Fprintf(out, "  Supports: %s\n", strings.Join(strings.Split(v, ","), ", "))
			extra = true
		}
		if v := tagRef.Annotations["sampleRepo"]; v != "" {
			fmt.Fprintf(out, "  Example Repo: %s\n", v)
			extra = true
		}
		if extra {
			fmt.Fprintln(out)
		}
		if importing {
			fmt.Fprintf(out, "  ~ importing latest image ...\n")
		}
		for _, c := range taglist.Conditions {
			if c.Type == "ImportSuccess" && c.Status == "False" {
				at := parseAPITime(c.LastTransitionTime)
				fmt.Fprintf(out, "  ! error: Import failed (%s): %s\n      %s ago\n", c.Reason, c.Message, d.ago(at))
			}
		}
		for i, ev := range taglist.Items {
			ago := d.ago(parseAPITime(ev.Created))
			if i == 0 {
				fmt.Fprintf(out, "  * %s\n", ev.DockerImageReference)
			} else {
				fmt.Fprintf(out, "    %s\n", ev.DockerImageReference)
			}
			if ev.Image != "" && ev.DockerImageReference != "" && refID(ev.DockerImageReference) != ev.Image {
				fmt.Fprintf(out, "      %s ago\t%s\n", ago, ev.Image)
			} else {
				fmt.Fprintf(out, "      %s ago\n", ago)
			}
		}
	}
}

// dockerMetadata is what `oc describe` reads of dockerImageMetadata.
type dockerMetadata struct {
	Created      *string `json:"Created"`
	Author       string  `json:"Author"`
	Architecture string  `json:"Architecture"`
	Size         int64   `json:"Size"`
	Config       *struct {
		Entrypoint   strList             `json:"Entrypoint"`
		Cmd          strList             `json:"Cmd"`
		WorkingDir   string              `json:"WorkingDir"`
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       stringMap           `json:"Labels"`
		Env          []string            `json:"Env"`
		Volumes      map[string]struct{} `json:"Volumes"`
	} `json:"Config"`
}

// apiSignature is what `oc describe` reads of an image signature.
type apiSignature struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Type     string `json:"type"`
	IssuedBy *struct {
		CommonName string `json:"commonName"`
	} `json:"issuedBy"`
	Conditions []struct {
		Type          string `json:"type"`
		Message       string `json:"message"`
		LastProbeTime string `json:"lastProbeTime"`
	} `json:"conditions"`
}

// DescribeImage writes an image as `oc describe istag` (name: the image's
// digest) and `oc describe image` (name "") print it, its size the one
// Layerwise counts (bytes).
func DescribeImage(w io.Writer, img store.ImageSnapshot, name string, bytes int64, now time.Time) error {
	a, err := imageToAPI(img)
	if err != nil {
		return err
	}
	var meta dockerMetadata
	if len(a.DockerImageMetadataRaw) > 0 {
		if err := json.Unmarshal(a.DockerImageMetadataRaw, &meta); err != nil {
			return fmt.Errorf("image %s: unable to read image metadata: %w", img.Digest, err)
		}
	}
	d := newDescriber(w, now)
	if name != "" {
		d.formatString("Image Name", name)
	}
	d.formatString("Docker Image", a.DockerImageReference)
	d.formatString("Name", a.Metadata.Name)
	if !img.Created.IsZero() {
		d.formatTime("Created", img.Created)
	}
	if len(a.Metadata.Labels) > 0 {
		d.formatMapStringString("Labels", a.Metadata.Labels)
	}
	if len(a.Metadata.Annotations) > 0 {
		d.formatAnnotations(a.Metadata.Annotations)
	}
	if len(a.DockerImageLayers) == 0 {
		d.formatString("Layer Size", format.Size(bytes))
	} else {
		d.formatString("Image Size", fmt.Sprintf("%s in %d layers", format.Size(bytes), len(a.DockerImageLayers)))
		var layers []string
		for _, l := range a.DockerImageLayers {
			layers = append(layers, fmt.Sprintf("%s\t%s", format.Size(l.Size), l.Name))
		}
		d.formatString("Layers", strings.Join(layers, "\n"))
	}
	if len(a.Signatures) > 0 {
		var sigs []apiSignature
		if err := json.Unmarshal(a.Signatures, &sigs); err == nil {
			for _, s := range sigs {
				d.formatString("Image Signatures", " ")
				d.describeSignature(s)
			}
		}
	}
	d.formatString("Image Created", d.ago(parseAPITime(meta.Created))+" ago")
	d.formatString("Author", meta.Author)
	d.formatString("Arch", meta.Architecture)
	if len(a.DockerImageManifests) > 0 {
		var ms []string
		for _, m := range a.DockerImageManifests {
			ms = append(ms, fmt.Sprintf("%s/%s\t%s", m.OS, m.Architecture, m.Digest))
		}
		d.formatString("Manifests", strings.Join(ms, "\n"))
	}
	d.describeConfig(meta)
	return d.out.Flush()
}

func (d *describer) describeSignature(s apiSignature) {
	d.formatString("\tName", s.Metadata.Name)
	d.formatString("\tType", s.Type)
	if s.IssuedBy == nil {
		d.formatString("\tStatus", "Unverified")
		return
	}
	d.formatString("\tStatus", "Verified")
	d.formatString("\tIssued By", s.IssuedBy.CommonName)
	for _, c := range s.Conditions {
		probed := parseAPITime(&c.LastProbeTime) // printed as Go prints a time, as oc does
		d.formatString("\t", fmt.Sprintf("Signature is %s (%s on %s)", c.Type, c.Message, probed))
	}
}

func (d *describer) describeConfig(meta dockerMetadata) {
	c := meta.Config
	if c == nil {
		c = &struct {
			Entrypoint   strList             `json:"Entrypoint"`
			Cmd          strList             `json:"Cmd"`
			WorkingDir   string              `json:"WorkingDir"`
			User         string              `json:"User"`
			ExposedPorts map[string]struct{} `json:"ExposedPorts"`
			Labels       stringMap           `json:"Labels"`
			Env          []string            `json:"Env"`
			Volumes      map[string]struct{} `json:"Volumes"`
		}{}
	}
	hasCommand := false
	if len(c.Entrypoint) > 0 {
		hasCommand = true
		d.formatString("Entrypoint", strings.Join(c.Entrypoint, " "))
	}
	if len(c.Cmd) > 0 {
		hasCommand = true
		d.formatString("Command", strings.Join(c.Cmd, " "))
	}
	if !hasCommand {
		d.formatString("Command", "")
	}
	d.formatString("Working Dir", c.WorkingDir)
	d.formatString("User", c.User)
	d.formatString("Exposes Ports", strings.Join(sortedKeys(c.ExposedPorts), ", "))
	d.formatMapStringString("Docker Labels", c.Labels)
	for i, env := range c.Env {
		if i == 0 {
			d.formatString("Environment", env)
		} else {
			fmt.Fprintf(d.out, "\t%s\n", env)
		}
	}
	for i, v := range sortedKeys(c.Volumes) {
		if i == 0 {
			d.formatString("Volumes", v)
		} else {
			fmt.Fprintf(d.out, "\t%s\n", v)
		}
	}
}

// describeText is a describer's output as a string (tests).
func describeText(f func(w io.Writer) error) (string, error) {
	var b bytes.Buffer
	err := f(&b)
	return b.String(), err
}

// DescribeReferrers writes, after oc's lines (oc has none for them), the
// signatures, SBOMs and attestations attached to an image: a heading line
// with the bytes they add, then one line each (type, digest, size, age).
// Nothing when there are none.
func DescribeReferrers(w io.Writer, refs store.ImageReferrers, now time.Time) error {
	if len(refs.Referrers) == 0 {
		return nil
	}
	d := newDescriber(w, now)
	fmt.Fprintf(d.out, "Signatures and SBOMs:\t%s (counted with the image, pruned with it)\n", format.Size(refs.Bytes))
	for _, r := range refs.Referrers {
		fmt.Fprintf(d.out, "\t%s\t%s\t%s\t%s ago\n", r.Type, r.Digest, format.Size(r.Bytes), d.ago(r.Created))
	}
	return d.out.Flush()
}
