package openshift

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"layerwise/store"
)

// noDigestError marks an Image that cannot be identified by digest; a
// top-level Image like that is skipped, a mapping's image is an error.
type noDigestError struct{ msg string }

func (e *noDigestError) Error() string { return e.msg }

func streamFromAPI(a apiStream, ns string, shift time.Duration) (store.StreamSnapshot, error) {
	var s store.StreamSnapshot
	name := a.Metadata.Name
	if name == "" {
		return s, fmt.Errorf("metadata.name is empty")
	}
	if err := checkNamespace(ns); err != nil {
		return s, fmt.Errorf("metadata.namespace: %w", err)
	}
	if err := checkStreamName(ns, name); err != nil {
		return s, fmt.Errorf("metadata.name: %w", err)
	}
	created, err := parseTime("metadata.creationTimestamp", a.Metadata.CreationTimestamp, shift)
	if err != nil {
		return s, err
	}
	s = store.StreamSnapshot{
		Namespace:             ns,
		Name:                  name,
		Created:               created,
		Labels:                nilIfEmpty(a.Metadata.Labels),
		Annotations:           nilIfEmpty(a.Metadata.Annotations),
		DockerImageRepository: a.Spec.DockerImageRepository,
		PullSpec:              a.Status.DockerImageRepository,
		PublicPullSpec:        a.Status.PublicDockerImageRepository,
		LookupLocal:           a.Spec.LookupPolicy.Local,
		Generation:            a.Metadata.Generation,
	}
	index := map[string]int{}
	for i, t := range a.Spec.Tags {
		ts, err := specTagFromAPI(fmt.Sprintf("spec.tags[%d]", i), t)
		if err != nil {
			return s, err
		}
		if _, dup := index[ts.Name]; dup {
			return s, fmt.Errorf("spec.tags[%d]: tag %q appears twice in spec.tags", i, ts.Name)
		}
		index[ts.Name] = len(s.Tags)
		s.Tags = append(s.Tags, ts)
	}
	inStatus := map[string]bool{}
	for i, st := range a.Status.Tags {
		p := fmt.Sprintf("status.tags[%d]", i)
		if st.Tag == "" {
			return s, fmt.Errorf("%s.tag is empty", p)
		}
		if err := checkTag(st.Tag); err != nil {
			return s, fmt.Errorf("%s.tag: %w", p, err)
		}
		if inStatus[st.Tag] {
			return s, fmt.Errorf("%s: tag %q appears twice in status.tags", p, st.Tag)
		}
		inStatus[st.Tag] = true
		j, ok := index[st.Tag]
		if !ok {
			j = len(s.Tags)
			index[st.Tag] = j
			s.Tags = append(s.Tags, store.TagSnapshot{Name: st.Tag})
		}
		if err := statusFromAPI(p, st, shift, &s.Tags[j]); err != nil {
			return s, err
		}
	}
	return s, nil
}

func specTagFromAPI(p string, t apiSpecTag) (store.TagSnapshot, error) {
	var ts store.TagSnapshot
	if t.Name == "" {
		return ts, fmt.Errorf("%s.name is empty", p)
	}
	if err := checkTag(t.Name); err != nil {
		return ts, fmt.Errorf("%s.name: %w", p, err)
	}
	ts = store.TagSnapshot{
		Name:        t.Name,
		InSpec:      true,
		Annotations: nilIfEmpty(t.Annotations),
		Scheduled:   t.ImportPolicy.Scheduled,
		Insecure:    t.ImportPolicy.Insecure,
		Reference:   t.Reference,
		ImportMode:  t.ImportPolicy.ImportMode,
		Generation:  t.Generation,
	}
	switch ts.ImportMode {
	case "", "Legacy", "PreserveOriginal":
	default:
		return ts, fmt.Errorf("%s.importPolicy.importMode %q is not one of Legacy, PreserveOriginal", p, ts.ImportMode)
	}
	if t.ReferencePolicy != nil {
		ts.ReferencePolicy = t.ReferencePolicy.Type
		switch ts.ReferencePolicy {
		case "", "Source", "Local":
		default:
			return ts, fmt.Errorf("%s.referencePolicy.type %q is not one of Source, Local", p, ts.ReferencePolicy)
		}
	}
	if t.From != nil {
		ref, err := refFromAPI(p+".from", *t.From)
		if err != nil {
			return ts, err
		}
		ts.From = &ref
	}
	return ts, nil
}

