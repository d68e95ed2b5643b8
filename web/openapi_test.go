package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"layerwise/docs"
)

// The API's OpenAPI document (docs/openapi.json) against the server: it
// is valid OpenAPI 3, served as kept, lists exactly the routes the server
// registers under /api/v1, and every JSON answer of the API tests
// conforms to it (checkAPIResponses wraps every test server).

// apiSpec is the document and its router, loaded once per test binary.
var apiSpec = sync.OnceValues(func() (*apiDescription, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.json does not load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("docs/openapi.json is not valid OpenAPI 3: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.json: %w", err)
	}
	return &apiDescription{doc: doc, router: router}, nil
})

type apiDescription struct {
	doc    *openapi3.T
	router routers.Router
}

func loadAPISpec(t testing.TB) *apiDescription {
	t.Helper()
	d, err := apiSpec()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOpenAPIDocumentIsServedAsKept(t *testing.T) {
	t.Parallel()
	loadAPISpec(t) // valid OpenAPI 3
	kept, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, true) // accounts exist: the rest of the API needs credentials
	r := ts.apiMust(t, http.StatusOK, apiCall{method: http.MethodGet, path: "/api/v1/openapi.json"})
	if !bytes.Equal(r.body, kept) {
		t.Error("GET /api/v1/openapi.json differs from docs/openapi.json")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// Only reading it is public.
	ts.apiMust(t, http.StatusUnauthorized, apiCall{method: http.MethodPost, path: "/api/v1/openapi.json", body: "{}"})
	ts.apiMust(t, http.StatusUnauthorized, apiCall{method: http.MethodGet, path: "/api/v1/usage"})
}

// Every route the server registers under /api/v1 is in the document, and
// every documented operation is routed.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	spec := loadAPISpec(t)
	ts := newTestServer(t, false)
	routed := map[string]bool{}
	for _, r := range ts.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || strings.HasSuffix(r.Path, "*") || !slices.Contains(httpMethods, r.Method) {
			continue // the not-found handlers
		}
		routed[r.Method+" "+openAPIPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range spec.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	if missing := difference(routed, documented); len(missing) > 0 {
		t.Errorf("routed but not in docs/openapi.json: %v", missing)
	}
	if stale := difference(documented, routed); len(stale) > 0 {
		t.Errorf("in docs/openapi.json but not routed: %v", stale)
	}
	if len(routed) < 15 {
		t.Fatalf("only %d API routes found: %v", len(routed), routed)
	}
}

var httpMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodHead}

// openAPIPath writes echo's /a/:b as OpenAPI's /a/{b}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// checkAPIResponses passes requests to h and checks each answer under
// /api/v1 against the document: an operation's answer against its
// responses, any other answer (an unknown path or method) against Error.
func checkAPIResponses(t testing.TB, h http.Handler) http.Handler {
	spec := loadAPISpec(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") && r.URL.Path != "/api/v1" {
			h.ServeHTTP(w, r)
			return
		}
		rec := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if err := spec.check(r, rec.status, w.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("%s %s answered %d, which docs/openapi.json does not allow: %v\n%s", r.Method, r.URL.Path, rec.status, err,
				firstLines(rec.body.String(), 10))
		}
	})
}

func (d *apiDescription) check(r *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := d.router.FindRoute(r)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("no documented operation: %w", err)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("the error is not JSON: %w", err)
		}
		return d.doc.Components.Schemas["Error"].Value.VisitJSON(v)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(r.Context(), in)
}

// teeWriter copies what is written to the client.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
