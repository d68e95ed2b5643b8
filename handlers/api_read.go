package handlers

import (
	"encoding/json"
	"fmt"
	"layerwise/format/jsonlist"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

const apiVersionImage = "image.openshift.io/v1"

// apiUsageHead is `usage -o json` with its namespaces left to stream.
// Scope "namespaces" says that "registry" holds the figures of the
// namespaces listed, summed (blobs and unknownImages are not known per
// namespace: 0), as for a caller who is no platform admin.
type apiUsageHead struct {
	Registry   store.RegistryUsage    `json:"registry"`
	Namespaces []store.NamespaceUsage `json:"namespaces"`
	ComputedAt time.Time              `json:"computedAt"`
	// PullsRecordedSince: the earliest pull recorded (nil: none).
	PullsRecordedSince *time.Time `json:"pullsRecordedSince,omitempty"`
	// PlanComputedAt: when the reclaimable figures were computed.
	PlanComputedAt time.Time `json:"planComputedAt,omitzero"`
	Scope          string    `json:"scope,omitempty"`
}

// APIUsage is GET /api/v1/usage, as `usage -o json`: the namespaces the
// caller can see; the registry's totals for a platform admin, the sums of
// their namespaces' for anyone else (the registry's count namespaces they
// hold no role in).
func (h *Handler) APIUsage(c echo.Context) error {
	ctx := c.Request().Context()
	h0, err := h.Store.ReadUsageHead(ctx)
	if err != nil {
		return h.apiFail(c, err)
	}
	head := apiUsageHead{Registry: h0.Registry, ComputedAt: h.now(), PullsRecordedSince: h0.PullsRecordedSince, PlanComputedAt: h0.PlanComputedAt}
	if !seesAll(c) {
		sum, err := h.scopedSum(c)
		if err != nil {
			return h.apiFail(c, err)
		}
		head.Registry, head.Scope = sum, "namespaces"
	}
	// The whole registry's usage is ~170 MB of JSON on a large registry:
	// read and written a batch of namespaces at a time, never whole in
	// memory.
	var only []string // nil: all
	if sc := scopeOf(c); sc != nil {
		only = append([]string{}, sc.Namespaces...)
	}
	return writeJSONLists(c, &head, jsonlist.List{Key: "namespaces", Seq: func(yield func(any) error) error {
		return h.Store.EachNamespaceUsageOf(ctx, only, func(nu store.NamespaceUsage) error {
			if !canSee(c, nu.Name) {
				return nil
			}
			return yield(nu)
		})
	}})
}

// writeJSONLists answers 200 with head as c.JSON would, its lists (nil in
// head) streamed entry by entry.
func writeJSONLists(c echo.Context, head any, lists ...jsonlist.List) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	return jsonlist.Write(c.Response(), head, c.QueryParam("pretty") != "", lists...)
}

// APINamespaceUsage is GET /api/v1/namespaces/{ns}/usage: one namespace of
// `usage -o json`.
func (h *Handler) APINamespaceUsage(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	nu, err := h.Store.ReadNamespaceUsageFull(c.Request().Context(), ns)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, nu)
}

// exportedList is openshift.Export's v1 List, items kept as they are.
type exportedList struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   struct{}          `json:"metadata"`
	Items      []json.RawMessage `json:"items"`
}

func exportStreams(streams []store.StreamSnapshot) ([]json.RawMessage, error) {
	b, err := openshift.Export(streams)
	if err != nil {
		return nil, err
	}
	var l exportedList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("read back exported streams: %w", err)
	}
	if l.Items == nil {
		l.Items = []json.RawMessage{}
	}
	return l.Items, nil
}

// The stream and tag reads answer a window of each tag's history: the
// newest apiHistoryLimit entries unless ?limit= asks for another number
// (at most apiHistoryMaxLimit); ?continue= goes on where an answer with
// metadata.continue stopped.
const (
	apiHistoryLimit    = 100
	apiHistoryMaxLimit = 1000
)

