package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
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
	formDoneFrom(c).show(&m.Actions)
	return render(c, http.StatusOK, views.ViewTag(m))
}

// tagPage is the tag page's model, with the user's actions and the page of
// the history that ?page= asks for (1: the newest); found is false when the
// stream exists but the tag does not.
func (h *Handler) tagPage(c echo.Context, ns, name, tag string) (views.TagPage, bool, error) {
	page := 1
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return views.TagPage{}, false, fmt.Errorf("page %q: want a page number, 1 for the newest revisions: %w", v, store.ErrInvalid)
		}
		page = n
	}
	load := func(page int) (views.TagView, bool, error) {
		d, err := h.loadStream(c, ns, name, store.HistoryWindow{Offset: (page - 1) * pageHistory, Limit: pageHistory})
		if err != nil {
			return views.TagView{}, false, err
		}
		for _, t := range d.st.Tags {
			if t.Name == tag {
				return d.tagView(t), true, nil
			}
		}
		return views.TagView{}, false, nil
	}
	tv, found, err := load(page)
	if last := (tv.Revisions + pageHistory - 1) / pageHistory; err == nil && found && page > 1 && page > last {
		// Past the end (the history got shorter since the link was made).
		tv, found, err = load(max(last, 1))
	}
	if err != nil || !found {
		return views.TagPage{}, false, err
	}
	pageLinks(&tv)
	ret, err := h.retention(c, ns, name)
	if err != nil {
		return views.TagPage{}, false, err
	}
	applyRetention(&tv, ret[tag], seesFunc(c))
	crumbs := []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: name, Href: views.StreamHref(ns, name)}, {Label: tag}}
	m := views.TagPage{Page: h.page(c, ns+"/"+name+":"+tag, crumbs...), Namespace: ns, Stream: name,
		StreamHref: views.StreamHref(ns, name), Tag: tv}
	if cur := tv.Current; cur != nil && cur.Image != "" {
		iv, err := h.imageView(c.Request().Context(), cur.Image, cur.Ref)
		if err != nil {
			return views.TagPage{}, false, err
		}
		iv = withFrom(iv, ns+"/"+name+":"+tag)
		m.Image = &iv
	}
	m.Actions = h.formActions(c, ns, &m.Tag)
	if m.Pins, err = h.pinsOfTag(c.Request().Context(), ns, m.Tag); err != nil {
		return views.TagPage{}, false, err
	}
	for i, r := range m.Tag.History {
		_, m.Tag.History[i].Pinned = m.Pins[r.Image]
	}
	if cur := tv.Current; cur != nil && cur.Image != "" {
		m.Actions.Add.Source = name + ":" + tag
	}
	return m, true, nil
}
