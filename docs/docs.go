// Package docs holds the documents that the server also serves, so that
// what is kept here is byte for byte what a client downloads.
package docs

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the OpenAPI 3 description of /api/v1 (docs/openapi.json),
// served at /api/v1/openapi.json. Each call gets its own copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
