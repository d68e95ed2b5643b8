package handlers

import (
	"encoding/json"
	"fmt"
	"layerwise/format/jsonlist"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

const apiVersionImage = "image.openshift.io/v1"

// apiUsage is the usage cache, or 503 while the first pass runs.
func (h *Handler) apiUsage(c echo.Context) (*store.Usage, error) {
	u := h.Usage.Get()
	if u == nil {
		c.Response().Header().Set("Retry-After", "5")
		return nil, apiErrorf(http.StatusServiceUnavailable, "usage is being computed")
	}
	return u, nil
}

// apiUsageHead is `usage -o json` with its namespaces left to stream.
// Scope "namespaces" says that "registry" holds the figures of the
// namespaces listed, summed (blobs and unknownImages are not known per
// namespace: 0), as for a caller who is no platform admin.
type apiUsageHead struct {
	Registry   store.RegistryUsage    `json:"registry"`
	Namespaces []store.NamespaceUsage `json:"namespaces"`
	ComputedAt time.Time              `json:"computedAt"`
	Scope      string                 `json:"scope,omitempty"`
}

// APIUsage is GET /api/v1/usage, as `usage -o json`: the namespaces the
// caller can see; the registry's totals for a platform admin, the sums of
// their namespaces' for anyone else (the registry's count namespaces they
// hold no role in).
func (h *Handler) APIUsage(c echo.Context) error {
	u, err := h.apiUsage(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	head := apiUsageHead{Registry: u.Registry, ComputedAt: u.ComputedAt}
	nss := u.Namespaces
	if !seesAll(c) {
		nss = []store.NamespaceUsage{}
		for _, nu := range u.Namespaces {
			if canSee(c, nu.Name) {
				nss = append(nss, nu)
			}
		}
		head.Registry, head.Scope = scopedSum(c, u), "namespaces"
	}
	// The whole registry's usage is ~170 MB of JSON on a large registry:
	// streamed namespace by namespace, never encoded whole in memory.
	return writeJSONLists(c, &head, jsonlist.List{Key: "namespaces", Len: len(nss), Item: func(i int) any { return nss[i] }})
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
	u, err := h.apiUsage(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if nu, ok := u.Namespace(ns); ok {
		return c.JSON(http.StatusOK, nu)
	}
	// Not in the last pass: missing, or created since (no streams counted yet).
	if _, err := h.Store.GetNamespace(c.Request().Context(), ns); err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, store.NamespaceUsage{Name: ns, Streams: []store.StreamUsage{}})
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

// APIImageStreams is GET /api/v1/namespaces/{ns}/imagestreams: an
// image.openshift.io/v1 ImageStreamList, as `oc get is -o json` lists them.
func (h *Handler) APIImageStreams(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	streams, err := h.Store.ListStreams(c.Request().Context(), ns)
	if err != nil {
		return h.apiFail(c, err)
	}
	items, err := exportStreams(streams)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, exportedList{Kind: "ImageStreamList", APIVersion: apiVersionImage, Items: items})
}

// APIImageStream is GET /api/v1/namespaces/{ns}/imagestreams/{name}.
func (h *Handler) APIImageStream(c echo.Context) error {
	ref, err := apiStreamRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	st, err := h.Store.GetStream(c.Request().Context(), ref)
	if err != nil {
		return h.apiFail(c, err)
	}
	items, err := exportStreams([]store.StreamSnapshot{st})
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSONBlob(http.StatusOK, items[0])
}

// APITag is an ImageStreamTag in OpenShift's shape — metadata name
// "stream:tag", the spec tag, the current image with its layers, the
// generation and the import conditions — plus what Layerwise adds:
// sizeBytes (the current image's blobs counted once; null while its
// layers are unknown) and the tag's history, newest first.
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
}

// APITagMeta is the metadata of an APITag.
type APITagMeta struct {
	Name              string  `json:"name"`
	Namespace         string  `json:"namespace"`
	CreationTimestamp *string `json:"creationTimestamp"`
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

// apiTag builds the ImageStreamTag object of ref; ErrNotFound when the
// stream has no such tag.
func (h *Handler) apiTag(c echo.Context, ref store.TagRef) (*APITag, error) {
	ctx := c.Request().Context()
	st, err := h.Store.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		return nil, err
	}
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
	if len(snap.Items) == 0 {
		return out, nil
	}
	cur := snap.Items[0]
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
	t, err := h.apiTag(c, ref)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, t)
}