func refFromAPI(p string, r apiRef) (store.ObjectRef, error) {
	switch r.Kind {
	case "DockerImage", "ImageStreamTag", "ImageStreamImage":
	default:
		return store.ObjectRef{}, fmt.Errorf("%s.kind %q is not one of DockerImage, ImageStreamTag, ImageStreamImage", p, r.Kind)
	}
	if r.Name == "" {
		return store.ObjectRef{}, fmt.Errorf("%s.name is empty", p)
	}
	if r.Kind == "ImageStreamImage" {
		i := strings.LastIndexByte(r.Name, '@')
		if i <= 0 {
			return store.ObjectRef{}, fmt.Errorf("%s.name %q must be STREAM@DIGEST for an ImageStreamImage", p, r.Name)
		}
		if err := checkDigest(p+".name", r.Name[i+1:]); err != nil {
			return store.ObjectRef{}, err
		}
	}
	return store.ObjectRef{Kind: r.Kind, Name: r.Name, Namespace: r.Namespace}, nil
}

func statusFromAPI(p string, st apiStatusTag, shift time.Duration, t *store.TagSnapshot) error {
	for k, it := range st.Items {
		ip := fmt.Sprintf("%s.items[%d]", p, k)
		created, err := parseTime(ip+".created", it.Created, shift)
		if err != nil {
			return err
		}
		if it.Image != "" {
			if err := checkDigest(ip+".image", it.Image); err != nil {
				return err
			}
		}
		t.Items = append(t.Items, store.EventSnapshot{
			Created:              created,
			DockerImageReference: it.DockerImageReference,
			Image:                it.Image,
			Generation:           it.Generation,
		})
	}
	for k, c := range st.Conditions {
		if c.Type != "ImportSuccess" || t.Condition != nil {
			continue
		}
		at, err := parseTime(fmt.Sprintf("%s.conditions[%d].lastTransitionTime", p, k), c.LastTransitionTime, shift)
		if err != nil {
			return err
		}
		t.Condition = &store.Condition{
			Type:       c.Type,
			Status:     c.Status,
			Reason:     c.Reason,
			Message:    c.Message,
			Time:       timePtr(at),
			Generation: c.Generation,
		}
	}
	return nil
}

// imageFromAPI maps an Image; prefix ("image.") starts the field paths.
// Everything the object says is kept: its time, labels, annotations,
// signatures and dockerImageMetadata as given.
func imageFromAPI(a apiImage, prefix string, shift time.Duration) (store.ImageSnapshot, error) {
	var img store.ImageSnapshot
	digest, err := imageDigest(a, prefix)
	if err != nil {
		return img, err
	}
	if err := a.decodeMetadata(); err != nil {
		return img, fmt.Errorf("%sdockerImageMetadata: %s", prefix, typeErrorText(err))
	}
	created, err := parseTime(prefix+"metadata.creationTimestamp", a.Metadata.CreationTimestamp, shift)
	if err != nil {
		return img, err
	}
	img = store.ImageSnapshot{
		Digest:                     digest,
		MediaType:                  a.DockerImageManifestMediaType,
		DockerImageReference:       a.DockerImageReference,
		Created:                    created,
		Labels:                     nilIfEmpty(a.Metadata.Labels),
		Annotations:                nilIfEmpty(a.Metadata.Annotations),
		DockerImageMetadataVersion: a.DockerImageMetadataVersion,
	}
	if sig := compactJSON(a.Signatures); sig != "" && sig != "null" && sig != "[]" {
		img.Signatures = sig
	}
	if a.DockerImageMetadataRaw != nil {
		raw, err := shiftCreated(a.DockerImageMetadataRaw, shift)
		if err != nil {
			return img, fmt.Errorf("%sdockerImageMetadata: %w", prefix, err)
		}
		img.DockerImageMetadata = raw
	}
	var man *regManifest
	if a.DockerImageManifest != "" {
		man = new(regManifest)
		if err := json.Unmarshal([]byte(a.DockerImageManifest), man); err != nil {
			return img, fmt.Errorf("%sdockerImageManifest is not a valid manifest: %s", prefix, typeErrorText(err))
		}
		if img.MediaType == "" {
			img.MediaType = man.MediaType
		}
		if sum := sha256.Sum256([]byte(a.DockerImageManifest)); "sha256:"+hex.EncodeToString(sum[:]) == digest {
			// The manifest itself, as the registry stores it.
			img.RawManifest = a.DockerImageManifest
		}
	}
	if err := imageLayers(a, man, prefix, &img); err != nil {
		return img, err
	}
	if err := imageConfig(a, man, prefix, &img); err != nil {
		return img, err
	}
	if err := imageManifests(a, man, prefix, &img); err != nil {
		return img, err
	}
	if a.DockerImageMetadata != nil {
		meta, err := imageMeta(*a.DockerImageMetadata, prefix, shift)
		if err != nil {
			return img, err
		}
		img.Meta = meta
	}
	deriveConfig(a, &img)
	if img.ManagedByRegistry() && img.RawManifest != "" {
		// The cluster's registry holds the image, its manifest a blob there.
		img.Manifest = &store.BlobRef{Digest: digest, Size: int64(len(img.RawManifest)), MediaType: img.MediaType}
	}
	return img, nil
}

