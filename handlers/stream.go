package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/bytesum"
	"layerwise/store"
	"layerwise/views"
)

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func streamCrumbs(ns, name string) []views.Crumb {
	return []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: name}}
}

// streamData is what the stream and tag pages share: the stream, its sizes
// computed from its own rows, and its figures in the usage cache.
type streamData struct {
	st     store.StreamSnapshot
	sizes  store.StreamSizes
	cached *store.StreamUsage // nil while usage is computed or the stream is new
}

func (h *Handler) loadStream(c echo.Context, ns, name string) (streamData, error) {
	ctx := c.Request().Context()
	var d streamData
	ref := store.StreamRef{Namespace: ns, Stream: name}
	if err := ref.Validate(); err != nil {
		return d, err
	}
	if !canSee(c, ns) {
		// Not "forbidden": users do not learn which namespaces exist.
		return d, fmt.Errorf("image stream %s/%s: %w", ns, name, store.ErrNotFound)
	}
	type rows struct {
		st    store.StreamSnapshot
		sizes store.StreamSizes
	}
	r, err := cached(h, "stream\x00"+ns+"\x00"+name, func() (rows, error) {
		var r rows
		var err error
		if r.st, err = h.Store.GetStream(ctx, ref); err != nil {
			return r, err
		}
		r.sizes, err = h.Store.StreamSizes(ctx, ref)
		return r, err
	})
	if err != nil {
		return d, err
	}
	d.st, d.sizes = r.st, r.sizes
	if u := h.Usage.Get(); u != nil {
		if nu, ok := u.Namespace(ns); ok {
			for i := range nu.Streams {
				if nu.Streams[i].Name == name {
					d.cached = &nu.Streams[i]
				}
			}
		}
	}
	return d, nil
}

func (d streamData) cachedTag(name string) *store.TagUsage {
	if d.cached == nil {
		return nil
	}
	for i := range d.cached.Tags {
		if d.cached.Tags[i].Name == name {
			return &d.cached.Tags[i]
		}
	}
	return nil
}

// tagView describes a tag the way oc describe does, with sizes.
func (d streamData) tagView(t store.TagSnapshot) views.TagView {
	ns, stream := d.st.Namespace, d.st.Name
	v := views.TagView{Name: t.Name, Href: views.TagHref(ns, stream, t.Name), InSpec: t.InSpec,
		Scheduled: t.Scheduled, Insecure: t.Insecure, Reference: t.Reference,
		Bytes: d.sizes.Tags[t.Name], ExclusiveBytes: -1}
	v.Source = tagSource(ns, stream, t)
	v.Alias = t.From != nil && t.From.Kind == store.KindImageStreamTag && sameStream(ns, stream, t.From)
	v.External = t.From != nil && t.From.Kind == store.KindDockerImage && !t.Reference
	if c := t.Condition; c != nil && c.Status == "False" {
		v.ImportError = &views.ImportError{Reason: c.Reason, Message: c.Message, At: c.Time}
	}
	cached := d.cachedTag(t.Name)
	if cached != nil {
		v.ExclusiveBytes = cached.ExclusiveBytes
	}
	for i, it := range t.Items {
		r := views.Revision{Image: it.Image, Ref: it.DockerImageReference, Created: it.Created, Current: i == 0}
		if it.Image != "" {
			r.Href = views.ImageHref(it.Image)
			r.Bytes = d.sizes.Images[it.Image]
			r.Known = !d.sizes.Unknown[it.Image]
		}
		// The prune mark comes from the cache; trust it only while the
		// entry at that position is still the same image.
		if cached != nil && i < len(cached.Revisions) && cached.Revisions[i].Image == it.Image {
			r.Prunable = cached.Revisions[i].Prunable
		}
		v.History = append(v.History, r)
	}
	return v
}

func sameStream(ns, stream string, from *store.ObjectRef) bool {
	if from.Namespace != "" && from.Namespace != ns {
		return false
	}
	name, _, ok := strings.Cut(from.Name, ":")
	return !ok || name == stream
}

