package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/jobs/registry"
	"layerwise/views"
)

// ImportTag is POST /ns/{ns}/istag/{name}:{tag}/import: "Import now"
// re-reads the tag's DockerImage source from its registry through the same
// path as the API (change.Service.Import). A new digest adds a history entry and moves
// the aliases that track the tag; the same digest changes nothing. A
// registry failure is shown next to the button (502, or 504 for a timeout)
// and recorded on the tag as ImportSuccess=False; its image stays.
func (h *Handler) ImportTag(c echo.Context) error {
	ref, b, ae, ok, err := h.tagForm(c, "import", "")
	if !ok {
		return err
	}
	if h.Importer == nil {
		return h.formFailedStatus(c, b, ae, formInvalid("importing from registries is not configured in this server"), views.AddTagForm{}, http.StatusNotImplemented)
	}
	res, err := h.Change.Import(c.Request().Context(), principal(c), h.Importer, ref, "", registry.ImportOptions{})
	if err != nil {
		return h.formImportFailed(c, b, ae, err, views.AddTagForm{})
	}
	return h.formOK(c, b, formDoneOf("import", "imported", res, ""))
}

// formImportFailed answers a failed import: a registry's failure with its
// own message and a gateway status, anything else as formFailed does.
func (h *Handler) formImportFailed(c echo.Context, b formBack, ae views.ActionError, err error, add views.AddTagForm) error {
	var rerr *registry.Error
	if !errors.As(err, &rerr) {
		return h.formFailed(c, b, ae, err, add)
	}
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, registry.ErrTimeout):
		status = http.StatusGatewayTimeout
	case errors.Is(err, registry.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, registry.ErrInvalidReference):
		status = http.StatusBadRequest
	}
	ae.Message = err.Error()
	c.Response().Header().Add("Vary", "HX-Request")
	return h.formAnswer(c, b, status, formDone{}, &ae, add)
}
