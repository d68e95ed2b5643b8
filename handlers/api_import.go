package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// APIImportResult is what POST imagestreamimports answers.
type APIImportResult struct {
	Tag                  string `json:"tag"`                  // namespace/stream:tag imported into
	From                 string `json:"from"`                 // the reference as given
	Image                string `json:"image"`                // the digest the tag now points to
	DockerImageReference string `json:"dockerImageReference"` // registry/repository@digest
	Changed              bool   `json:"changed"`              // false: nothing changed (the tag already pointed there; no audit event)
}

// apiImport imports req.From into ref for APIImport, whose checks ran:
// editor role, namespace visible, body well formed. As OpenShift's
// ImageStreamImport, it creates a missing stream (the namespace must
// exist) and re-points a tag that had another source.
//
// A registry failure answers 404 when the image is not there, 502 when
// the registry is unreachable, refuses our credentials or sends something
// unreadable, 403 when its address is not allowed (LAYERWISE_IMPORT_ALLOW);
// an existing tag then carries ImportSuccess=False with the same message.
func (h *Handler) apiImport(c echo.Context, ref store.TagRef, req APIImportRequest) error {
	if h.Importer == nil {
		return WriteAPIError(c, http.StatusNotImplemented, "importing from registries is not configured in this server")
	}
	ctx := c.Request().Context()
	p := principal(c)
	if _, err := h.Store.GetNamespace(ctx, ref.Namespace); err != nil {
		return h.apiFail(c, err)
	}
	opt := registry.ImportOptions{Scheduled: req.Scheduled, Insecure: req.Insecure, ImportMode: req.ImportMode,
		ReferencePolicy: req.ReferencePolicy, Confirm: true}
	res, err := h.Change.Import(ctx, p, h.Importer, ref, req.From, opt)
	if err != nil {
		return h.apiFail(c, importStatus(err))
	}
	return c.JSON(http.StatusOK, APIImportResult{Tag: ref.String(), From: res.Spec, Image: res.Image,
		DockerImageReference: res.Ref, Changed: !res.NoOp()})
}

// importStatus gives registry failures their HTTP status; the rest is
// left to apiFail.
func importStatus(err error) error {
	status := 0
	switch {
	case errors.Is(err, registry.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, registry.ErrTimeout):
		status = http.StatusGatewayTimeout
	case errors.Is(err, registry.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, registry.ErrUnauthorized), errors.Is(err, registry.ErrUnreachable), errors.Is(err, registry.ErrMalformed):
		status = http.StatusBadGateway
	case errors.Is(err, registry.ErrInvalidReference):
		status = http.StatusBadRequest
	default:
		return err
	}
	return &APIError{Status: status, Message: err.Error()}
}
