package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/views"
)

// Tag is "/ns/{ns}/istag/{name}:{tag}": the current image, its layers and
// the tag's history.
func (h *Handler) Tag(c echo.Context) error {
	ns := c.Param("ns")
	name, tag, ok := strings.Cut(c.Param("nametag"), ":")
	what := "image stream tag " + ns + "/" + c.Param("nametag")
	if !ok || tag == "" {
		return h.notFound(c, what+" (write stream:tag)", name)
	}
	d, err := h.loadStream(c, ns, name)
	if err != nil {
		return h.failWith(c, what, err, name, tag)
	}
	var found bool
	var tv views.TagView
	for _, t := range d.st.Tags {
		if t.Name == tag {
			tv, found = d.tagView(t), true
		}
	}
	if !found {
		return h.notFound(c, what, tag)
	}
	crumbs := []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: name, Href: views.StreamHref(ns, name)}, {Label: tag}}
	m := views.TagPage{Page: h.page(c, ns+"/"+name+":"+tag, crumbs...), Namespace: ns, Stream: name,
		StreamHref: views.StreamHref(ns, name), Tag: tv}
	if len(tv.History) > 0 && tv.History[0].Image != "" {
		iv, err := h.imageView(c.Request().Context(), tv.History[0].Image, tv.History[0].Ref)
		if err != nil {
			return h.fail(c, what, err)
		}
		m.Image = &iv
	}
	return render(c, http.StatusOK, views.ViewTag(m))
}
