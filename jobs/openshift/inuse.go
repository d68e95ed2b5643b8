package openshift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"layerwise/store"
)

// Images in use: which images the cluster's workloads reference, read
// cluster-wide page by page, so that prune never removes them (as `oc adm
// prune images` keeps what pods, controllers, deployments, builds and
// jobs use).

// WorkloadReads are the workload collections SyncInUse lists.
func WorkloadReads() []Collection {
	return []Collection{
		{Version: "v1", Resource: "pods", ListKind: "PodList", Workload: "pod"},
		{Version: "v1", Resource: "replicationcontrollers", ListKind: "ReplicationControllerList", Workload: "replication controller"},
		{Group: "apps", Version: "v1", Resource: "replicasets", ListKind: "ReplicaSetList", Workload: "replica set"},
		{Group: "apps", Version: "v1", Resource: "deployments", ListKind: "DeploymentList", Workload: "deployment"},
		{Group: "apps", Version: "v1", Resource: "statefulsets", ListKind: "StatefulSetList", Workload: "stateful set"},
		{Group: "apps", Version: "v1", Resource: "daemonsets", ListKind: "DaemonSetList", Workload: "daemon set"},
		{Group: "batch", Version: "v1", Resource: "jobs", ListKind: "JobList", Workload: "job"},
		{Group: "batch", Version: "v1", Resource: "cronjobs", ListKind: "CronJobList", Workload: "cron job"},
		{Group: "apps.openshift.io", Version: "v1", Resource: "deploymentconfigs", ListKind: "DeploymentConfigList", Workload: "deployment config"},
		{Group: "build.openshift.io", Version: "v1", Resource: "builds", ListKind: "BuildList", Workload: "build"},
	}
}

// The bounds of one in-use read: the API may lie or be huge.
const (
	// WorkloadPageSize is the limit of each workload list request.
	WorkloadPageSize = 500
	// MaxWorkloadPages bounds each collection (1000 pages of 500: half a
	// million objects of one kind).
	MaxWorkloadPages = 1000
	// MaxWorkloadPage bounds one page's body.
	MaxWorkloadPage = 64 << 20
	// MaxRefsPerWorkload bounds the image references one object may give.
	MaxRefsPerWorkload = 1000
)

// ErrTooManyPages and ErrPageTooLarge name a listing beyond the bounds.
var (
	ErrTooManyPages = errors.New("too many pages")
	ErrPageTooLarge = errors.New("page too large")
)

// InUseSync says what an in-use read found.
type InUseSync struct {
	Workloads int // objects read
	store.InUseResult
}

// Message is one line for the job log.
func (r InUseSync) Message() string {
	return fmt.Sprintf("%d workloads reference %d images here (%d references to other registries or unknown tags)",
		r.Workloads, r.Images, r.Unresolved)
}

// SyncInUse lists every workload collection (WorkloadReads) cluster-wide
// and replaces the cluster's images in use with what they reference, once
// every page of every kind was read. A failed read (any kind, any page)
// changes no record: it is recorded as the cluster's last in-use read, and
// prune keeps everything until a read succeeds.
func (c *Cluster) SyncInUse(ctx context.Context, s *store.Store) (InUseSync, error) {
	res, err := c.readInUse(ctx, s)
	if err != nil {
		err = fmt.Errorf("images in use on %s: %w (the previous set is kept, and prune keeps every revision until a read succeeds)", c.URL, err)
		if rerr := s.RecordInUseFailure(context.WithoutCancel(ctx), c.Source(), err); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return InUseSync{}, err
	}
	return res, nil
}

