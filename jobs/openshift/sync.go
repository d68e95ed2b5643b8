package openshift

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"layerwise/store"
)

// Cluster is an OpenShift API that image streams and images are synced
// from (LAYERWISE_OPENSHIFT_URL, LAYERWISE_OPENSHIFT_TOKEN_FILE).
type Cluster struct {
	// URL is the API server, e.g. https://api.cluster.example.com:6443.
	URL string
	// TokenFile holds a bearer token (a service account's); it is read on
	// every sync, so a rotated token takes effect without a restart.
	TokenFile string
	// Client makes the requests; nil means one with a 60 s timeout.
	Client *http.Client
	// PageSize is the limit of each list request; 0 means 250 for images
	// and streams, WorkloadPageSize for workloads.
	PageSize int
	// MaxPages and MaxPageBytes bound each workload collection's listing;
	// 0 means MaxWorkloadPages and MaxWorkloadPage.
	MaxPages     int
	MaxPageBytes int64
}

// SyncActor is the system principal the OpenShift sync writes as.
const SyncActor = "system:openshift-sync"

// Collection is an API collection that the sync lists cluster-wide: GET
// of the collection, page by page (the RBAC verb "list"), and nothing else.
type Collection struct {
	Group, Version, Resource string
	// ListKind is the kind of the list the API answers with.
	ListKind string
	// Workload is the kind of a workload collection in words ("deployment
	// config"); "" for the image collections.
	Workload string
}

// ListVerb is the RBAC verb of every request the sync makes.
const ListVerb = "list"

// Path is the collection's URL path on the API server.
func (c Collection) Path() string {
	if c.Group == "" {
		return "/api/" + c.Version + "/" + c.Resource
	}
	return "/apis/" + c.Group + "/" + c.Version + "/" + c.Resource
}

// Reads are the collections a sync lists: the images and streams (Sync),
// then the workloads (SyncInUse). The ClusterRole in deploy/base grants
// exactly these with ListVerb; deploy's test holds the two equal.
func Reads() []Collection {
	return append(imageReads(), WorkloadReads()...)
}

// imageReads are the collections Sync lists, in order (images first, so
// that the streams' tags find their images).
func imageReads() []Collection {
	return []Collection{
		{Group: "image.openshift.io", Version: "v1", Resource: "images", ListKind: "ImageList"},
		{Group: "image.openshift.io", Version: "v1", Resource: "imagestreams", ListKind: "ImageStreamList"},
	}
}

// Source is what streams synced from this cluster record as their source.
func (c *Cluster) Source() string { return "openshift:" + strings.TrimRight(c.URL, "/") }

// ClusterSync says what a sync read and changed.
type ClusterSync struct {
	Summary
	Removed int // streams gone from the cluster and removed here
}

// Message is one line for the job log.
func (r ClusterSync) Message() string {
	return fmt.Sprintf("%d image streams (%d changed), %d tags, %d images (%d new or changed), %d streams removed",
		r.Streams, r.StreamsChanged, r.Tags, r.Images, r.ImagesChanged, r.Removed)
}

