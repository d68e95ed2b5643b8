package handlers

// Actions that ask first: a promotion to the ladder's last rung and a
// rollback answer, without confirm=yes in the form, with a page saying what
// they will change — the tag's image before and after, and what the
// namespace's next prune gains or loses (store.PreviewPrune) — whose form
// posts the same action again, confirmed. Nothing changes before that.
// The API and the command line do not ask: they are told exactly what to do.

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

// confirmed says whether the form carries the confirmation.
func confirmed(c echo.Context) bool { return c.FormValue("confirm") == "yes" }

// tagOf reads a tag with its history (newest first); nil when the tag or
// its stream does not exist.
func (h *Handler) tagOf(c echo.Context, ref store.TagRef) *store.TagSnapshot {
	st, err := h.Store.GetStream(c.Request().Context(), store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		return nil
	}
	for i := range st.Tags {
		if st.Tags[i].Name == ref.Tag {
			return &st.Tags[i]
		}
	}
	return nil
}

// historyOf is a tag's history, newest first; nil when there is no tag.
func (h *Handler) historyOf(c echo.Context, ref store.TagRef) []store.EventSnapshot {
	if t := h.tagOf(c, ref); t != nil {
		return t.Items
	}
	return nil
}

// effect previews what a new current image of dst does to the next prune;
// a failure is logged and the page says it could not be worked out.
func (h *Handler) effect(ctx context.Context, dst store.TagRef, image string) views.PruneEffectView {
	v := views.PruneEffectView{Namespace: dst.Namespace}
	e, err := h.Store.PreviewPrune(ctx, h.policy(), store.TagMove{Ref: dst, Image: image})
	if err != nil {
		h.Log.Warn("cannot preview the prune", "tag", dst.String(), "err", err)
		return v
	}
	v.Known, v.BytesBefore, v.BytesAfter = true, e.BytesBefore, e.BytesAfter
	conv := func(rs []store.PruneRevision) []views.PruneRevisionView {
		var out []views.PruneRevisionView
		for _, r := range rs {
			out = append(out, views.PruneRevisionView{Tag: r.Tag, Image: r.Image, Href: views.ImageHref(r.Image), Created: r.Created})
		}
		return out
	}
	v.Added, v.Removed = conv(e.Added), conv(e.Removed)
	return v
}

// askToConfirm renders the confirmation: a page, or for htmx the element
// the form targeted.
func (h *Handler) askToConfirm(c echo.Context, b formBack, m views.ConfirmPage) error {
	crumbs := []views.Crumb{home(), {Label: b.ns, Href: views.NamespaceHref(b.ns)}, {Label: b.stream, Href: views.StreamHref(b.ns, b.stream)}}
	if b.tag != "" {
		crumbs = append(crumbs, views.Crumb{Label: b.tag, Href: views.TagHref(b.ns, b.stream, b.tag)})
	}
	m.Page = h.page(c, m.Heading, append(crumbs, views.Crumb{Label: "Confirm"})...)
	m.Fields = append(m.Fields, views.KV{Key: "back", Value: b.tag})
	m.Cancel = views.StreamHref(b.ns, b.stream)
	if b.tag != "" {
		m.Cancel = views.TagHref(b.ns, b.stream, b.tag)
	}
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		m.Fragment = "tags"
		if b.tag != "" {
			m.Fragment = "tag-body"
		}
		return render(c, http.StatusOK, views.ConfirmFragment(m))
	}
	return render(c, http.StatusOK, views.ViewConfirm(m))
}

// since says when an entry of a history was tagged, as the page shows it.
func (h *Handler) since(items []store.EventSnapshot, digest string) string {
	for _, it := range items {
		if it.Image == digest {
			return format.Ago(it.Created, h.now())
		}
	}
	return ""
}

// confirmPromote asks before src's image goes to dst, the ladder's last
// rung.
func (h *Handler) confirmPromote(c echo.Context, b formBack, src store.TagRef, dstTag, image string) error {
	dst := store.TagRef{Namespace: src.Namespace, Stream: src.Stream, Tag: dstTag}
	items := h.historyOf(c, dst)
	var changes []string
	if len(items) == 0 || items[0].Image == "" {
		changes = append(changes, fmt.Sprintf("%s has no image yet.", dstTag))
	} else {
		changes = append(changes, fmt.Sprintf("%s now points to %s, tagged %s.", dstTag, views.ShortDigest(items[0].Image), format.Ago(items[0].Created, h.now())))
	}
	changes = append(changes,
		fmt.Sprintf("After the promotion it points to %s, the image %s has: a new entry on top of %s's history; the older entries stay, and a rollback can bring them back.",
			views.ShortDigest(image), src.Tag, dstTag),
		fmt.Sprintf("%s is the last step of the promotion ladder.", dstTag))
	m := views.ConfirmPage{Heading: fmt.Sprintf("Promote %s to %s?", src.Tag, dstTag), Changes: changes,
		Effect: h.effect(c.Request().Context(), dst, image),
		Action: views.TagActionHref(views.TagHref(src.Namespace, src.Stream, src.Tag), "promote"),
		Fields: []views.KV{{Key: "to", Value: dstTag}, {Key: "digest", Value: image}},
		Button: "Promote to " + dstTag}
	return h.askToConfirm(c, b, m)
}

// confirmRollback asks before digest becomes the tag's current image again.
func (h *Handler) confirmRollback(c echo.Context, b formBack, ref store.TagRef, tag *store.TagSnapshot, digest string) error {
	items := tag.Items
	changes := []string{
		fmt.Sprintf("%s moves back from %s (tagged %s) to %s, which it last had %s.", ref.Tag, views.ShortDigest(items[0].Image),
			format.Ago(items[0].Created, h.now()), views.ShortDigest(digest), h.since(items[1:], digest)),
		"The rollback is a new entry on top of the history; the newer entries stay, and a rollback can bring them back.",
	}
	if keeps := tag.RollbackKeeps(); keeps != "" {
		changes = append(changes, fmt.Sprintf("%s keeps its source (%s): the next change there makes its image current again.", ref.Tag, keeps))
	} else {
		changes = append(changes, fmt.Sprintf("%s's spec becomes this image, as oc tag stream@sha256:… stream:tag sets it.", ref.Tag))
	}
	m := views.ConfirmPage{Heading: fmt.Sprintf("Roll %s back to %s?", ref.Tag, views.ShortDigest(digest)), Changes: changes,
		Effect: h.effect(c.Request().Context(), ref, digest),
		Action: views.TagActionHref(views.TagHref(ref.Namespace, ref.Stream, ref.Tag), "rollback"),
		Fields: []views.KV{{Key: "digest", Value: digest}},
		Button: "Make " + views.ShortDigest(digest) + " current"}
	return h.askToConfirm(c, b, m)
}
