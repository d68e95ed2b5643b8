package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

func results(hits []store.SearchHit) []views.Result {
	out := make([]views.Result, 0, len(hits))
	for _, h := range hits {
		r := views.Result{Kind: h.Kind}
		switch h.Kind {
		case "namespace":
			r.Label, r.Href = h.Namespace, views.NamespaceHref(h.Namespace)
		case "stream":
			r.Label, r.Href = h.Namespace+"/"+h.Stream, views.StreamHref(h.Namespace, h.Stream)
		case "tag":
			r.Label, r.Href = h.Namespace+"/"+h.Stream+":"+h.Tag, views.TagHref(h.Namespace, h.Stream, h.Tag)
		case "image":
			r.Label, r.Href = h.Digest, views.ImageHref(h.Digest)
		case "blob":
			r.Label, r.Href = h.Digest, views.BlobHref(h.Digest)
		}
		out = append(out, r)
	}
	return out
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
	res := results(hits)
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
