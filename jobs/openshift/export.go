package openshift

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"layerwise/store"
)

type apiOutList struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Metadata   struct{} `json:"metadata"`
	Items      []any    `json:"items"`
}

// Export writes streams as a v1 List of image.openshift.io/v1 ImageStreams,
// as `oc get is -o json` prints them. Decode reads it back to snapshots equal
// to Normalize of the input.
func Export(streams []store.StreamSnapshot) ([]byte, error) {
	return ExportList(streams, nil)
}

// ExportList is Export with Image objects ahead of the streams.
func ExportList(streams []store.StreamSnapshot, images []store.ImageSnapshot) ([]byte, error) {
	l := apiOutList{Kind: "List", APIVersion: "v1", Items: []any{}}
	for _, img := range images {
		a, err := imageToAPI(img)
		if err != nil {
			return nil, err
		}
		l.Items = append(l.Items, a)
	}
	for _, s := range streams {
		l.Items = append(l.Items, streamToAPI(s))
	}
	b, err := json.MarshalIndent(l, "", "    ")
	if err != nil {
		return nil, fmt.Errorf("export image streams: %w", err)
	}
	return append(b, '\n'), nil
}

func streamToAPI(s store.StreamSnapshot) apiStream {
	a := apiStream{
		Kind:       KindImageStream,
		APIVersion: apiVersionImage,
		Metadata: apiMeta{
			Name:              s.Name,
			Namespace:         s.Namespace,
			CreationTimestamp: fmtTime(s.Created),
			Generation:        s.Generation,
			Labels:            nilIfEmpty(s.Labels),
			Annotations:       nilIfEmpty(s.Annotations),
		},
		Spec: apiStreamSpec{
			LookupPolicy:          apiLookupPolicy{Local: s.LookupLocal},
			DockerImageRepository: s.DockerImageRepository,
		},
		Status: apiStreamStatus{
			DockerImageRepository:       s.PullSpec,
			PublicDockerImageRepository: s.PublicPullSpec,
		},
	}
	for _, t := range s.Tags {
		if t.InSpec {
			st := apiSpecTag{
				Name:        t.Name,
				Annotations: nilIfEmpty(t.Annotations),
				Reference:   t.Reference,
				Generation:  t.Generation,
				ImportPolicy: apiImportPolicy{
					Insecure:   t.Insecure,
					Scheduled:  t.Scheduled,
					ImportMode: t.ImportMode,
				},
			}
			if t.From != nil {
				st.From = &apiRef{Kind: t.From.Kind, Name: t.From.Name, Namespace: t.From.Namespace}
			}
			if t.ReferencePolicy != "" {
				st.ReferencePolicy = &apiRefPolicy{Type: t.ReferencePolicy}
			}
			a.Spec.Tags = append(a.Spec.Tags, st)
		}
		// A tag only in status still needs its (maybe empty) status entry.
		if !t.InSpec || len(t.Items) > 0 || t.Condition != nil {
			a.Status.Tags = append(a.Status.Tags, statusToAPI(t))
		}
	}
	return a
}

func statusToAPI(t store.TagSnapshot) apiStatusTag {
	st := apiStatusTag{Tag: t.Name}
	for _, e := range t.Items {
		st.Items = append(st.Items, apiEvent{
			Created:              fmtTime(e.Created),
			DockerImageReference: e.DockerImageReference,
			Image:                e.Image,
			Generation:           e.Generation,
		})
	}
	if c := t.Condition; c != nil {
		ac := apiCondition{
			Type:       c.Type,
			Status:     c.Status,
			Reason:     c.Reason,
			Message:    c.Message,
			Generation: c.Generation,
		}
		if ac.Type == "" {
			ac.Type = "ImportSuccess"
		}
		if c.Time != nil {
			ac.LastTransitionTime = fmtTime(*c.Time)
		}
		st.Conditions = []apiCondition{ac}
	}
	return st
}

