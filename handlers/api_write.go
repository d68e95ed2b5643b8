package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// APIObjectRef is the "from" of PUT imagestreamtags, as OpenShift's
// ObjectReference.
type APIObjectRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// APISetTagRequest is the body of PUT imagestreamtags/{name}:{tag}.
type APISetTagRequest struct {
	From      *APIObjectRef `json:"from"`
	Alias     bool          `json:"alias"`
	Scheduled bool          `json:"scheduled"`
	Insecure  bool          `json:"insecure"`
	Reference bool          `json:"reference"`
	// Optional, as the importPolicy and referencePolicy of a spec tag.
	ReferencePolicy string `json:"referencePolicy,omitempty"` // Source (default) or Local
	ImportMode      string `json:"importMode,omitempty"`      // Legacy (default) or PreserveOriginal
}

// source turns the request's "from" into a store source; the namespace of
// a stream source defaults to ns.
func (r APISetTagRequest) source(ns string) (store.Source, error) {
	f := r.From
	if f == nil {
		return store.Source{}, apiErrorf(http.StatusBadRequest, `"from" is required: {"kind": "ImageStreamTag", "name": "stream:tag"}, `+
			`{"kind": "ImageStreamImage", "name": "stream@sha256:…"} or {"kind": "DockerImage", "name": "registry/repository:tag"}`)
	}
	srcNS := f.Namespace
	if srcNS == "" {
		srcNS = ns
	}
	bad := func(format string, a ...any) error {
		return apiErrorf(http.StatusBadRequest, "from.name %q: %s", f.Name, fmt.Sprintf(format, a...))
	}
	switch f.Kind {
	case store.KindImageStreamTag:
		name, tag, ok := strings.Cut(f.Name, ":")
		if !ok || strings.ContainsAny(f.Name, "/@") {
			return store.Source{}, bad("an ImageStreamTag is named stream:tag (the namespace goes in from.namespace)")
		}
		src := store.Source{Kind: store.KindImageStreamTag, Namespace: srcNS, Stream: name, Tag: tag}
		return src, (store.TagRef{Namespace: srcNS, Stream: name, Tag: tag}).Validate()
	case store.KindImageStreamImage:
		name, digest, ok := strings.Cut(f.Name, "@")
		if !ok || strings.Contains(f.Name, "/") {
			return store.Source{}, bad("an ImageStreamImage is named stream@sha256:… (the namespace goes in from.namespace)")
		}
		if err := (store.StreamRef{Namespace: srcNS, Stream: name}).Validate(); err != nil {
			return store.Source{}, err
		}
		return store.Source{Kind: store.KindImageStreamImage, Namespace: srcNS, Stream: name, Digest: digest}, store.ValidateDigest(digest)
	case store.KindDockerImage:
		if f.Namespace != "" {
			return store.Source{}, apiErrorf(http.StatusBadRequest, "from.namespace is for ImageStreamTag and ImageStreamImage sources; a DockerImage is a pull spec")
		}
		return store.Source{Kind: store.KindDockerImage, Ref: f.Name}, store.ValidatePullSpec(f.Name)
	}
	return store.Source{}, apiErrorf(http.StatusBadRequest, "from.kind %q must be ImageStreamTag, ImageStreamImage or DockerImage", f.Kind)
}

// APIPutTag is PUT /api/v1/namespaces/{ns}/imagestreamtags/{name}:{tag}:
// `oc tag` through change.Service.SetTag; answers the tag as GET does.
func (h *Handler) APIPutTag(c echo.Context) error {
	ref, err := apiTagRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ref.Namespace, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	var req APISetTagRequest
	if err := apiDecode(c, &req); err != nil {
		return h.apiFail(c, err)
	}
	src, err := req.source(ref.Namespace)
	if err != nil {
		return h.apiFail(c, err)
	}
	opt := store.TagOptions{Alias: req.Alias, Scheduled: req.Scheduled, Insecure: req.Insecure, Reference: req.Reference,
		ReferencePolicy: req.ReferencePolicy, ImportMode: req.ImportMode}
	ctx := c.Request().Context()
	// The store would create a missing namespace (as the CLI's tag does);
	// through the API, as in OpenShift, the namespace must exist. Only a
	// platform admin can get here with one that does not.
	if _, err := h.Store.GetNamespace(ctx, ref.Namespace); err != nil {
		return h.apiFail(c, err)
	}
	if _, err := h.Change.SetTag(ctx, principal(c), src, ref, opt); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The destination is created; what is missing is the source.
			err = apiErrorf(http.StatusBadRequest, "from %s: %v", src, err)
		}
		return h.apiFail(c, err)
	}
	t, err := h.apiTag(c, ref, store.HistoryWindow{Limit: apiHistoryLimit})
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, t)
}

// APIDeleteTag is DELETE /api/v1/namespaces/{ns}/imagestreamtags/{name}:{tag}.
func (h *Handler) APIDeleteTag(c echo.Context) error {
	ref, err := apiTagRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ref.Namespace, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	if err := h.Change.DeleteTag(c.Request().Context(), principal(c), ref); err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"deleted": ref.String()})
}

