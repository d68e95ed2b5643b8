package views

import "time"

// Report is one namespace's weekly registry-usage e-mail. Every figure is
// counted once in its own scope (see docs/ARCHITECTURE.md); the handlers, the CLI and
// the weekly job fill it from one usage computation.
type Report struct {
	Namespace      string
	Week           string // ISO week, "2026-W48"
	Now            time.Time
	BaseURL        string // absolute links, no trailing slash
	Subject        string
	Bytes          int64
	ExclusiveBytes int64
	ThresholdBytes int64
	RegistryBytes  int64
	// Share of the registry, 0..1.
	Share float64
	// Change since last week's snapshot; HasChange false when there was none.
	Change    int64
	HasChange bool
	// WeeksOver counts consecutive ISO weeks at or over the threshold,
	// this one included.
	WeeksOver int
	// Reclaimable is what tonight's prune frees in this namespace.
	Reclaimable int64
	// NotPulledBytes are the exclusive bytes that only revisions not pulled
	// in 90 days hold; PullsSince is the first pull recorded (zero: none
	// ever was, and nothing is said about pulls).
	NotPulledBytes int64
	PullsSince     time.Time
	Streams        []ReportStream // biggest first
	// Plan is the deletions that get the namespace under its threshold.
	Plan     ReportPlan
	Contacts []string
}

// ReportStream is a stream in the report.
type ReportStream struct {
	Name           string
	URL            string // absolute dashboard link
	Bytes          int64
	ExclusiveBytes int64
	Tags           []ReportTag
}

// ReportTag is a tag in the report.
type ReportTag struct {
	Name           string
	URL            string
	Bytes          int64
	ExclusiveBytes int64
	Revisions      []ReportRevision
}

// ReportRevision is one history entry.
type ReportRevision struct {
	Image    string
	Created  time.Time
	Bytes    int64
	Current  bool
	Prunable bool // tonight's prune removes it
	// InUse is "in use by deployment payments/api": a workload on the
	// cluster uses the image, so prune keeps it ("": none).
	InUse string
}

// ReportPlan is a set of deletions that gets the namespace under its
// threshold, measured as a set (store.PlanSavings): each step says what it
// takes off the usage after the steps above it, so they add up.
type ReportPlan struct {
	Over       bool  // at or over the threshold now
	PruneBytes int64 // what tonight's prune takes off the usage
	AfterPrune int64
	Steps      []Saving
	After      int64 // the usage once prune ran and the steps are done
	Freed      int64 // what leaves the disk then (shared layers stay)
	Reaches    bool  // After is under the threshold
	// LeftAlone are the tags no plan deletes, with why:
	// "api:prod (the last rung of the promotion ladder)".
	LeftAlone []string
}

// Saving is one step of the plan: "delete tag api:old: −1.2 GiB".
type Saving struct {
	Kind    string // "tag", "tags" (of one stream) or "stream"
	Name    string // "api:old", "api:old, api:dev" or "api"
	Bytes   int64  // taken off the usage after the steps before it
	Command string // oc tag -d ns/is:tag, oc delete imagestream is -n ns
	URL     string
}

// Digest is the weekly platform digest for LAYERWISE_ADMIN_EMAIL.
type Digest struct {
	Week          string
	Now           time.Time
	BaseURL       string
	Subject       string
	RegistryBytes int64
	Reclaimable   int64
	Over          []DigestNamespace // at or over threshold, biggest first
	Movers        []DigestNamespace // biggest absolute change since last week
	Failed        []DigestFailure   // deliveries of this week that failed
	NoContacts    []string          // over threshold with nobody to tell
}

// DigestNamespace is one namespace in the digest.
type DigestNamespace struct {
	Name           string
	URL            string
	Bytes          int64
	ThresholdBytes int64
	Change         int64
	HasChange      bool
}

// DigestFailure is a failed delivery.
type DigestFailure struct {
	Namespace string
	Error     string
	Attempts  int
}

// Alert is a threshold-crossing e-mail: the namespace went over its usage
// threshold (Up) or back below it.
type Alert struct {
	Namespace      string
	Up             bool
	Bytes          int64 // usage, counted once, when it crossed
	ThresholdBytes int64
	Reclaimable    int64 // what the next prune frees in it
	At             time.Time
	Now            time.Time
	BaseURL        string // absolute links, no trailing slash
	Subject        string
	Contacts       []string
}
