package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/format/jsonlist"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// The cluster-wide reads of OpenShift's image API: every Image and every
// ImageStream the caller can see, as `oc get images -o json` and
// `oc get is -A -o json` print them. `import openshift` reads both back
// with every figure unchanged.

// apiList is a v1 List head whose items are streamed.
type apiList struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Metadata   struct{} `json:"metadata"`
	Items      []any    `json:"items"`
}

// APIImages is GET /api/v1/images: an image.openshift.io/v1 ImageList of
// the images the caller's namespaces hold (every known image for a
// platform admin); a scoped caller sees pull specs of their own tags.
func (h *Handler) APIImages(c echo.Context) error {
	imgs, err := h.Store.ListImages(c.Request().Context(), scopeOf(c))
	if err != nil {
		return h.apiFail(c, err)
	}
	var failed error
	item := func(i int) any {
		b, err := openshift.ExportImage(imgs[i])
		if err != nil {
			failed = err
			return nil
		}
		return json.RawMessage(b)
	}
	head := apiList{Kind: "ImageList", APIVersion: apiVersionImage}
	if err := writeJSONLists(c, &head, jsonlist.List{Key: "items", Len: len(imgs), Item: item}); err != nil {
		return err
	}
	return failed
}

// APIImage is GET /api/v1/images/{name}: one Image, 404 when the caller's
// namespaces do not hold it (the same answer as a missing one).
func (h *Handler) APIImage(c echo.Context) error {
	digest := c.Param("name")
	if err := store.ValidateDigest(digest); err != nil {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "%v", err))
	}
	info, err := h.Store.GetImageInScope(c.Request().Context(), digest, scopeOf(c))
	if err == nil && !info.Known {
		err = fmt.Errorf("image %s is only known by digest (no Image object was imported): %w", digest, store.ErrNotFound)
	}
	if err != nil {
		return h.apiFail(c, err)
	}
	b, err := openshift.ExportImage(info.ImageSnapshot)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSONBlob(http.StatusOK, b)
}

// APIImageReferrers is GET /api/v1/images/{name}/referrers: the
// signatures, SBOMs and attestations attached to the image, 404 when the
// caller's namespaces do not hold it (as for a missing one).
func (h *Handler) APIImageReferrers(c echo.Context) error {
	digest := c.Param("name")
	if err := store.ValidateDigest(digest); err != nil {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "%v", err))
	}
	ctx := c.Request().Context()
	ok, err := h.Store.ImageInScope(ctx, digest, scopeOf(c))
	if err == nil && !ok {
		err = fmt.Errorf("image %s not found: %w", digest, store.ErrNotFound)
	}
	if err != nil {
		return h.apiFail(c, err)
	}
	refs, err := h.Store.ReferrersOf(ctx, digest)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, refs)
}

// APIAllImageStreams is GET /api/v1/imagestreams: the ImageStreamList of
// every namespace the caller can see, each tag's history through the
// window of ?limit= and ?continue=.
func (h *Handler) APIAllImageStreams(c echo.Context) error {
	w, err := apiHistoryWindow(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	pages, err := h.Store.ListStreamPages(c.Request().Context(), "", w)
	if err != nil {
		return h.apiFail(c, err)
	}
	visible := pages[:0]
	for _, p := range pages {
		if canSee(c, p.Namespace) {
			visible = append(visible, p)
		}
	}
	items, err := exportPages(visible)
	if err != nil {
		return h.apiFail(c, err)
	}
	head := apiList{Kind: "ImageStreamList", APIVersion: apiVersionImage}
	return writeJSONLists(c, &head, jsonlist.List{Key: "items", Len: len(items), Item: func(i int) any { return items[i] }})
}
