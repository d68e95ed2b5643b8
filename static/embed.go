// Package static holds the dashboard's CSS, htmx and icons, embedded in the
// binary and served under /static/. Nothing comes from a CDN.
package static

import "embed"

// FS holds style.css, htmx.min.js (htmx 2.0.11, 0BSD, see htmx.LICENSE),
// copy.js (the copy buttons) and favicon.svg.
//
//go:embed style.css htmx.min.js htmx.LICENSE favicon.svg copy.js
var FS embed.FS
