// Package views holds the templ components of the dashboard and the
// e-mails, and the page models the handlers fill. Views format; they never
// query.
package views

import (
	"net/url"
	"time"

	"layerwise/buildinfo"
	"layerwise/store"
)

// Page is what every page's layout needs.
type Page struct {
	Title  string
	User   string // "" when nobody is logged in
	Admin  bool   // a platform admin: the accounts page is in the menu
	CSRF   string // token for forms (logout, search is GET)
	Crumbs []Crumb
	Query  string    // the search box's current text
	Now    time.Time // for relative ages; exact time goes in title=""
	// UsageAt is when the stored prune plan behind the reclaimable figures
	// was computed (the other figures are read with the page); zero when no
	// plan was computed yet.
	UsageAt time.Time
	// Build is the running binary, named in the footer (zero: not shown).
	Build buildinfo.Info
}

// Crumb is one step of the breadcrumbs; the last one has no Href.
type Crumb struct{ Label, Href string }

// KV is a label, annotation or environment pair, sorted by key.
type KV struct{ Key, Value string }

// Pager splits long lists; hrefs are ready to use ("" when there is none).
type Pager struct {
	Page, Pages, Total int
	PrevHref, NextHref string
}

// Point is one usage snapshot for sparklines.
type Point struct {
	At    time.Time
	Bytes int64
}

// Overview is "/".
type Overview struct {
	Page
	RegistryBytes    int64
	RegistryBlobs    int64
	ReclaimableBytes int64
	UnknownImages    int64
	NamespaceCount   int
	OverCount        int            // namespaces at or over their threshold
	Namespaces       []NamespaceBar // this page of the ranking, biggest first
	Pager            Pager
	// Sort is the ranking's order (size, name, exclusive, reclaimable,
	// threshold, streams); SortHrefs link each column's order.
	Sort      string
	SortHrefs map[string]string
	Jobs      []JobStatus
	Trend     []Point // registry snapshots, oldest first
	// Scoped: the user is no platform admin, so the figures above and the
	// trend are their namespaces' summed, not the registry's;
	// RegistryBlobs and UnknownImages are not known per namespace (zero).
	Scoped bool
}

// NamespaceBar is one namespace in the overview ranking.
type NamespaceBar struct {
	Name             string
	Streams          int
	Bytes            int64
	ExclusiveBytes   int64
	ReclaimableBytes int64
	ThresholdBytes   int64
	Over             bool
	// Fraction of the biggest namespace's bytes, 0..1, for the bar width.
	Fraction float64
	Trend    []Point // its snapshots, then today's usage: the row's sparkline
}

// JobStatus is a scheduled job and its last run.
type JobStatus struct {
	Name     string
	Schedule string
	Words    string // the schedule in words ("Mondays at 07:00 UTC"); "" when there are none
	Next     *time.Time
	Last     *store.JobRun // nil: never ran
	Run      *RunControl   // nil: no button (not a platform admin, or not here)
}

// NamespacePage is "/ns/{ns}".
type NamespacePage struct {
	Page
	Name             string
	Bytes            int64
	ExclusiveBytes   int64
	ReclaimableBytes int64
	ThresholdBytes   int64
	Over             bool
	Contacts         []string
	StreamCount      int
	Filter           string // the name filter as typed
	Sort             string // size, name or updated
	SortHrefs        map[string]string
	Streams          []StreamRow // this page
	Pager            Pager
	Trend            []Point
	Chart            UsageChart // usage over time, with the change since last week
	CanAdmin         bool       // namespace admin: links to the settings and members pages
}

// StreamRow is one stream in a namespace listing.
type StreamRow struct {
	Name string
	// Signed counts the tags whose current image has a signature, of
	// SignedOf tags with a current image.
	Signed, SignedOf int
	Href             string
	Tags             int
	UniqueImages     int
	Bytes            int64
	ExclusiveBytes   int64
	Updated          time.Time // zero: no history
	Fraction         float64   // of the namespace's biggest stream, for a bar
}

// StreamPage is "/ns/{ns}/is/{name}": oc describe is, laid out.
type StreamPage struct {
	Page
	Namespace      string
	Name           string
	PullSpec       string
	PublicPullSpec string
	Created        time.Time
	Labels         []KV
	Annotations    []KV
	Bytes          int64 // counted once over every tag's history
	ExclusiveBytes int64 // -1 while usage is being computed
	UniqueImages   int
	// LastPulled is the newest pull of any image from the stream (zero:
	// none recorded).
	LastPulled time.Time
	Tags       []TagView // in oc's order: latest, versions newest first, the rest
	// Parts say where the stream's bytes go, for a stacked bar: each tag's
	// exclusive bytes, then bytes shared between tags of this stream, then
	// bytes shared with other streams. They add up to Bytes.
	Parts []Part
	// Actions are the forms the user may use (none for viewers).
	Actions Actions
}

// Part is one slice of a stacked bar.
type Part struct {
	Label string
	Bytes int64
	Href  string // optional
	Kind  string // "tag", "shared-stream", "shared-registry": picks the colour
}