func (c *Cluster) readInUse(ctx context.Context, s *store.Store) (InUseSync, error) {
	var res InUseSync
	token, err := c.token()
	if err != nil {
		return res, err
	}
	limit := c.PageSize
	if limit <= 0 {
		limit = WorkloadPageSize
	}
	maxPages, maxBytes := c.MaxPages, c.MaxPageBytes
	if maxPages <= 0 {
		maxPages = MaxWorkloadPages
	}
	if maxBytes <= 0 {
		maxBytes = MaxWorkloadPage
	}
	var refs []store.InUseRef
	for _, coll := range WorkloadReads() {
		err := c.pages(ctx, token, coll.Path(), limit, maxPages, maxBytes, func(items []json.RawMessage) error {
			for _, raw := range items {
				res.Workloads++
				got, err := workloadRefs(coll.Workload, raw)
				if err != nil {
					return err
				}
				refs = append(refs, got...)
				if len(refs) > store.MaxInUseRefs {
					return fmt.Errorf("more than %d image references", store.MaxInUseRefs)
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	r, err := s.ReplaceInUse(ctx, c.Source(), refs)
	res.InUseResult = r
	return res, err
}

// The parts of a workload that name images.
type (
	container struct {
		Image string `json:"image"`
	}
	podSpec struct {
		Containers          []container `json:"containers"`
		InitContainers      []container `json:"initContainers"`
		EphemeralContainers []container `json:"ephemeralContainers"`
	}
	podTemplate struct {
		Spec podSpec `json:"spec"`
	}
	containerStatus struct {
		ImageID string `json:"imageID"`
	}
	buildSource struct {
		From *apiRef `json:"from"`
	}
	workload struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			podSpec                  // pods
			Template    *podTemplate `json:"template"` // controllers, jobs, deployment configs
			JobTemplate *struct {
				Spec struct {
					Template podTemplate `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"` // cron jobs
			Triggers []struct {
				ImageChangeParams *struct {
					From               apiRef `json:"from"`
					LastTriggeredImage string `json:"lastTriggeredImage"`
				} `json:"imageChangeParams"`
			} `json:"triggers"` // deployment configs
			Strategy *struct {
				SourceStrategy *buildSource `json:"sourceStrategy"`
				DockerStrategy *buildSource `json:"dockerStrategy"`
				CustomStrategy *buildSource `json:"customStrategy"`
			} `json:"strategy"` // builds
			Output *struct {
				To *apiRef `json:"to"`
			} `json:"output"`
		} `json:"spec"`
		Status struct {
			ContainerStatuses          []containerStatus `json:"containerStatuses"`
			InitContainerStatuses      []containerStatus `json:"initContainerStatuses"`
			EphemeralContainerStatuses []containerStatus `json:"ephemeralContainerStatuses"`
			OutputDockerImageReference string            `json:"outputDockerImageReference"`
		} `json:"status"`
	}
)

// workloadRefs reads the image references of one object of a kind.
func workloadRefs(kind string, raw json.RawMessage) ([]store.InUseRef, error) {
	var o workload
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("a %s that is not one: %v", kind, err)
	}
	w := store.Workload{Kind: kind, Namespace: o.Metadata.Namespace, Name: o.Metadata.Name}
	if w.Name == "" || w.Namespace == "" {
		return nil, fmt.Errorf("a %s without a name or namespace", kind)
	}
	if len(w.Name) > 253 || len(w.Namespace) > 63 {
		return nil, fmt.Errorf("a %s whose name or namespace is longer than Kubernetes allows (253, 63)", kind)
	}
	var refs []store.InUseRef
	seen := map[string]bool{}
	pull := func(spec string) {
		spec = strings.TrimSpace(spec)
		if spec == "" || seen[spec] {
			return
		}
		seen[spec] = true
		refs = append(refs, store.InUseRef{Workload: w, PullSpec: spec})
	}
	podRefs := func(p podSpec) {
		for _, list := range [][]container{p.Containers, p.InitContainers, p.EphemeralContainers} {
			for _, c := range list {
				pull(c.Image)
			}
		}
	}
	ref := func(r *apiRef) {
		if r == nil || r.Name == "" {
			return
		}
		ns := r.Namespace
		if ns == "" {
			ns = w.Namespace
		}
		switch r.Kind {
		case "DockerImage":
			pull(r.Name)
		case "ImageStreamImage": // stream@sha256:…: the image by digest
			pull(r.Name)
		case "ImageStreamTag":
			name, tag, ok := strings.Cut(r.Name, ":")
			if !ok || seen["ist:"+ns+"/"+r.Name] {
				return
			}
			seen["ist:"+ns+"/"+r.Name] = true
			refs = append(refs, store.InUseRef{Workload: w, StreamTag: &store.TagRef{Namespace: ns, Stream: name, Tag: tag}})
		}
	}
	sp := o.Spec
	podRefs(sp.podSpec)
	if sp.Template != nil {
		podRefs(sp.Template.Spec)
	}
	if sp.JobTemplate != nil {
		podRefs(sp.JobTemplate.Spec.Template.Spec)
	}
	for _, tr := range sp.Triggers {
		if p := tr.ImageChangeParams; p != nil {
			from := p.From
			ref(&from)
			pull(p.LastTriggeredImage)
		}
	}
	if st := sp.Strategy; st != nil {
		for _, b := range []*buildSource{st.SourceStrategy, st.DockerStrategy, st.CustomStrategy} {
			if b != nil {
				ref(b.From)
			}
		}
	}
	if sp.Output != nil {
		ref(sp.Output.To)
	}
	pull(o.Status.OutputDockerImageReference)
	// What a pod runs, by digest: a tag may have moved since it started.
	for _, list := range [][]containerStatus{o.Status.ContainerStatuses, o.Status.InitContainerStatuses, o.Status.EphemeralContainerStatuses} {
		for _, cs := range list {
			id := cs.ImageID
			if i := strings.Index(id, "://"); i >= 0 {
				id = id[i+3:]
			}
			if strings.Contains(id, "@") { // a bare sha256: is the runtime's config id
				pull(id)
			}
		}
	}
	if len(refs) > MaxRefsPerWorkload {
		return nil, fmt.Errorf("%s names %d images, more than %d", w, len(refs), MaxRefsPerWorkload)
	}
	return refs, nil
}
