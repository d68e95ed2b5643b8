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

// BlobRef is a layer or config blob as a manifest lists it.
type BlobRef struct {
	Digest    string
	Size      int64
	MediaType string
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
}