// tagSource says where a tag comes from, in oc's words.
func tagSource(ns, stream string, t store.TagSnapshot) string {
	if t.From == nil {
		if !t.InSpec {
			return "pushed image"
		}
		return "no source"
	}
	from := t.From.Name
	if t.From.Namespace != "" && t.From.Namespace != ns {
		from = t.From.Namespace + "/" + from
	}
	switch {
	case t.Reference:
		return "reference to registry " + from
	case t.Scheduled && t.From.Kind == store.KindDockerImage:
		return "updates automatically from registry " + from
	case t.From.Kind == store.KindImageStreamTag && sameStream(ns, stream, t.From):
		_, tag, ok := strings.Cut(t.From.Name, ":")
		if !ok {
			tag = t.From.Name
		}
		return "tracks " + tag
	}
	return "tagged from " + from
}

// Stream is "/ns/{ns}/is/{name}".
func (h *Handler) Stream(c echo.Context) error {
	ns, name := c.Param("ns"), c.Param("name")
	m, err := h.streamPage(c, ns, name)
	if err != nil {
		return h.failWith(c, "image stream "+ns+"/"+name, err, name)
	}
	d := formDoneFrom(c)
	m.Actions.Done, m.Actions.DoneTag = d.message(), d.tag
	return render(c, http.StatusOK, views.ViewStream(m))
}

// streamPage is the stream page's model, with the user's actions.
func (h *Handler) streamPage(c echo.Context, ns, name string) (views.StreamPage, error) {
	d, err := h.loadStream(c, ns, name)
	if err != nil {
		return views.StreamPage{}, err
	}
	st := d.st
	m := views.StreamPage{Page: h.page(c, ns+"/"+name, streamCrumbs(ns, name)...),
		Namespace: ns, Name: name, PullSpec: st.PullSpec, PublicPullSpec: st.PublicPullSpec, Created: st.Created,
		Labels: kvs(st.Labels), Annotations: kvs(st.Annotations), Bytes: d.sizes.Bytes, ExclusiveBytes: -1,
		UniqueImages: d.sizes.UniqueImages}
	tags := append([]store.TagSnapshot(nil), st.Tags...)
	store.OrderTags(tags, func(t store.TagSnapshot) string { return t.Name })
	for _, t := range tags {
		m.Tags = append(m.Tags, d.tagView(t))
	}
	if d.cached != nil {
		m.ExclusiveBytes = d.cached.ExclusiveBytes
		m.Parts = streamParts(m)
	}
	ptrs := make([]*views.TagView, len(m.Tags))
	for i := range m.Tags {
		ptrs[i] = &m.Tags[i]
	}
	m.Actions = h.formActions(c, ns, ptrs...)
	return m, nil
}

// streamParts splits a stream's bytes: each tag's own bytes, bytes shared
// between tags of this stream, bytes shared with other streams. Tag-exclusive
// sets are disjoint and inside the stream-exclusive set, so the parts add
// up; clamping guards a cache that is a moment older than the page.
func streamParts(m views.StreamPage) []views.Part {
	var parts []views.Part
	var own int64
	for _, t := range m.Tags {
		if t.ExclusiveBytes > 0 {
			parts = append(parts, views.Part{Label: ":" + t.Name + " only", Bytes: t.ExclusiveBytes, Href: t.Href, Kind: "tag"})
			own = bytesum.Add(own, t.ExclusiveBytes)
		}
	}
	if shared := m.ExclusiveBytes - own; shared > 0 {
		parts = append(parts, views.Part{Label: "shared by tags of this stream", Bytes: shared, Kind: "shared-stream"})
	}
	if other := m.Bytes - max(m.ExclusiveBytes, own); other > 0 {
		parts = append(parts, views.Part{Label: "shared with other streams", Bytes: other, Kind: "shared-registry"})
	}
	return parts
}
