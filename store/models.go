package store

import "time"

// The gorm models. Integer surrogate keys keep the blob links small: the
// usage pass reads millions of (image, blob) pairs and int64 pairs are cheap.
// Columns holding lists and maps (labels, env, ...) are JSON text; nothing
// filters on them.

// Namespace is a project/team that holds image streams.
type Namespace struct {
	ID             int64  `gorm:"primaryKey"`
	Name           string `gorm:"size:63;not null;uniqueIndex"`
	DisplayName    string `gorm:"not null;default:''"`
	Contacts       string `gorm:"not null;default:''"` // comma-separated e-mail addresses
	ThresholdBytes *int64 // nil: the global default
	Ladder         string `gorm:"not null;default:''"` // comma-separated promotion ladder; "" = latest,test,prod
	CreatedAt      time.Time
	// The namespace's own prune policy; nil: the global one.
	PruneKeepTagRevisions *int
	PruneKeepYoungerThan  *int64 // seconds
}

// ImageStream is one stream in a namespace.
type ImageStream struct {
	ID                    int64  `gorm:"primaryKey"`
	NamespaceID           int64  `gorm:"not null;uniqueIndex:ux_streams_ns_name,priority:1"`
	Name                  string `gorm:"not null;uniqueIndex:ux_streams_ns_name,priority:2"`
	Created               time.Time
	Labels                string `gorm:"not null;default:''"` // JSON object or ""
	Annotations           string `gorm:"not null;default:''"`
	DockerImageRepository string `gorm:"not null;default:''"` // spec.dockerImageRepository
	PullSpec              string `gorm:"not null;default:''"` // status.dockerImageRepository
	PublicPullSpec        string `gorm:"not null;default:''"` // status.publicDockerImageRepository
	LookupLocal           bool   `gorm:"not null;default:false"`
	Generation            int64  `gorm:"not null;default:0"`
	// Source says where the stream is kept in sync from: "" for streams
	// made here (CLI, API, imports, registry pushes), "openshift:URL" for
	// streams the OpenShift sync of that cluster owns and may delete.
	Source string `gorm:"not null;default:'';index"`

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
}

// Tag is a spec tag and/or a status tag of a stream: OpenShift keeps the two
// lists apart; here one row holds both and InSpec says whether spec has it.
type Tag struct {
	ID              int64  `gorm:"primaryKey"`
	StreamID        int64  `gorm:"not null;uniqueIndex:ux_tags_stream_name,priority:1"`
	Name            string `gorm:"not null;uniqueIndex:ux_tags_stream_name,priority:2"`
	InSpec          bool   `gorm:"not null;default:false"`
	Annotations     string `gorm:"not null;default:''"`
	FromKind        string `gorm:"not null;default:''"` // DockerImage, ImageStreamTag, ImageStreamImage
	FromName        string `gorm:"not null;default:''"`
	FromNamespace   string `gorm:"not null;default:''"`
	Alias           bool   `gorm:"not null;default:false"` // tracks an ImageStreamTag of the same stream
	Scheduled       bool   `gorm:"not null;default:false;index"`
	Insecure        bool   `gorm:"not null;default:false"`
	Reference       bool   `gorm:"not null;default:false"`
	ReferencePolicy string `gorm:"not null;default:''"` // Source, Local
	ImportMode      string `gorm:"not null;default:''"` // Legacy, PreserveOriginal
	Generation      *int64
	// The ImportSuccess condition; CondStatus "" means none.
	CondStatus     string `gorm:"not null;default:''"`
	CondReason     string `gorm:"not null;default:''"`
	CondMessage    string `gorm:"not null;default:''"`
	CondTime       *time.Time
	CondGeneration int64 `gorm:"not null;default:0"`

	Stream *ImageStream `gorm:"constraint:OnDelete:CASCADE"`
}

// TagEvent is one entry of a tag's history; Position 0 is the current one.
type TagEvent struct {
	ID                   int64 `gorm:"primaryKey"`
	TagID                int64 `gorm:"not null;index:ix_tag_events_tag_pos,priority:1"`
	Position             int   `gorm:"not null;index:ix_tag_events_tag_pos,priority:2"`
	Created              time.Time
	DockerImageReference string `gorm:"not null;default:''"`
	ImageID              *int64 `gorm:"index"` // nil for reference-only entries
	Generation           int64  `gorm:"not null;default:0"`

	Tag   *Tag   `gorm:"constraint:OnDelete:CASCADE"`
	Image *Image `gorm:"constraint:OnDelete:RESTRICT"`
}

