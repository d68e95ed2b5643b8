package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"layerwise/jobs/openshift"
	"layerwise/jobs/registry"
	"layerwise/store"
)

// SyncActor is the system principal the registry sync writes as.
const SyncActor = "system:sync"

// SyncSettings say what the sync job reads; either may be nil.
type SyncSettings struct {
	Schedule string // LAYERWISE_SYNC_SCHEDULE
	// Registry is the managed registry (LAYERWISE_REGISTRY_URL).
	Registry *registry.Managed
	// OpenShift is the cluster (LAYERWISE_OPENSHIFT_URL).
	OpenShift *openshift.Cluster
	// Changed is called after a run that changed something (the caches).
	Changed func()
}

// SyncJob is the job "sync": the full sync of the managed registry, then
// of the OpenShift cluster. Each runs even when the other failed; the run
// fails when either did.
func SyncJob(s *store.Store, set SyncSettings) Job {
	return Job{Name: "sync", Schedule: set.Schedule, Run: func(ctx context.Context) (Result, error) {
		return RunSync(ctx, s, set)
	}}
}

// RunSync is one run of the sync job.
func RunSync(ctx context.Context, s *store.Store, set SyncSettings) (Result, error) {
	var res Result
	var msgs []string
	var errs []error
	changed := 0
	if set.Registry != nil {
		r, err := set.Registry.Sync(ctx, s, SyncActor)
		changed += r.Changed
		res.Count += int64(r.Changed)
		msgs = append(msgs, "registry "+set.Registry.Host+": "+r.Summary())
		if err != nil {
			errs = append(errs, err)
		}
	}
	if set.OpenShift != nil {
		r, err := set.OpenShift.Sync(ctx, s)
		if err != nil {
			errs = append(errs, err)
			msgs = append(msgs, "OpenShift "+set.OpenShift.URL+": failed")
		} else {
			n := r.StreamsChanged + r.ImagesChanged + r.Removed
			changed += n
			res.Count += int64(n)
			msgs = append(msgs, "OpenShift "+set.OpenShift.URL+": "+r.Message())
		}
		// The images in use, after the streams (their tags resolve the
		// references by tag), also when the streams failed: a failure here
		// is recorded and holds prune.
		u, err := set.OpenShift.SyncInUse(ctx, s)
		if err != nil {
			errs = append(errs, err)
			msgs = append(msgs, "in use: failed (prune keeps everything until a read succeeds)")
		} else {
			msgs = append(msgs, "in use: "+u.Message())
		}
		if err != nil || u.Changed {
			changed++ // what prune keeps changed: the usage and pages too
		}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "nothing to sync: set LAYERWISE_REGISTRY_URL or LAYERWISE_OPENSHIFT_URL")
	}
	res.Message = strings.Join(msgs, "; ")
	if changed > 0 && set.Changed != nil {
		set.Changed()
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("%s: %w", res.Message, err)
	}
	return res, nil
}
