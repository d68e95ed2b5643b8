package store

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// The rules of what the store accepts, one per type. Every way in — the
// API, the CLI, `import openshift`, the OpenShift and registry syncs —
// reaches them through the store's write methods, so a file cannot hold
// what a request may not.

// InvalidUTF8At is the offset of the first byte of b that is not UTF-8, or
// -1. Inputs are checked before JSON decoding, which would quietly turn
// such bytes into U+FFFD.
func InvalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// validText checks free text (labels, annotations, messages, image
// metadata): UTF-8, and no NUL, which PostgreSQL text cannot hold.
func validText(what, s string) error {
	if !utf8.ValidString(s) {
		return invalidf("%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalidf("%s contains a NUL character", what)
	}
	return nil
}

func validTexts(what string, list []string) error {
	for i, s := range list {
		if err := validText(fmt.Sprintf("%s[%d]", what, i), s); err != nil {
			return err
		}
	}
	return nil
}

func validMap(what string, m map[string]string) error {
	for _, k := range sortedMapKeys(m) {
		if err := validText(what+" key "+fmt.Sprintf("%q", k), k); err != nil {
			return err
		}
		if err := validText(fmt.Sprintf("%s[%q]", what, k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validPullSpec is ValidatePullSpec for a field that may be empty.
func validPullSpec(what, ref string) error {
	if ref == "" {
		return nil
	}
	if err := ValidatePullSpec(ref); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// validateText checks an image's free text and pull spec (its digests and
// sizes are validateImage's).
func (img ImageSnapshot) validateText() error {
	what := "image " + img.Digest
	if err := validPullSpec(what+": dockerImageReference", img.DockerImageReference); err != nil {
		return err
	}
	m := img.Meta
	for _, f := range []struct{ name, v string }{
		{"media type", img.MediaType}, {"architecture", m.Architecture}, {"os", m.OS}, {"variant", m.Variant},
		{"author", m.Author}, {"user", m.User}, {"working dir", m.WorkingDir},
	} {
		if err := validText(what+": "+f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    []string
	}{{"entrypoint", m.Entrypoint}, {"cmd", m.Cmd}, {"env", m.Env}, {"ports", m.Ports}} {
		if err := validTexts(what+": "+f.name, f.v); err != nil {
			return err
		}
	}
	if err := validMap(what+": labels", m.Labels); err != nil {
		return err
	}
	for i, l := range append(append([]BlobRef(nil), img.Layers...), derefBlob(img.Config)...) {
		if err := validText(fmt.Sprintf("%s: blob %d media type", what, i), l.MediaType); err != nil {
			return err
		}
	}
	for i, mf := range img.Manifests {
		for _, v := range []string{mf.MediaType, mf.OS, mf.Architecture, mf.Variant} {
			if err := validText(fmt.Sprintf("%s: manifest %d", what, i), v); err != nil {
				return err
			}
		}
	}
	return nil
}

func derefBlob(b *BlobRef) []BlobRef {
	if b == nil {
		return nil
	}
	return []BlobRef{*b}
}

// validate checks one history entry: its image digest and its pull spec.
func (e EventSnapshot) validate() error {
	if e.Image != "" {
		if err := ValidateDigest(e.Image); err != nil {
			return err
		}
	}
	return validPullSpec("dockerImageReference", e.DockerImageReference)
}

// validate checks a spec tag's source as the tag of ns/stream names it:
// a pull spec (DockerImage), "tag" or "stream:tag" (ImageStreamTag),
// "stream@digest" or a digest (ImageStreamImage).
func (r ObjectRef) validate(ns, stream string) error {
	if r.Namespace != "" {
		if err := ValidateNamespace(r.Namespace); err != nil {
			return fmt.Errorf("from.namespace: %w", err)
		}
		ns = r.Namespace
	}
	switch r.Kind {
	case KindDockerImage:
		return ValidatePullSpec(r.Name)
	case KindImageStreamTag:
		name, tag, ok := strings.Cut(r.Name, ":")
		if !ok {
			name, tag = stream, r.Name
		}
		if err := (TagRef{ns, name, tag}).Validate(); err != nil {
			return fmt.Errorf("from.name %q: %w", r.Name, err)
		}
		return nil
	case KindImageStreamImage:
		name, digest, ok := strings.Cut(r.Name, "@")
		if !ok {
			name, digest = stream, r.Name
		}
		if err := (StreamRef{ns, name}).Validate(); err != nil {
			return fmt.Errorf("from.name %q: %w", r.Name, err)
		}
		return ValidateDigest(digest)
	}
	return invalidf("from.kind %q must be one of DockerImage, ImageStreamTag, ImageStreamImage", r.Kind)
}

// validate checks one tag of ns/stream: its name, source, policies, free
// text and history.
func (t TagSnapshot) validate(ns, stream string) error {
	if err := ValidateTag(t.Name); err != nil {
		return err
	}
	what := fmt.Sprintf("tag %q", t.Name)
	if t.From != nil {
		if err := t.From.validate(ns, stream); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	switch t.ReferencePolicy {
	case "", "Source", "Local":
	default:
		return invalidf("%s: reference policy %q must be Source or Local", what, t.ReferencePolicy)
	}
	switch t.ImportMode {
	case "", "Legacy", "PreserveOriginal":
	default:
		return invalidf("%s: import mode %q must be Legacy or PreserveOriginal", what, t.ImportMode)
	}
	if err := validMap(what+": annotations", t.Annotations); err != nil {
		return err
	}
	if c := t.Condition; c != nil {
		for _, v := range []string{c.Type, c.Status, c.Reason, c.Message} {
			if err := validText(what+": condition", v); err != nil {
				return err
			}
		}
	}
	for i, it := range t.Items {
		if err := it.validate(); err != nil {
			return fmt.Errorf("%s: history item %d: %w", what, i, err)
		}
	}
	return nil
}

// validate checks a whole stream before PutStream writes any of it.
func (snap StreamSnapshot) validate() error {
	ref := StreamRef{snap.Namespace, snap.Name}
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := validMap("labels", snap.Labels); err != nil {
		return fmt.Errorf("image stream %s: %w", ref, err)
	}
	if err := validMap("annotations", snap.Annotations); err != nil {
		return fmt.Errorf("image stream %s: %w", ref, err)
	}
	for _, f := range []struct{ name, v string }{
		{"spec.dockerImageRepository", snap.DockerImageRepository},
		{"status.dockerImageRepository", snap.PullSpec},
		{"status.publicDockerImageRepository", snap.PublicPullSpec},
	} {
		if err := validPullSpec(f.name, f.v); err != nil {
			return fmt.Errorf("image stream %s: %w", ref, err)
		}
	}
	seen := map[string]bool{}
	follows := aliasMap{}
	for _, t := range snap.Tags {
		if seen[t.Name] {
			return invalidf("image stream %s: tag %q appears twice", ref, t.Name)
		}
		seen[t.Name] = true
		if err := t.validate(snap.Namespace, snap.Name); err != nil {
			return fmt.Errorf("image stream %s: %w", ref, err)
		}
		if t.InSpec && isAlias(snap.Namespace, snap.Name, t.From) {
			follows[t.Name] = aliasTarget(t.From.Name)
		}
	}
	return follows.check(ref)
}

// aliasMap maps each alias tag of one stream to the tag it tracks.
type aliasMap map[string]string

// aliasTarget is the tag an alias's from.name ("tag" or "stream:tag") names.
func aliasTarget(fromName string) string {
	if _, tag, ok := strings.Cut(fromName, ":"); ok {
		return tag
	}
	return fromName
}

// check refuses a tag that tracks itself, directly or through other alias
// tags, in OpenShift's words ("reference tag is circular"): such a tag can
// never get an image, and every push to it would go round.
func (m aliasMap) check(ref StreamRef) error {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, start := range names {
		path := []string{start}
		at := map[string]int{start: 0}
		for cur := start; ; {
			next, ok := m[cur]
			if !ok {
				break
			}
			if i, seen := at[next]; seen {
				cycle := append(path[i:], next)
				return invalidf("%s:%s: reference tag is circular (%s): an alias must lead to a tag that is not an alias",
					ref, cycle[0], strings.Join(cycle, " → "))
			}
			at[next] = len(path)
			path = append(path, next)
			cur = next
		}
	}
	return nil
}