// Image is one manifest (or manifest list) by digest.
type Image struct {
	ID                   int64  `gorm:"primaryKey"`
	Digest               string `gorm:"not null;uniqueIndex"`
	MediaType            string `gorm:"not null;default:''"`
	ManifestList         bool   `gorm:"not null;default:false"`
	DockerImageReference string `gorm:"not null;default:''"`
	// Known is false for an image only seen as a digest in some history:
	// its layers and sizes are unknown until its Image object is imported.
	Known        bool `gorm:"not null;default:false"`
	CreatedAt    time.Time
	ImageCreated *time.Time // the config's "created"
	Architecture string     `gorm:"not null;default:''"`
	OS           string     `gorm:"not null;default:''"`
	Variant      string     `gorm:"not null;default:''"`
	Author       string     `gorm:"not null;default:''"`
	Entrypoint   string     `gorm:"not null;default:''"` // JSON array
	Cmd          string     `gorm:"not null;default:''"` // JSON array
	Env          string     `gorm:"not null;default:''"` // JSON array
	Labels       string     `gorm:"not null;default:''"` // JSON object
	Ports        string     `gorm:"not null;default:''"` // JSON array, "8080/tcp"
	User         string     `gorm:"not null;default:''"`
	WorkingDir   string     `gorm:"not null;default:''"`
	ConfigDigest string     `gorm:"not null;default:''"`
	// What the Image object says beyond layers, kept as given so that
	// `get images` gives it back (0009): its metadata labels and
	// annotations (JSON objects), signatures (a JSON list), and
	// dockerImageMetadata with its version (JSON). CreatedAt is the
	// object's creationTimestamp when it had one.
	ObjectLabels               string `gorm:"not null;default:''"`
	ObjectAnnotations          string `gorm:"not null;default:''"`
	Signatures                 string `gorm:"not null;default:''"`
	DockerImageMetadata        string `gorm:"not null;default:''"`
	DockerImageMetadataVersion string `gorm:"not null;default:''"`
	// RawManifest is the manifest's bytes when known (they hash to Digest).
	RawManifest string `gorm:"not null;default:''"`
}

// Blob is a layer or config blob; Size is what the registry stores, and
// SizeSource where the store learnt it (see ensureBlobs).
type Blob struct {
	ID         int64      `gorm:"primaryKey"`
	Digest     string     `gorm:"not null;uniqueIndex"`
	Size       int64      `gorm:"not null"`
	SizeSource SizeSource `gorm:"not null;default:0"`
	MediaType  string     `gorm:"not null;default:''"`
}

// ImageBlob links an image to its blobs in layer order. The config blob has
// Position -1, the manifest -2; a layer listed twice in one manifest keeps
// both rows.
type ImageBlob struct {
	ImageID  int64 `gorm:"primaryKey;autoIncrement:false"`
	Position int   `gorm:"primaryKey;autoIncrement:false"`
	BlobID   int64 `gorm:"not null;index"`

	Image *Image `gorm:"constraint:OnDelete:CASCADE"`
	Blob  *Blob  `gorm:"constraint:OnDelete:RESTRICT"`
}

// ConfigPosition is the ImageBlob position of an image's config blob.
const ConfigPosition = -1

// ManifestPosition is the ImageBlob position of an image's own manifest,
// linked when the registry Layerwise counts stores it as a blob (its
// digest is the image's).
const ManifestPosition = -2

// ImageManifest links a manifest list to one of its platform images.
type ImageManifest struct {
	ListID       int64  `gorm:"primaryKey;autoIncrement:false"`
	Position     int    `gorm:"primaryKey;autoIncrement:false"`
	ChildID      int64  `gorm:"not null;index"`
	MediaType    string `gorm:"not null;default:''"`
	ManifestSize int64  `gorm:"not null;default:0"`
	OS           string `gorm:"not null;default:''"`
	Architecture string `gorm:"not null;default:''"`
	Variant      string `gorm:"not null;default:''"`

	List  *Image `gorm:"foreignKey:ListID;constraint:OnDelete:CASCADE"`
	Child *Image `gorm:"foreignKey:ChildID;constraint:OnDelete:RESTRICT"`
}