// deriveConfig works out the config blob's size when no manifest or config
// bytes gave it: OpenShift's dockerImageMetadata.Size of a schema 2 or OCI
// image is the config plus each distinct layer, so the config is the rest.
// The figure is marked derived: it never overrides a size given elsewhere.
func deriveConfig(a apiImage, img *store.ImageSnapshot) {
	if img.Config != nil || img.ConfigDigest == "" || a.DockerImageMetadata == nil || a.DockerImageMetadata.Size <= 0 {
		return
	}
	mt := ""
	switch img.MediaType {
	case mediaTypeV2:
		mt = mediaTypeConfig
	case mediaTypeOCIMan:
		mt = mediaTypeOCIConf
	default:
		return // schema 1 has no config blob; a list's Size is not its own
	}
	rest := a.DockerImageMetadata.Size
	seen := map[string]bool{}
	for _, l := range img.Layers {
		if l.Digest == img.ConfigDigest {
			return // the config doubles as a layer: its size is known
		}
		if !seen[l.Digest] {
			seen[l.Digest] = true
			rest -= l.Size
		}
	}
	if rest > 0 {
		img.Config = &store.BlobRef{Digest: img.ConfigDigest, Size: rest, MediaType: mt, Derived: true}
	}
}

// compactJSON is raw JSON without insignificant white space.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// shiftCreated returns dockerImageMetadata compacted, with its Created
// moved by shift (the demo data is moved to now).
func shiftCreated(raw json.RawMessage, shift time.Duration) (string, error) {
	if shift == 0 {
		return compactJSON(raw), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	for k, v := range m {
		if !strings.EqualFold(k, "created") {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil || s == "" {
			continue
		}
		t, err := parseTime("Created", &s, shift)
		if err != nil {
			return "", err
		}
		m[k], _ = json.Marshal(t.Format(time.RFC3339))
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func imageDigest(a apiImage, prefix string) (string, error) {
	name, ref := a.Metadata.Name, a.DockerImageReference
	refDigest := ""
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		refDigest = ref[i+1:]
	}
	switch {
	case strings.Contains(name, ":"):
		return name, checkDigest(prefix+"metadata.name", name)
	case refDigest != "":
		return refDigest, checkDigest(prefix+"dockerImageReference", refDigest)
	case name == "":
		return "", &noDigestError{fmt.Sprintf("%smetadata.name is empty and %sdockerImageReference %q has no @digest", prefix, prefix, ref)}
	}
	return "", &noDigestError{fmt.Sprintf("%smetadata.name %q is not a digest and %sdockerImageReference %q has no @digest", prefix, name, prefix, ref)}
}

// imageLayers reads dockerImageLayers; a schema 2 manifest, when present, is
// authoritative for media types and fills in layers the object left out.
func imageLayers(a apiImage, man *regManifest, prefix string, img *store.ImageSnapshot) error {
	for i, l := range a.DockerImageLayers {
		p := fmt.Sprintf("%sdockerImageLayers[%d]", prefix, i)
		if err := checkDigest(p+".name", l.Name); err != nil {
			return err
		}
		if l.Size < 0 {
			return fmt.Errorf("%s.size %d is negative", p, l.Size)
		}
		img.Layers = append(img.Layers, store.BlobRef{Digest: l.Name, Size: l.Size, MediaType: l.MediaType})
	}
	if man == nil || man.SchemaVersion < 2 || len(man.Layers) == 0 {
		return nil
	}
	var fromMan []store.BlobRef
	for i, l := range man.Layers {
		p := fmt.Sprintf("%sdockerImageManifest layers[%d]", prefix, i)
		if err := checkDigest(p+".digest", l.Digest); err != nil {
			return err
		}
		b := store.BlobRef{Digest: l.Digest, MediaType: l.MediaType}
		if l.Size != nil {
			if *l.Size < 0 {
				return fmt.Errorf("%s.size %d is negative", p, *l.Size)
			}
			b.Size = *l.Size
		}
		fromMan = append(fromMan, b)
	}
	if len(img.Layers) == 0 {
		img.Layers = fromMan
		return nil
	}
	if len(img.Layers) != len(fromMan) {
		return fmt.Errorf("%sdockerImageLayers lists %d layers but %sdockerImageManifest lists %d", prefix, len(img.Layers), prefix, len(fromMan))
	}
	for i, l := range fromMan {
		if img.Layers[i].Digest != l.Digest {
			return fmt.Errorf("%sdockerImageLayers[%d].name %s differs from layer %d of %sdockerImageManifest (%s)", prefix, i, img.Layers[i].Digest, i, prefix, l.Digest)
		}
		if l.MediaType != "" {
			img.Layers[i].MediaType = l.MediaType
		}
	}
	return nil
}

// imageConfig finds the config blob. Its size is known only from the
// manifest or from dockerImageConfig bytes that hash to the digest.
func imageConfig(a apiImage, man *regManifest, prefix string, img *store.ImageSnapshot) error {
	if m := a.DockerImageMetadata; m != nil && strings.Contains(m.ID, ":") {
		if err := checkDigest(prefix+"dockerImageMetadata.Id", m.ID); err != nil {
			return err
		}
		img.ConfigDigest = m.ID
	}
	if man != nil && man.Config != nil && man.Config.Digest != "" {
		c := man.Config
		if err := checkDigest(prefix+"dockerImageManifest config.digest", c.Digest); err != nil {
			return err
		}
		img.ConfigDigest = c.Digest
		if c.Size != nil {
			if *c.Size < 0 {
				return fmt.Errorf("%sdockerImageManifest config.size %d is negative", prefix, *c.Size)
			}
			img.Config = &store.BlobRef{Digest: c.Digest, Size: *c.Size, MediaType: c.MediaType}
		}
	}
	if img.Config == nil && img.ConfigDigest != "" && a.DockerImageConfig != "" {
		sum := sha256.Sum256([]byte(a.DockerImageConfig))
		if "sha256:"+hex.EncodeToString(sum[:]) == img.ConfigDigest {
			mt := ""
			switch img.MediaType {
			case mediaTypeV2:
				mt = mediaTypeConfig
			case mediaTypeOCIMan:
				mt = mediaTypeOCIConf
			}
			img.Config = &store.BlobRef{Digest: img.ConfigDigest, Size: int64(len(a.DockerImageConfig)), MediaType: mt}
		}
	}
	return nil
}

func imageManifests(a apiImage, man *regManifest, prefix string, img *store.ImageSnapshot) error {
	for i, m := range a.DockerImageManifests {
		p := fmt.Sprintf("%sdockerImageManifests[%d]", prefix, i)
		if err := checkDigest(p+".digest", m.Digest); err != nil {
			return err
		}
		if m.ManifestSize < 0 {
			return fmt.Errorf("%s.manifestSize %d is negative", p, m.ManifestSize)
		}
		img.Manifests = append(img.Manifests, store.ManifestRef{
			Digest: m.Digest, MediaType: m.MediaType, ManifestSize: m.ManifestSize,
			OS: m.OS, Architecture: m.Architecture, Variant: m.Variant,
		})
	}
	if len(img.Manifests) == 0 && man != nil {
		for i, m := range man.Manifests {
			p := fmt.Sprintf("%sdockerImageManifest manifests[%d]", prefix, i)
			if err := checkDigest(p+".digest", m.Digest); err != nil {
				return err
			}
			r := store.ManifestRef{Digest: m.Digest, MediaType: m.MediaType}
			if m.Size != nil {
				if *m.Size < 0 {
					return fmt.Errorf("%s.size %d is negative", p, *m.Size)
				}
				r.ManifestSize = *m.Size
			}
			if pl := m.Platform; pl != nil {
				r.OS, r.Architecture, r.Variant = pl.OS, pl.Architecture, pl.Variant
			}
			img.Manifests = append(img.Manifests, r)
		}
	}
	if len(img.Manifests) > 0 && img.MediaType == "" {
		img.MediaType = mediaTypeList
	}
	return nil
}

func imageMeta(m apiDockerImage, prefix string, shift time.Duration) (store.ImageMeta, error) {
	created, err := parseTime(prefix+"dockerImageMetadata.Created", m.Created, shift)
	if err != nil {
		return store.ImageMeta{}, err
	}
	meta := store.ImageMeta{
		Created:      timePtr(created),
		Architecture: m.Architecture,
		OS:           m.OS,
		Variant:      m.Variant,
		Author:       m.Author,
	}
	if c := m.Config; c != nil {
		meta.Entrypoint = nilIfEmptyList(c.Entrypoint)
		meta.Cmd = nilIfEmptyList(c.Cmd)
		meta.Env = nilIfEmptyList(c.Env)
		meta.Labels = nilIfEmpty(c.Labels)
		if len(c.ExposedPorts) > 0 {
			meta.Ports = sortedKeys(c.ExposedPorts)
		}
		meta.User = c.User
		meta.WorkingDir = c.WorkingDir
	}
	if meta.Architecture != "" && meta.OS == "" {
		meta.OS = "linux"
	}
	return meta, nil
}

// parseTime reads an API timestamp; null or "" is the zero time, which the
// shift leaves alone.
func parseTime(field string, s *string, shift time.Duration) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time like 2026-11-20T10:00:00Z", field, *s)
	}
	return t.UTC().Truncate(time.Second).Add(shift), nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nilIfEmptyList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// checkDigest accepts algorithm:hex; sha256 must have 64 lower-case hex
// digits (sha512 128), other algorithms at least 32.
func checkDigest(field, d string) error {
	algo, h, ok := strings.Cut(d, ":")
	want := 0
	switch algo {
	case "sha256":
		want = 64
	case "sha384":
		want = 96
	case "sha512":
		want = 128
	}
	valid := ok && algo != "" && len(h) >= 32 && (want == 0 || len(h) == want)
	for _, c := range algo {
		valid = valid && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("+._-", c))
	}
	for _, c := range h {
		valid = valid && (c >= 'a' && c <= 'f' || c >= '0' && c <= '9')
	}
	if !valid {
		return fmt.Errorf("%s %q is not a digest; want sha256: and 64 lower-case hex digits", field, d)
	}
	return nil
}

// checkTag: ^[\w][\w.-]{0,127}$
func checkTag(tag string) error {
	ok := tag != "" && len(tag) <= 128 && tag[0] != '.' && tag[0] != '-'
	for _, c := range tag {
		ok = ok && (isWord(c) || c == '.' || c == '-')
	}
	if !ok {
		return fmt.Errorf("tag name %q must be %s", tag, store.TagNameRule)
	}
	return nil
}

func isWord(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// checkStreamName: ^[a-z0-9]+(?:[._-][a-z0-9]+)*$, namespace/name at most 255.
func checkStreamName(ns, name string) error {
	ok := name != ""
	prevSep := true // no separator first
	for _, c := range name {
		sep := c == '.' || c == '_' || c == '-'
		ok = ok && (sep && !prevSep || c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
		prevSep = sep
	}
	if !ok || prevSep {
		return fmt.Errorf("image stream name %q must be %s", name, store.StreamNameRule)
	}
	if len(ns)+1+len(name) > 255 {
		return fmt.Errorf("image stream %q: namespace/name must be at most 255 characters", ns+"/"+name)
	}
	return nil
}

// checkNamespace: a DNS label.
func checkNamespace(ns string) error {
	ok := ns != "" && len(ns) <= 63 && ns[0] != '-' && ns[len(ns)-1] != '-'
	for _, c := range ns {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return fmt.Errorf("namespace %q must be a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", ns)
	}
	return nil
}