// APIPromoteRequest is the body of POST imagestreams/{name}/promote.
type APIPromoteRequest struct {
	From string `json:"from"`
	To   string `json:"to,omitempty"` // empty: the next rung of the namespace's ladder
}

// APITagResult is what promote and rollback answer.
type APITagResult struct {
	Tag                  string `json:"tag"`   // namespace/stream:tag that changed
	Image                string `json:"image"` // the digest it now points to
	DockerImageReference string `json:"dockerImageReference,omitempty"`
	Changed              bool   `json:"changed"` // false: nothing changed (it already pointed there; no audit event)
}

func apiResult(res store.TagResult) APITagResult {
	return APITagResult{Tag: res.Tag.String(), Image: res.Image, DockerImageReference: res.Ref, Changed: !res.NoOp()}
}

// apiBodyNotFound answers a "not found" from an operation on a stream: 404
// when the stream of the URL is missing, 400 when what the body names is.
func (h *Handler) apiBodyNotFound(c echo.Context, ref store.StreamRef, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, serr := h.Store.GetStream(c.Request().Context(), ref); serr != nil {
		return serr
	}
	return apiErrorf(http.StatusBadRequest, "%v", err)
}

// APIPromote is POST /api/v1/namespaces/{ns}/imagestreams/{name}/promote.
func (h *Handler) APIPromote(c echo.Context) error {
	ref, err := apiStreamRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ref.Namespace, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	var req APIPromoteRequest
	if err := apiDecode(c, &req); err != nil {
		return h.apiFail(c, err)
	}
	if req.From == "" {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `"from" is required: the tag to promote, e.g. {"from": "latest"}`))
	}
	if err := store.ValidateTag(req.From); err != nil {
		return h.apiFail(c, err)
	}
	if req.To != "" {
		if err := store.ValidateTag(req.To); err != nil {
			return h.apiFail(c, err)
		}
		if req.To == req.From {
			return h.apiFail(c, apiErrorf(http.StatusBadRequest, "cannot promote %s to itself", req.From))
		}
	}
	res, err := h.Change.Promote(c.Request().Context(), principal(c), ref, req.From, req.To)
	if err != nil {
		return h.apiFail(c, h.apiBodyNotFound(c, ref, err))
	}
	return c.JSON(http.StatusOK, apiResult(res))
}

// APIRollbackRequest is the body of POST imagestreams/{name}/rollback.
type APIRollbackRequest struct {
	Tag   string `json:"tag"`
	Image string `json:"image,omitempty"` // empty: the newest earlier image that differs
}

// APIRollback is POST /api/v1/namespaces/{ns}/imagestreams/{name}/rollback.
func (h *Handler) APIRollback(c echo.Context) error {
	ref, err := apiStreamRef(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ref.Namespace, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	var req APIRollbackRequest
	if err := apiDecode(c, &req); err != nil {
		return h.apiFail(c, err)
	}
	if req.Tag == "" {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `"tag" is required: the tag to roll back, e.g. {"tag": "prod", "image": "sha256:…"}`))
	}
	if err := store.ValidateTag(req.Tag); err != nil {
		return h.apiFail(c, err)
	}
	if req.Image != "" {
		if err := store.ValidateDigest(req.Image); err != nil {
			return h.apiFail(c, err)
		}
	}
	tag := store.TagRef{Namespace: ref.Namespace, Stream: ref.Stream, Tag: req.Tag}
	res, err := h.Change.Rollback(c.Request().Context(), principal(c), tag, req.Image)
	if err != nil {
		return h.apiFail(c, h.apiBodyNotFound(c, ref, err))
	}
	return c.JSON(http.StatusOK, apiResult(res))
}

// APIImportRequest is the body of POST imagestreamimports.
type APIImportRequest struct {
	Tag             string `json:"tag"`  // stream:tag
	From            string `json:"from"` // a pull spec
	Scheduled       bool   `json:"scheduled"`
	Insecure        bool   `json:"insecure,omitempty"`
	ImportMode      string `json:"importMode,omitempty"`      // Legacy or PreserveOriginal
	ReferencePolicy string `json:"referencePolicy,omitempty"` // Source or Local
}

// APIImport is POST /api/v1/namespaces/{ns}/imagestreamimports: the
// request is checked (role, body) here and imported by apiImport.
func (h *Handler) APIImport(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ns, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	var req APIImportRequest
	if err := apiDecode(c, &req); err != nil {
		return h.apiFail(c, err)
	}
	if req.Tag == "" || req.From == "" {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `"tag" and "from" are required: {"tag": "stream:tag", "from": "registry/repository:tag"}`))
	}
	if strings.Contains(req.Tag, "/") {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "tag %q: write stream:tag; the namespace is %s from the URL", req.Tag, ns))
	}
	ref, err := store.ParseTagRef(req.Tag, ns)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := store.ValidatePullSpec(req.From); err != nil {
		return h.apiFail(c, err)
	}
	switch req.ImportMode {
	case "", "Legacy", "PreserveOriginal":
	default:
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "importMode %q must be Legacy or PreserveOriginal", req.ImportMode))
	}
	switch req.ReferencePolicy {
	case "", "Source", "Local":
	default:
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "referencePolicy %q must be Source or Local", req.ReferencePolicy))
	}
	return h.apiImport(c, ref, req)
}