// UsageSnapshot records usage at a time for trends; NamespaceID nil = registry.
type UsageSnapshot struct {
	ID               int64     `gorm:"primaryKey"`
	NamespaceID      *int64    `gorm:"index:ix_usage_snapshots_ns_taken,priority:1"`
	TakenAt          time.Time `gorm:"not null;index:ix_usage_snapshots_ns_taken,priority:2"`
	Bytes            int64     `gorm:"not null"`
	ExclusiveBytes   int64     `gorm:"not null"`
	ReclaimableBytes int64     `gorm:"not null"`
}

// JobRun is one run of a scheduled job.
type JobRun struct {
	ID       int64     `gorm:"primaryKey"`
	Job      string    `gorm:"not null;index:ix_job_runs_job_started,priority:1"`
	Started  time.Time `gorm:"not null;index:ix_job_runs_job_started,priority:2"`
	Finished *time.Time
	Status   string `gorm:"not null;default:''"` // running, ok, failed, abandoned
	// Holder is the lease or lock holder running it (empty before 0007).
	Holder     string `gorm:"not null;default:''"`
	Count      int64  `gorm:"not null;default:0"`
	BytesFreed int64  `gorm:"not null;default:0"`
	Message    string `gorm:"not null;default:''"`
}

// ReportDelivery is the weekly e-mail of one namespace for one ISO week
// (Week), or a threshold alert (Kind; Week is then the crossing's key).
type ReportDelivery struct {
	ID          int64  `gorm:"primaryKey"`
	NamespaceID int64  `gorm:"not null;uniqueIndex:ux_report_ns_week,priority:1"`
	Week        string `gorm:"not null;uniqueIndex:ux_report_ns_week,priority:2"` // 2026-W48
	Recipients  string `gorm:"not null;default:''"`
	Status      string `gorm:"not null;default:''"`
	Attempts    int    `gorm:"not null;default:0"`
	SentAt      *time.Time
	Error       string `gorm:"not null;default:''"`
	// Kind is "" for the weekly report and digest; threshold alerts are
	// DeliveryAlertMail or DeliveryAlertWebhook, keyed by their crossing.
	Kind string `gorm:"not null;default:''"`
}

// AuditEvent records one change: who, when, what, before and after.
type AuditEvent struct {
	ID        int64     `gorm:"primaryKey"`
	At        time.Time `gorm:"not null;index"`
	Actor     string    `gorm:"not null;index"`
	Namespace string    `gorm:"not null;default:'';index"`
	Action    string    `gorm:"not null;index"`
	Target    string    `gorm:"not null;default:''"`
	Before    string    `gorm:"not null;default:''"`
	After     string    `gorm:"not null;default:''"`
}

// User is a local or external account.
type User struct {
	ID            int64  `gorm:"primaryKey"`
	Name          string `gorm:"not null;uniqueIndex"`
	PasswordHash  string `gorm:"not null;default:''"`
	PlatformAdmin bool   `gorm:"not null;default:false"`
	CreatedAt     time.Time
}

// APIToken is stored as a hash; the token itself is shown once.
type APIToken struct {
	ID        int64  `gorm:"primaryKey"`
	UserID    int64  `gorm:"not null;index"`
	Name      string `gorm:"not null"`
	Hash      string `gorm:"not null;uniqueIndex"`
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time

	User *User `gorm:"constraint:OnDelete:CASCADE"`
}

// RoleBinding gives a user a role (viewer, editor, admin) in a namespace.
type RoleBinding struct {
	ID          int64  `gorm:"primaryKey"`
	NamespaceID int64  `gorm:"not null;uniqueIndex:ux_role_bindings_ns_user,priority:1"`
	UserID      int64  `gorm:"not null;uniqueIndex:ux_role_bindings_ns_user,priority:2;index"`
	Role        string `gorm:"not null"`

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
	User      *User      `gorm:"constraint:OnDelete:CASCADE"`
}
