package handlers

// The JSON API of docs/REFERENCE.md under /api/v1: the common parts. Reads need
// the viewer role (canSee); every change goes through change.Service, which
// checks the role and writes the change and its audit record in one
// transaction.
//
// Status rules: a namespace the caller cannot see answers 404 exactly as a
// missing one (existence is never revealed); a missing thing named in the
// URL is 404, a missing thing named in the request body (a tag source, a
// rollback image) is 400; a caller who can see the namespace but lacks the
// role is 403.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/change"
	"layerwise/jobs/registry"
	"layerwise/store"
)

// APIError is an error with the HTTP status the API answers it with.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

func apiErrorf(status int, format string, a ...any) error {
	return &APIError{Status: status, Message: fmt.Sprintf(format, a...)}
}

// apiErrorBody is every error the API writes.
type apiErrorBody struct {
	Error string `json:"error"`
}

// WriteAPIError writes {"error": msg} with status; 401 also gets the
// WWW-Authenticate challenge.
func WriteAPIError(c echo.Context, status int, msg string) error {
	if status == http.StatusUnauthorized && c.Response().Header().Get(echo.HeaderWWWAuthenticate) == "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="layerwise"`)
	}
	return c.JSON(status, apiErrorBody{Error: msg})
}

// apiFail answers an error from the store, the Service or the request decoding.
func (h *Handler) apiFail(c echo.Context, err error) error {
	var ae *APIError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		return WriteAPIError(c, ae.Status, ae.Message)
	case errors.As(err, &he):
		return WriteAPIError(c, he.Code, fmt.Sprint(he.Message))
	case errors.Is(err, change.ErrForbidden):
		return WriteAPIError(c, http.StatusForbidden, err.Error())
	case errors.Is(err, store.ErrNotFound):
		return WriteAPIError(c, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrInvalid):
		return WriteAPIError(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrExists):
		return WriteAPIError(c, http.StatusConflict, err.Error())
	case errors.Is(err, registry.ErrWriteThrough):
		return WriteAPIError(c, http.StatusBadGateway, err.Error())
	case errors.Is(err, context.Canceled):
		return err
	}
	h.Log.Error("api request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	return WriteAPIError(c, http.StatusInternalServerError, "internal error; see the server log")
}

// APINotFound answers unknown paths under /api/v1.
func (h *Handler) APINotFound(c echo.Context) error {
	return WriteAPIError(c, http.StatusNotFound, "no such API endpoint: "+c.Request().Method+" "+c.Request().URL.Path+
		" (the endpoints are described in /api/v1/openapi.json)")
}

// apiNamespace reads {ns} and checks the caller may see it: an invalid name
// or a namespace the caller holds no role in is "not found", like a
// missing one.
func apiNamespace(c echo.Context) (string, error) {
	ns := apiParam(c, "ns")
	if store.ValidateNamespace(ns) != nil || !canSee(c, ns) {
		return ns, apiNamespaceNotFound(ns)
	}
	return ns, nil
}

func apiNamespaceNotFound(ns string) error {
	return &APIError{Status: http.StatusNotFound, Message: fmt.Sprintf("namespace %s not found", ns)}
}

// apiParam is a path parameter, unescaped (echo routes on the raw path
// when it holds escapes).
func apiParam(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// apiStreamRef is {ns}/{name} of a visible namespace.
func apiStreamRef(c echo.Context) (store.StreamRef, error) {
	ns, err := apiNamespace(c)
	if err != nil {
		return store.StreamRef{}, err
	}
	ref := store.StreamRef{Namespace: ns, Stream: apiParam(c, "name")}
	return ref, ref.Validate()
}

// apiTagRef is {ns}/{name}:{tag} of a visible namespace.
func apiTagRef(c echo.Context) (store.TagRef, error) {
	ns, err := apiNamespace(c)
	if err != nil {
		return store.TagRef{}, err
	}
	nametag := apiParam(c, "nametag")
	name, tag, ok := strings.Cut(nametag, ":")
	if !ok || name == "" || tag == "" {
		return store.TagRef{}, apiErrorf(http.StatusBadRequest, "%q is not an image stream tag name: write stream:tag, e.g. api:latest", nametag)
	}
	ref := store.TagRef{Namespace: ns, Stream: name, Tag: tag}
	return ref, ref.Validate()
}

// apiNeed refuses early, before the body is read, a caller without role in
// ns (the Service checks again). Callers have already made sure the
// namespace is visible.
func apiNeed(c echo.Context, ns string, role store.Role) error {
	p := principal(c)
	if p == nil {
		return apiErrorf(http.StatusForbidden, "%s", NoAccountsMessage)
	}
	return change.Need(p, ns, role)
}

// NoAccountsMessage refuses changes in an install without accounts.
const NoAccountsMessage = "no accounts exist: create one with layerwise user add"

// apiDecode reads a JSON request body into v: application/json only, one
// object, no unknown fields. The global body limit (1 MiB) applies.
func apiDecode(c echo.Context, v any) error {
	req := c.Request()
	ct := req.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != echo.MIMEApplicationJSON {
		got := ct
		if got == "" {
			got = "none"
		}
		return apiErrorf(http.StatusBadRequest, "the request body must be JSON: send Content-Type: application/json (got %s)", got)
	}
	body, err := io.ReadAll(req.Body) // bounded by the body limit
	if err != nil {
		return apiJSONError(err)
	}
	// Checked before decoding, which would quietly turn such bytes into
	// U+FFFD; `import openshift` refuses them the same way.
	if i := store.InvalidUTF8At(body); i >= 0 {
		return apiErrorf(http.StatusBadRequest, "the request body is not valid UTF-8 (byte %d)", i)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if isTooLarge(err) {
			return apiJSONError(err)
		}
		return apiErrorf(http.StatusBadRequest, "the request body must hold one JSON object and nothing after it")
	}
	return nil
}

func isTooLarge(err error) bool {
	var he *echo.HTTPError
	return errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge
}

// apiJSONError words a decoding error so that the caller can fix the body.
func apiJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case isTooLarge(err):
		return apiErrorf(http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB")
	case errors.Is(err, io.EOF):
		return apiErrorf(http.StatusBadRequest, "the request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiErrorf(http.StatusBadRequest, "the request body is not valid JSON: it ends too early")
	case errors.As(err, &syn):
		return apiErrorf(http.StatusBadRequest, "the request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return apiErrorf(http.StatusBadRequest, "field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return apiErrorf(http.StatusBadRequest, "the request body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apiErrorf(http.StatusBadRequest, "unknown field %s in the request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apiErrorf(http.StatusBadRequest, "the request body is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool":
		return "boolean"
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	case "string":
		return "string"
	}
	return "number"
}
