package store

import "time"

// The snapshot types are the store's exchange format: the OpenShift mapping
// turns API objects into them (import) and back (get is -o json), and the
// describe output reads them. They carry digests, never row IDs.

// ObjectRef is a tag source, as OpenShift's ObjectReference.
type ObjectRef struct {
	Kind      string // DockerImage, ImageStreamTag, ImageStreamImage
	Name      string
	Namespace string
}

// Condition is a tag's ImportSuccess condition.
type Condition struct {
	Type       string // always ImportSuccess
	Status     string // True, False
	Reason     string
	Message    string
	Time       *time.Time
	Generation int64
}

// EventSnapshot is one history entry; Image is a digest, "" for a reference.
type EventSnapshot struct {
	Created              time.Time
	DockerImageReference string
	Image                string
	Generation           int64
}

// TagSnapshot is one tag: its spec (when InSpec) and its status history,
// Items[0] current.
type TagSnapshot struct {
	Name            string
	InSpec          bool
	Annotations     map[string]string
	From            *ObjectRef
	Scheduled       bool
	Insecure        bool
	Reference       bool
	ReferencePolicy string
	ImportMode      string
	Generation      *int64
	Condition       *Condition
	Items           []EventSnapshot
}

// StreamSnapshot is a whole image stream.
type StreamSnapshot struct {
	Namespace             string
	Name                  string
	Created               time.Time
	Labels                map[string]string
	Annotations           map[string]string
	DockerImageRepository string
	PullSpec              string
	PublicPullSpec        string
	LookupLocal           bool
	Generation            int64
	Tags                  []TagSnapshot
}

// BlobRef is a layer, config or manifest blob as a manifest lists it.
type BlobRef struct {
	Digest    string
	Size      int64
	MediaType string
	// Derived says the size is worked out rather than given: a config
	// whose size no manifest gave, from dockerImageMetadata.Size. A derived
	// size never overrides a known one (SizeDerived).
	Derived bool
}

// ManifestRef is one platform entry of a manifest list.
type ManifestRef struct {
	Digest       string
	MediaType    string
	ManifestSize int64
	OS           string
	Architecture string
	Variant      string
}

// ImageMeta is what an image's config says about it.
type ImageMeta struct {
	Created      *time.Time
	Architecture string
	OS           string
	Variant      string
	Author       string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	Labels       map[string]string
	Ports        []string
	User         string
	WorkingDir   string
}

// ImageSnapshot is an image with its blobs. Config is nil when the config
// blob's size is not known; Layers keep manifest order and duplicates.
type ImageSnapshot struct {
	Digest               string
	MediaType            string
	DockerImageReference string
	Meta                 ImageMeta
	Config               *BlobRef
	ConfigDigest         string
	Layers               []BlobRef
	Manifests            []ManifestRef

	// Created is the Image object's creationTimestamp: when the cluster (or
	// the registry) first had the image, the age prune reads. Zero: not
	// given; the store then keeps the time it first recorded the image.
	Created time.Time
	// Labels and Annotations are the Image object's metadata (not the
	// config's labels, which are Meta.Labels).
	Labels      map[string]string
	Annotations map[string]string
	// Signatures is the object's signatures, a JSON list as given ("": none).
	Signatures string
	// DockerImageMetadata is dockerImageMetadata as the object gave it
	// (JSON, "" when not given), and dockerImageMetadataVersion.
	DockerImageMetadata        string
	DockerImageMetadataVersion string
	// Manifest is the image's own manifest as a blob of the registry that
	// Layerwise counts (Digest is the image's): set when that registry
	// stores it and its size is known, nil otherwise.
	Manifest *BlobRef
	// RawManifest is the manifest's bytes when known; they hash to Digest.
	RawManifest string
	// Subject is the digest the manifest's subject field names ("" for
	// none): the image is then a referrer of that one (referrers.go).
	Subject string
	// ArtifactType is the manifest's artifactType ("" for none).
	ArtifactType string
}

// AnnotationManaged marks an image the cluster's own registry holds
// (OpenShift's openshift.io/image.managed): its manifest is a blob there.
// Images read from the managed registry carry it too.
const AnnotationManaged = "openshift.io/image.managed"

// ManagedByRegistry says whether the registry Layerwise counts holds the
// image, manifest included.
func (img ImageSnapshot) ManagedByRegistry() bool {
	return img.Annotations[AnnotationManaged] == "true"
}