// TagView is one tag with its source and history.
type TagView struct {
	Name      string
	Href      string
	InSpec    bool
	Source    string // in oc's words: "tagged from python@sha256:…", "updates automatically from registry quay.io/x:1", "reference to registry …", "tracks latest"
	Scheduled bool
	Insecure  bool
	Reference bool
	Alias     bool
	// KeepsSource: the tag tracks another tag or is imported on a
	// schedule, so a rollback keeps that source (Source says which); any
	// other tag's spec becomes the image rolled back to.
	KeepsSource bool
	// ImportError is set when the last import failed (ImportSuccess=False).
	ImportError    *ImportError
	Bytes          int64
	ExclusiveBytes int64 // -1 while usage is being computed
	// History is one page of the history, newest first: HistoryFrom is the
	// position of its first entry, Revisions the length of the whole
	// history, and NewerHref/OlderHref lead to the pages beside it.
	History              []Revision
	HistoryFrom          int
	Revisions            int
	NewerHref, OlderHref string
	// Current is the current entry (nil: no history), also when History
	// is an older page.
	Current *Revision
	// LastPulled is when the current image was last pulled from the
	// stream (zero: no pull recorded).
	LastPulled time.Time
	// PromoteTo is the next rung of the namespace's promotion ladder; ""
	// when the tag is on no rung but the last, or has no image to promote.
	PromoteTo string
	// PromoteConfirm: PromoteTo is the ladder's last rung, so the promotion
	// asks to confirm and says what it does to the next prune.
	PromoteConfirm bool
	External       bool // tagged from an external image: scheduled import can be toggled
	// Unverified: the current entry records a pull spec that was never
	// read from its registry (a DockerImage source by digest that the
	// namespace does not hold): no image is linked until an import reads it.
	Unverified bool
}

// ImportError is a failed ImportSuccess condition.
type ImportError struct {
	Reason, Message string
	At              *time.Time
}

// Revision is one history entry.
type Revision struct {
	Image    string // digest, "" for a reference-only entry
	Ref      string // the pull spec recorded
	Href     string // the image page
	Created  time.Time
	Bytes    int64
	Known    bool // layer data imported; false: size unknown
	Current  bool
	Prunable bool // the prune policy would remove it
	Pinned   bool // pinned in the namespace: prune keeps it
	// InUse names the workloads on the cluster that use the image ("in use
	// by deployment payments/api and 2 more"); "": none.
	InUse string
	// Why prune keeps it (or not), in words; PrunableOn is when it becomes
	// prunable if nothing but time changes (zero: not by time alone).
	Why        string
	PrunableOn time.Time
	LastPulled time.Time // zero: no pull recorded
	Signed     bool      // a signature is attached to the image
}

// TagPage is "/ns/{ns}/istag/{name}:{tag}".
type TagPage struct {
	Page
	Namespace  string
	Stream     string
	StreamHref string
	Tag        TagView
	Image      *ImageView // nil when the tag has no image yet
	Actions    Actions
	// Pins are the namespace's pins of images in this tag's history.
	Pins map[string]store.PinInfo
}

// PrunePage is "/prune": the plan the caller may see and the past runs.
type PrunePage struct {
	Page
	// Run is the "Prune now…" button (nil: not a platform admin, or no
	// prune job here); Flash how a run started by hand went.
	Run   *RunControl
	Flash *RunFlash
	Plan  *store.PrunePlan
	// InUse is each cluster's in-use read (none: no cluster configured).
	InUse    []store.InUseRead
	All      bool // the whole registry's plan (platform admin)
	Runs     []store.JobRun
	Schedule string
	Next     time.Time
	Pins     []store.PinInfo
	// Detail is the namespace whose revisions are listed, stream by stream
	// (/prune?ns=NS, or the only namespace of the plan); "" lists none.
	// Listing every revision of a large registry would be a page of
	// hundreds of megabytes.
	Detail *store.PruneNamespace
	// DetailRevisions are Detail's revisions by stream.
	DetailRevisions map[string][]store.PruneRevision
	// DetailKept are the revisions of Detail's namespace that the plan
	// keeps, with why; DetailRules its retention rules, in order.
	DetailKept  []store.PruneRevision
	DetailRules []string
	// DetailReferrers are the signatures, SBOMs and attestations that go
	// with Detail's revisions, by their subject's digest.
	DetailReferrers map[string][]store.PruneReferrer
	// Orphans are the plan's referrers whose subject nothing holds any
	// more (the first MaxOrphansShown); OrphanCount counts them all.
	Orphans     []store.PruneReferrer
	OrphanCount int
}

// MaxOrphansShown bounds the orphaned referrers the prune page lists.
const MaxOrphansShown = 200

// PruneHref is the prune page listing one namespace's revisions.
func PruneHref(ns string) string { return "/prune?ns=" + url.QueryEscape(ns) + "#prune-detail" }