// imageToAPI is an Image as `oc get images -o json` prints it: everything
// the store keeps of the object as it was given (time, labels,
// annotations, signatures, dockerImageMetadata, the manifest's bytes), and
// for an image read from a registry what OpenShift would have made of it.
func imageToAPI(img store.ImageSnapshot) (apiImage, error) {
	a := apiImage{
		Kind:       KindImage,
		APIVersion: apiVersionImage,
		Metadata: apiMeta{Name: img.Digest, CreationTimestamp: fmtTime(img.Created),
			Labels: nilIfEmpty(img.Labels), Annotations: nilIfEmpty(img.Annotations)},
		DockerImageReference:         img.DockerImageReference,
		DockerImageManifestMediaType: img.MediaType,
		DockerImageLayers:            []apiLayer{},
		DockerImageMetadataVersion:   img.DockerImageMetadataVersion,
		DockerImageManifest:          img.RawManifest,
	}
	if img.Signatures != "" {
		a.Signatures = json.RawMessage(img.Signatures)
	}
	for _, l := range img.Layers {
		a.DockerImageLayers = append(a.DockerImageLayers, apiLayer{Name: l.Digest, Size: l.Size, MediaType: l.MediaType})
	}
	for _, m := range img.Manifests {
		a.DockerImageManifests = append(a.DockerImageManifests, apiManifestRef{
			Digest: m.Digest, MediaType: m.MediaType, ManifestSize: m.ManifestSize,
			Architecture: m.Architecture, OS: m.OS, Variant: m.Variant,
		})
	}
	configDigest := img.ConfigDigest
	if c := img.Config; c != nil && a.DockerImageManifest == "" && !c.Derived {
		// No manifest bytes: a manifest that carries the sizes. (A derived
		// config size is left to be derived again from the metadata.)
		configDigest = c.Digest
		size := c.Size
		man := regManifest{
			SchemaVersion: 2,
			MediaType:     img.MediaType,
			Config:        &regDescriptor{MediaType: c.MediaType, Size: &size, Digest: c.Digest},
		}
		for _, l := range img.Layers {
			size := l.Size
			man.Layers = append(man.Layers, regDescriptor{MediaType: l.MediaType, Size: &size, Digest: l.Digest})
		}
		b, err := json.Marshal(man)
		if err != nil {
			return a, fmt.Errorf("export image %s: %w", img.Digest, err)
		}
		a.DockerImageManifest = string(b)
	}
	if img.DockerImageMetadata != "" {
		a.DockerImageMetadataRaw = json.RawMessage(img.DockerImageMetadata)
		return a, nil
	}
	m := img.Meta
	if configDigest != "" || !isZeroMeta(m) {
		if a.DockerImageMetadataVersion == "" {
			a.DockerImageMetadataVersion = "1.0"
		}
		d := &apiDockerImage{
			Kind:         "DockerImage",
			APIVersion:   "image.openshift.io/1.0",
			ID:           configDigest,
			Created:      fmtTimePtr(m.Created),
			Author:       m.Author,
			Architecture: m.Architecture,
			OS:           m.OS,
			Variant:      m.Variant,
			Size:         metadataSize(img),
		}
		if d.OS == "linux" && d.Architecture != "" {
			d.OS = "" // Decode's default; the API's DockerImage has no Os field
		}
		c := apiDockerConfig{
			User:       m.User,
			Env:        m.Env,
			Cmd:        m.Cmd,
			WorkingDir: m.WorkingDir,
			Entrypoint: m.Entrypoint,
			Labels:     nilIfEmpty(m.Labels),
		}
		for _, p := range m.Ports {
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			c.ExposedPorts[p] = struct{}{}
		}
		if c.User != "" || len(c.Env) > 0 || len(c.Cmd) > 0 || c.WorkingDir != "" || len(c.Entrypoint) > 0 || len(c.Labels) > 0 || len(c.ExposedPorts) > 0 {
			d.Config = &c
		}
		b, err := json.Marshal(d)
		if err != nil {
			return a, fmt.Errorf("export image %s: %w", img.Digest, err)
		}
		a.DockerImageMetadataRaw = b
	}
	return a, nil
}

