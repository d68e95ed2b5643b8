package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// results are search hits as the page lists them, each with its size:
// a namespace's, stream's or tag's stored figure (every blob once), an
// image's counted once, a blob's own.
func (h *Handler) results(ctx context.Context, hits []store.SearchHit) []views.Result {
	var names []store.ScopeName
	for _, hit := range hits {
		switch hit.Kind {
		case "namespace":
			names = append(names, store.ScopeName{Namespace: hit.Namespace})
		case "stream":
			names = append(names, store.ScopeName{Namespace: hit.Namespace, Stream: hit.Stream})
		case "tag":
			names = append(names, store.ScopeName{Namespace: hit.Namespace, Stream: hit.Stream, Tag: hit.Tag})
		}
	}
	sizes, err := h.Store.ReadScopeBytes(ctx, names)
	if err != nil {
		sizes = nil // the results still list, without sizes
	}
	out := make([]views.Result, 0, len(hits))
	for _, hit := range hits {
		r := views.Result{Kind: hit.Kind}
		switch hit.Kind {
		case "namespace":
			r.Label, r.Href = hit.Namespace, views.NamespaceHref(hit.Namespace)
			r.Size, r.HasSize = lookupSize(sizes, store.ScopeName{Namespace: hit.Namespace})
		case "stream":
			r.Label, r.Href = hit.Namespace+"/"+hit.Stream, views.StreamHref(hit.Namespace, hit.Stream)
			r.Size, r.HasSize = lookupSize(sizes, store.ScopeName{Namespace: hit.Namespace, Stream: hit.Stream})
		case "tag":
			r.Label, r.Href = hit.Namespace+"/"+hit.Stream+":"+hit.Tag, views.TagHref(hit.Namespace, hit.Stream, hit.Tag)
			r.Size, r.HasSize = lookupSize(sizes, store.ScopeName{Namespace: hit.Namespace, Stream: hit.Stream, Tag: hit.Tag})
		case "image":
			r.Label, r.Href = hit.Digest, views.ImageHref(hit.Digest)
			if img, err := h.Store.GetImage(ctx, hit.Digest); err == nil && img.Known {
				r.Size, r.HasSize = img.Bytes, true
			}
		case "blob":
			r.Label, r.Href = hit.Digest, views.BlobHref(hit.Digest)
			if n, err := h.Store.BlobSize(ctx, hit.Digest); err == nil {
				r.Size, r.HasSize = n, true
			}
		}
		out = append(out, r)
	}
	return out
}

func lookupSize(sizes map[store.ScopeName]int64, k store.ScopeName) (int64, bool) {
	n, ok := sizes[k]
	return n, ok
}

// Search jumps to what the box names exactly (ns, ns/stream, ns/stream:tag,
// a digest) and otherwise lists what contains the words.
func (h *Handler) Search(c echo.Context) error {
	ctx := c.Request().Context()
	q := strings.TrimSpace(c.QueryParam("q"))
	if q == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if target := h.exact(c, q); target != "" {
		return c.Redirect(http.StatusSeeOther, target)
	}
	// Only what the user may see: a name or digest of a namespace they
	// hold no role in gets the answer a missing one gets.
	hits, err := h.Store.Search(ctx, q, 50, scopeOf(c))
	if err != nil {
		return h.fail(c, "search", err)
	}
	res := h.results(ctx, hits)
	if len(res) == 1 {
		return c.Redirect(http.StatusSeeOther, res[0].Href)
	}
	p := h.page(c, "Search: "+q, home(), views.Crumb{Label: "Search"})
	p.Query = q
	return render(c, http.StatusOK, views.ViewSearch(views.SearchPage{Page: p, Results: res}))
}

// exact returns the page a query names exactly, or "" — also when the
// user may not see it, so that the answer is the one for a missing name.
func (h *Handler) exact(c echo.Context, q string) string {
	ctx := c.Request().Context()
	sc := scopeOf(c)
	if store.ValidateDigest(q) == nil {
		if ok, err := h.Store.ImageInScope(ctx, q, sc); err == nil && ok {
			return views.ImageHref(q)
		}
		if ok, err := h.Store.BlobInScope(ctx, q, sc); err == nil && ok {
			return views.BlobHref(q)
		}
		return ""
	}
	ns, rest, ok := strings.Cut(q, "/")
	if !ok {
		ns = q
	}
	if !sc.Sees(ns) {
		return ""
	}
	if ok {
		if ref, err := store.ParseTagRef(q, ""); err == nil && strings.Contains(rest, ":") {
			if _, err := h.Store.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream}); err == nil {
				return views.TagHref(ref.Namespace, ref.Stream, ref.Tag)
			}
		}
		if _, err := h.Store.GetStream(ctx, store.StreamRef{Namespace: ns, Stream: rest}); err == nil {
			return views.StreamHref(ns, rest)
		}
		return ""
	}
	if _, err := h.Store.GetNamespace(ctx, q); err == nil {
		return views.NamespaceHref(q)
	}
	return ""
}