// apiHistoryWindow reads ?limit= and ?continue=.
func apiHistoryWindow(c echo.Context) (store.HistoryWindow, error) {
	w := store.HistoryWindow{Limit: apiHistoryLimit}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiHistoryMaxLimit {
			return w, apiErrorf(http.StatusBadRequest, "limit %q: want the number of history entries per tag, 1 to %d", v, apiHistoryMaxLimit)
		}
		w.Limit = n
	}
	if v := c.QueryParam("continue"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return w, apiErrorf(http.StatusBadRequest, "continue %q: pass the metadata.continue of the previous answer", v)
		}
		w.Offset = n
	}
	return w, nil
}

// exportPages exports streams read through a window; a stream whose
// histories go on gets metadata.continue, as a Kubernetes list would.
func exportPages(pages []store.StreamPage) ([]json.RawMessage, error) {
	streams := make([]store.StreamSnapshot, len(pages))
	for i, p := range pages {
		streams[i] = p.StreamSnapshot
	}
	items, err := exportStreams(streams)
	if err != nil {
		return nil, err
	}
	for i, p := range pages {
		if p.More() {
			if items[i], err = withContinue(items[i], p.Window.Offset+p.Window.Limit); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

// withContinue sets metadata.continue of an exported object.
func withContinue(raw json.RawMessage, next int) (json.RawMessage, error) {
	var obj, meta map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("read back an exported stream: %w", err)
	}
	if err := json.Unmarshal(obj["metadata"], &meta); err != nil {
		return nil, fmt.Errorf("read back an exported stream: %w", err)
	}
	meta["continue"] = json.RawMessage(strconv.Quote(strconv.Itoa(next)))
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	obj["metadata"] = m
	return json.Marshal(obj)
}

// APIImageStreams is GET /api/v1/namespaces/{ns}/imagestreams: an
// image.openshift.io/v1 ImageStreamList, as `oc get is -o json` lists them,
// each tag's history through the window of ?limit= and ?continue=.
func (h *Handler) APIImageStreams(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	w, err := apiHistoryWindow(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	pages, err := h.Store.ListStreamPages(c.Request().Context(), ns, w)
	if err != nil {
		return h.apiFail(c, err)
	}
	items, err := exportPages(pages)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, exportedList{Kind: "ImageStreamList", APIVersion: apiVersionImage, Items: items})
}

// APIImageStream is GET /api/v1/namespaces/{ns}/imagestreams/{name}, each
// tag's history through the window of ?limit= and ?continue=.
func (h *Handler) APIImageStream(c echo.Context) error {
	ref, err := apiStreamRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	w, err := apiHistoryWindow(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	p, err := h.Store.GetStreamPage(c.Request().Context(), ref, w)
	if err != nil {
		return h.apiFail(c, err)
	}
	items, err := exportPages([]store.StreamPage{p})
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSONBlob(http.StatusOK, items[0])
}

// APITag is an ImageStreamTag in OpenShift's shape — metadata name
// "stream:tag", the spec tag, the current image with its layers, the
// generation and the import conditions — plus what Layerwise adds:
// sizeBytes (the current image's blobs counted once; null while its
// layers are unknown) and the tag's history, newest first, through the
// window of ?limit= and ?continue= (historyTotal and metadata.continue
// appear when the window does not hold it all).
type APITag struct {
	Kind         string            `json:"kind"`
	APIVersion   string            `json:"apiVersion"`
	Metadata     APITagMeta        `json:"metadata"`
	Tag          json.RawMessage   `json:"tag"`
	Generation   int64             `json:"generation"`
	LookupPolicy APILookupPolicy   `json:"lookupPolicy"`
	Conditions   []json.RawMessage `json:"conditions,omitempty"`
	Image        json.RawMessage   `json:"image"`
	SizeBytes    *int64            `json:"sizeBytes"`
	History      []json.RawMessage `json:"history"`
	HistoryTotal int               `json:"historyTotal,omitempty"`
}

// APITagMeta is the metadata of an APITag.
type APITagMeta struct {
	Name              string  `json:"name"`
	Namespace         string  `json:"namespace"`
	CreationTimestamp *string `json:"creationTimestamp"`
	// Continue is the ?continue= of the next window of the history.
	Continue string `json:"continue,omitempty"`
}

// APILookupPolicy is the stream's lookup policy, as OpenShift repeats it.
type APILookupPolicy struct {
	Local bool `json:"local"`
}

// exportedStream is the part of an exported ImageStream an APITag needs.
type exportedStream struct {
	Spec struct {
		LookupPolicy APILookupPolicy   `json:"lookupPolicy"`
		Tags         []json.RawMessage `json:"tags"`
	} `json:"spec"`
	Status struct {
		Tags []struct {
			Tag        string            `json:"tag"`
			Items      []json.RawMessage `json:"items"`
			Conditions []json.RawMessage `json:"conditions"`
		} `json:"tags"`
	} `json:"status"`
}

// apiTag builds the ImageStreamTag object of ref with the window w of its
// history; ErrNotFound when the stream has no such tag.
func (h *Handler) apiTag(c echo.Context, ref store.TagRef, w store.HistoryWindow) (*APITag, error) {
	ctx := c.Request().Context()
	page, err := h.Store.GetStreamPage(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream}, w)
	if err != nil {
		return nil, err
	}
	st := page.StreamSnapshot
	var snap *store.TagSnapshot
	for i := range st.Tags {
		if st.Tags[i].Name == ref.Tag {
			snap = &st.Tags[i]
		}
	}
	if snap == nil {
		return nil, fmt.Errorf("image stream tag %s not found: %w", ref, store.ErrNotFound)
	}
	items, err := exportStreams([]store.StreamSnapshot{st})
	if err != nil {
		return nil, err
	}
	var ex exportedStream
	if err := json.Unmarshal(items[0], &ex); err != nil {
		return nil, fmt.Errorf("read back exported stream %s: %w", ref, err)
	}
	out := &APITag{Kind: "ImageStreamTag", APIVersion: apiVersionImage,
		Metadata:     APITagMeta{Name: ref.Stream + ":" + ref.Tag, Namespace: ref.Namespace},
		Tag:          json.RawMessage("null"),
		LookupPolicy: ex.Spec.LookupPolicy,
		Image:        json.RawMessage("null"),
		History:      []json.RawMessage{},
	}
	for _, raw := range ex.Spec.Tags {
		var t struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &t) == nil && t.Name == ref.Tag {
			out.Tag = raw
		}
	}
	for _, t := range ex.Status.Tags {
		if t.Tag == ref.Tag {
			out.Conditions = t.Conditions
			if t.Items != nil {
				out.History = t.Items
			}
		}
	}
	if snap.Generation != nil {
		out.Generation = *snap.Generation
	}
	if total := page.Total[ref.Tag]; w.Offset > 0 || total > w.Offset+w.Limit {
		out.HistoryTotal = total
		if total > w.Offset+w.Limit {
			out.Metadata.Continue = strconv.Itoa(w.Offset + w.Limit)
		}
	}
	cur, ok := page.Current[ref.Tag]
	if !ok {
		return out, nil
	}
	out.Generation = cur.Generation
	if !cur.Created.IsZero() {
		ts := cur.Created.UTC().Format(time.RFC3339)
		out.Metadata.CreationTimestamp = &ts
	}
	if cur.Image == "" {
		// A reference tag: a pull spec, no image known here.
		img, _ := json.Marshal(map[string]any{"metadata": map[string]string{"name": ""},
			"dockerImageReference": cur.DockerImageReference, "dockerImageLayers": []any{}})
		out.Image = img
		return out, nil
	}
	info, err := h.Store.GetImage(ctx, cur.Image)
	if err != nil {
		return nil, err
	}
	if cur.DockerImageReference != "" {
		info.DockerImageReference = cur.DockerImageReference
	}
	b, err := openshift.ExportList(nil, []store.ImageSnapshot{info.ImageSnapshot})
	if err != nil {
		return nil, err
	}
	var l exportedList
	if err := json.Unmarshal(b, &l); err != nil || len(l.Items) != 1 {
		return nil, fmt.Errorf("read back exported image %s: %v", cur.Image, err)
	}
	out.Image = l.Items[0]
	if info.Known {
		size := info.Bytes
		out.SizeBytes = &size
	}
	return out, nil
}

// APIGetTag is GET /api/v1/namespaces/{ns}/imagestreamtags/{name}:{tag}.
func (h *Handler) APIGetTag(c echo.Context) error {
	ref, err := apiTagRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	w, err := apiHistoryWindow(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	t, err := h.apiTag(c, ref, w)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, t)
}