// Sync lists every image stream and image of the cluster (paginated with
// limit/continue), maps them as `import openshift` does (Decode, Apply),
// and removes the streams that came from this cluster earlier and are gone
// from it now; tags gone from a stream go as Apply replaces the stream.
// Streams of other sources are never removed. Everything is written in one
// transaction, and only after every page was read: a failed page writes
// and removes nothing.
func (c *Cluster) Sync(ctx context.Context, s *store.Store) (ClusterSync, error) {
	var res ClusterSync
	token, err := c.token()
	if err != nil {
		return res, err
	}
	var doc bytes.Buffer
	for _, coll := range imageReads() {
		items, err := c.list(ctx, token, coll.Path())
		if err != nil {
			return res, err
		}
		b, err := json.Marshal(map[string]any{"kind": coll.ListKind, "apiVersion": coll.Group + "/" + coll.Version, "items": items})
		if err != nil {
			return res, err
		}
		doc.Write(b)
		doc.WriteByte('\n')
	}
	objs, err := Decode(c.URL, &doc, Options{Now: s.Now()})
	if err != nil {
		return res, err
	}
	var seen []store.StreamRef
	seenSet := map[store.StreamRef]bool{}
	for _, o := range objs {
		if o.Kind == KindImageStream && o.Stream != nil && o.Skipped == "" {
			ref := store.StreamRef{Namespace: o.Namespace, Stream: o.Name}
			if !seenSet[ref] {
				seenSet[ref] = true
				seen = append(seen, ref)
			}
		}
	}
	err = s.Tx(ctx, func(tx *store.Store) error {
		w := &changeLog{Store: tx}
		sum, err := Apply(ctx, w, objs)
		if err != nil {
			return err
		}
		res.Summary = sum
		for _, ref := range sum.ReferrerStreams {
			// A new signature in a stream is a change of that stream.
			if !slices.Contains(w.streams, ref) {
				w.streams = append(w.streams, ref)
			}
		}
		for _, ref := range w.streams {
			if err := tx.Audit(ctx, store.AuditEvent{Actor: SyncActor, Namespace: ref.Namespace, Action: "stream.sync",
				Target: ref.String(), After: "as in " + c.URL}); err != nil {
				return err
			}
		}
		if err := tx.SetStreamSource(ctx, seen, c.Source()); err != nil {
			return err
		}
		had, err := tx.StreamsFromSource(ctx, c.Source())
		if err != nil {
			return err
		}
		var gone []store.StreamRef
		for _, ref := range had {
			if !seenSet[ref] {
				gone = append(gone, ref)
			}
		}
		res.Removed, err = tx.DeleteStreams(ctx, gone)
		if err != nil {
			return err
		}
		for _, ref := range gone {
			if err := tx.Audit(ctx, store.AuditEvent{Actor: SyncActor, Namespace: ref.Namespace,
				Action: "stream.delete", Target: ref.String(), Before: "synced from " + c.URL, After: "gone from the cluster"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ClusterSync{}, fmt.Errorf("OpenShift sync from %s: %w (nothing was written)", c.URL, err)
	}
	return res, nil
}

// changeLog is the store as Apply's Writer, noting the streams that changed.
type changeLog struct {
	*store.Store
	streams []store.StreamRef
}

func (w *changeLog) PutStream(ctx context.Context, s store.StreamSnapshot) (bool, error) {
	changed, err := w.Store.PutStream(ctx, s)
	if changed {
		w.streams = append(w.streams, store.StreamRef{Namespace: s.Namespace, Stream: s.Name})
	}
	return changed, err
}

func (c *Cluster) token() (string, error) {
	if c.TokenFile == "" {
		return "", fmt.Errorf("LAYERWISE_OPENSHIFT_TOKEN_FILE is not set: the OpenShift sync needs a token that may list imagestreams and images")
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("read LAYERWISE_OPENSHIFT_TOKEN_FILE: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("LAYERWISE_OPENSHIFT_TOKEN_FILE %s is empty", c.TokenFile)
	}
	return t, nil
}

func (c *Cluster) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// listPage is a Kubernetes list response.
type listPage struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// list reads every item of a collection, page by page.
func (c *Cluster) list(ctx context.Context, token, path string) ([]json.RawMessage, error) {
	limit := c.PageSize
	if limit <= 0 {
		limit = 250
	}
	var items []json.RawMessage
	err := c.pages(ctx, token, path, limit, 0, maxImagePage, func(page []json.RawMessage) error {
		items = append(items, page...)
		return nil
	})
	return items, err
}

// maxImagePage bounds one page of images or streams.
const maxImagePage = 512 << 20

// pages reads a collection page by page (limit/continue) and hands each
// page's items to fn; at most maxPages pages (0: no bound), each at most
// maxBody bytes.
func (c *Cluster) pages(ctx context.Context, token, path string, limit, maxPages int, maxBody int64, fn func([]json.RawMessage) error) error {
	base := strings.TrimRight(c.URL, "/") + path
	cont := ""
	for page := 1; ; page++ {
		if maxPages > 0 && page > maxPages {
			return fmt.Errorf("list %s: %w: more than %d pages of %d", base, ErrTooManyPages, maxPages, limit)
		}
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		p, err := c.get(ctx, token, base+"?"+q.Encode(), maxBody)
		if err != nil {
			return fmt.Errorf("list %s (page %d): %w", base, page, err)
		}
		if err := fn(p.Items); err != nil {
			return fmt.Errorf("list %s (page %d): %w", base, page, err)
		}
		if p.Metadata.Continue == "" {
			return nil
		}
		if p.Metadata.Continue == cont {
			return fmt.Errorf("list %s (page %d): the server sent the same continue token again", base, page)
		}
		cont = p.Metadata.Continue
	}
}

func (c *Cluster) get(ctx context.Context, token, u string, maxBody int64) (listPage, error) {
	var p listPage
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return p, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return p, err
	}
	if int64(len(body)) > maxBody && resp.StatusCode == http.StatusOK {
		return p, fmt.Errorf("%w: a page is larger than %d bytes", ErrPageTooLarge, maxBody)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return p, fmt.Errorf("the API refused the token in LAYERWISE_OPENSHIFT_TOKEN_FILE (%s): it must be valid and allowed to list %s cluster-wide (deploy/base/clusterrole.yaml)", resp.Status, resourceOf(u))
	case resp.StatusCode == http.StatusGone:
		return p, fmt.Errorf("the listing expired while it was read (410 Gone); the next sync starts over")
	case resp.StatusCode != http.StatusOK:
		return p, fmt.Errorf("%s: %s", resp.Status, snippet(body))
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("not a Kubernetes list: %v", err)
	}
	return p, nil
}

// resourceOf is the resource a list URL names ("deployments").
func resourceOf(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndexByte(u, '/')+1:]
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
