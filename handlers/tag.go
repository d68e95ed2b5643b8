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
	m, found, err := h.tagPage(c, ns, name, tag)
	if err != nil {
		return h.failWith(c, what, err, name, tag)
	}
	if !found {
		return h.notFound(c, what, tag)
	}
	d := formDoneFrom(c)
	m.Actions.Done, m.Actions.DoneTag = d.message(), d.tag
	return render(c, http.StatusOK, views.ViewTag(m))
}

// tagPage is the tag page's model, with the user's actions; found is false
// when the stream exists but the tag does not.
func (h *Handler) tagPage(c echo.Context, ns, name, tag string) (views.TagPage, bool, error) {
	d, err := h.loadStream(c, ns, name)
	if err != nil {
		return views.TagPage{}, false, err
	}
	var found bool
	var tv views.TagView
	for _, t := range d.st.Tags {
		if t.Name == tag {
			tv, found = d.tagView(t), true
		}
	}
	if !found {
		return views.TagPage{}, false, nil
	}
	crumbs := []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: name, Href: views.StreamHref(ns, name)}, {Label: tag}}
	m := views.TagPage{Page: h.page(c, ns+"/"+name+":"+tag, crumbs...), Namespace: ns, Stream: name,
		StreamHref: views.StreamHref(ns, name), Tag: tv}
	if len(tv.History) > 0 && tv.History[0].Image != "" {
		iv, err := h.imageView(c.Request().Context(), tv.History[0].Image, tv.History[0].Ref)
		if err != nil {
			return views.TagPage{}, false, err
		}
		m.Image = &iv
	}
	m.Actions = h.formActions(c, ns, &m.Tag)
	if m.Pins, err = h.pinsOfTag(c.Request().Context(), ns, m.Tag); err != nil {
		return views.TagPage{}, false, err
	}
	for i, r := range m.Tag.History {
		_, m.Tag.History[i].Pinned = m.Pins[r.Image]
	}
	if len(tv.History) > 0 && tv.History[0].Image != "" {
		m.Actions.Add.Source = name + ":" + tag
	}
	return m, true, nil
}