// metadataSize is dockerImageMetadata.Size as OpenShift sets it for an
// image with a known config: the config plus each distinct layer.
func metadataSize(img store.ImageSnapshot) int64 {
	if img.Config == nil || len(img.Manifests) > 0 {
		return 0
	}
	n := img.Config.Size
	seen := map[string]bool{img.Config.Digest: true}
	for _, l := range img.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			n += l.Size
		}
	}
	return n
}

func isZeroMeta(m store.ImageMeta) bool {
	return m.Created == nil && m.Architecture == "" && m.OS == "" && m.Variant == "" && m.Author == "" &&
		len(m.Entrypoint) == 0 && len(m.Cmd) == 0 && len(m.Env) == 0 && len(m.Labels) == 0 &&
		len(m.Ports) == 0 && m.User == "" && m.WorkingDir == ""
}

func fmtTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func fmtTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// Normalize returns a copy of s in the form Decode produces: times in UTC
// whole seconds, empty maps and lists nil, spec tags ahead of status-only
// tags (which carry no spec fields). Compare snapshots after Normalize.
func Normalize(s store.StreamSnapshot) store.StreamSnapshot {
	s.Created = normTime(s.Created)
	s.Labels = cloneMap(s.Labels)
	s.Annotations = cloneMap(s.Annotations)
	var spec, status []store.TagSnapshot
	for _, t := range s.Tags {
		t.Annotations = cloneMap(t.Annotations)
		if t.From != nil {
			f := *t.From
			t.From = &f
		}
		if t.Generation != nil {
			g := *t.Generation
			t.Generation = &g
		}
		if t.Condition != nil {
			c := *t.Condition
			c.Time = normTimePtr(c.Time)
			if c.Type == "" {
				c.Type = "ImportSuccess"
			}
			t.Condition = &c
		}
		var items []store.EventSnapshot
		for _, e := range t.Items {
			e.Created = normTime(e.Created)
			items = append(items, e)
		}
		t.Items = items
		if t.InSpec {
			spec = append(spec, t)
			continue
		}
		t.Annotations, t.From, t.Generation = nil, nil, nil
		t.Scheduled, t.Insecure, t.Reference = false, false, false
		t.ReferencePolicy, t.ImportMode = "", ""
		status = append(status, t)
	}
	s.Tags = append(spec, status...)
	return s
}

// NormalizeImage is Normalize for images: what Decode(ExportList(...))
// gives back.
func NormalizeImage(img store.ImageSnapshot) store.ImageSnapshot {
	img.Created = normTime(img.Created)
	img.Labels = cloneMap(img.Labels)
	img.Annotations = cloneMap(img.Annotations)
	if img.Manifest != nil {
		m := *img.Manifest
		img.Manifest = &m
	}
	if img.Config != nil {
		c := *img.Config
		img.Config = &c
		img.ConfigDigest = c.Digest
	}
	img.Layers = slices.Clone(img.Layers)
	if len(img.Layers) == 0 {
		img.Layers = nil
	}
	img.Manifests = slices.Clone(img.Manifests)
	if len(img.Manifests) == 0 {
		img.Manifests = nil
	} else if img.MediaType == "" {
		img.MediaType = mediaTypeList
	}
	m := &img.Meta
	m.Created = normTimePtr(m.Created)
	m.Entrypoint = nilIfEmptyList(slices.Clone(m.Entrypoint))
	m.Cmd = nilIfEmptyList(slices.Clone(m.Cmd))
	m.Env = nilIfEmptyList(slices.Clone(m.Env))
	m.Labels = cloneMap(m.Labels)
	m.Ports = nilIfEmptyList(slices.Clone(m.Ports))
	sort.Strings(m.Ports)
	if m.Architecture != "" && m.OS == "" {
		m.OS = "linux"
	}
	return img
}

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timePtr(normTime(*t))
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// ExportImage is one image.openshift.io/v1 Image, as `oc get image -o json`
// prints it (for lists that stream their items).
func ExportImage(img store.ImageSnapshot) (json.RawMessage, error) {
	a, err := imageToAPI(img)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("export image %s: %w", img.Digest, err)
	}
	return b, nil
}