// ImageView is an image with its layers.
type ImageView struct {
	Digest     string
	Href       string
	MediaType  string
	Ref        string
	Known      bool
	Bytes      int64 // counted once
	Created    *time.Time
	OS         string
	Arch       string
	Variant    string
	Author     string
	User       string
	WorkingDir string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Ports      []string
	Labels     []KV
	Layers     []LayerView // in manifest order, duplicates included
	Config     *LayerView
	// Manifest is the image's own manifest where the registry stores it
	// as a blob (counted in Bytes).
	Manifest  *LayerView
	Platforms []PlatformView // manifest lists: one per child
	// Referrers are the signatures, SBOMs and attestations attached to
	// the image, newest first; ReferrerBytes counts their blobs once
	// (they count with the image in usage and go with it in prune).
	Referrers     []ReferrerView
	ReferrerBytes int64
	Signed        bool
	// Subjects are the images this one is attached to, when it is a
	// signature, an SBOM or an attestation.
	Subjects []string
}

// ReferrerView is one signature, SBOM or attestation of an image.
type ReferrerView struct {
	Digest       string
	Href         string
	Type         string // signature, sbom, attestation, other
	ArtifactType string
	Bytes        int64
	Created      time.Time
}

// LayerView is one blob of an image.
type LayerView struct {
	Digest    string
	Href      string
	MediaType string
	Size      int64
	Position  int // 0-based; -1 for the config
	Shares    store.BlobShares
	Duplicate bool    // listed earlier in the same image: counted once
	Fraction  float64 // of the image's bytes, 0..1, for the size bar
	// Derived: the size is worked out (a config's, from
	// dockerImageMetadata.Size), no manifest gave it.
	Derived bool
}

// PlatformView is one child of a manifest list.
type PlatformView struct {
	OS, Arch, Variant string
	Digest, Href      string
	Bytes             int64
	Known             bool
}

// ImagePage is "/images/{digest}".
type ImagePage struct {
	Page
	Image   ImageView
	Holders []Holder // every tag whose history has the image, current first
	Lists   []Holder // manifest lists that contain it (Tag empty, Digest set)
}

// Holder is a tag (or a manifest list) that holds an image.
type Holder struct {
	Namespace, Stream, Tag string
	Href                   string
	Digest                 string
	Current                bool
	Created                time.Time
}

// BlobPage is "/blobs/{digest}".
type BlobPage struct {
	Page
	Digest     string
	MediaType  string
	Size       int64
	Shares     store.BlobShares
	Images     []BlobImage // first page of the images listing it
	Streams    []Holder    // Namespace, Stream, Href
	Namespaces []string
	More       int // images not listed
	// MoreStreams counts streams not listed (the list stops at a limit).
	MoreStreams int
}

// BlobImage is an image that lists a blob.
type BlobImage struct {
	Digest, Href string
	Config       bool // the blob is this image's config
}

// SearchPage lists what a query matched when it did not name one thing.
type SearchPage struct {
	Page
	Results []Result
}

// Result is one search hit.
type Result struct {
	Kind    string // namespace, stream, tag, image, blob
	Label   string
	Href    string
	Size    int64 // counted once in its scope
	HasSize bool  // false: not known (usage being computed, no layer data)
}

// NotFoundPage is the helpful 404.
type NotFoundPage struct {
	Page
	What        string   // "image stream payments/apii"
	Suggestions []Result // near matches
}

// ErrorPage is a 500 or a refused request.
type ErrorPage struct {
	Page
	Status  int
	Message string
}

// LoginPage is "/login".
type LoginPage struct {
	Page
	SSO   bool // offer OpenID Connect login
	Error string
	Next  string
	Name  string
}

// JobsPage is "/jobs": the scheduled jobs and their recent runs.
type JobsPage struct {
	Page
	Jobs []JobStatus
	Runs []store.JobRun // newest first
	// ReportScheduled: the weekly-report job runs here; MailConfigured:
	// a mail server is set, so it can send.
	ReportScheduled bool
	MailConfigured  bool
	Due             []DueReport // this week's e-mails: namespaces at or over their threshold
	Flash           *RunFlash   // a run started by hand, and how it went
}

// revisionCount is the length of a tag's whole history; a TagView made
// without paging holds it all.
func revisionCount(t TagView) int {
	return max(t.Revisions, t.HistoryFrom+len(t.History))
}

// currentRevision is a tag's current entry, nil when it has no history.
func currentRevision(t TagView) *Revision {
	if t.Current != nil {
		return t.Current
	}
	if len(t.History) > 0 && t.HistoryFrom == 0 {
		return &t.History[0]
	}
	return nil
}

// historyRange is "Revisions 51–100 of 100000".
func historyRange(t TagView) string {
	if len(t.History) == 0 {
		return "No revisions here; " + itoa(revisionCount(t)) + " in all"
	}
	return "Revisions " + itoa(t.HistoryFrom+1) + "–" + itoa(t.HistoryFrom+len(t.History)) + " of " + itoa(revisionCount(t))
}
