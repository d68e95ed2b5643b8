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

// pageHistory is how many history entries of a tag the tag page shows,
// one page of ?page=. The stream page reads the current entry of each tag
// and how many there are: the history is on the tag's page.
const pageHistory = 50

// streamData is what the stream and tag pages share: the stream with a
// window of each tag's history, its sizes computed from its own rows, and
// its stored usage figures.
type streamData struct {
	st     store.StreamSnapshot
	page   store.StreamPage
	sizes  store.StreamSizes
	cached *store.StreamUsage // nil while usage is computed or the stream is new
	signed map[string]bool    // images of the page with a signature
}

func (h *Handler) loadStream(c echo.Context, ns, name string, w store.HistoryWindow) (streamData, error) {
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
	page, err := cached(ctx, h, fmt.Sprintf("stream\x00%s\x00%s\x00%d\x00%d", ns, name, w.Offset, w.Limit), func() (store.StreamPage, error) {
		return h.Store.GetStreamPage(ctx, ref, w)
	})
	if err != nil {
		return d, err
	}
	// The images the window shows: their sizes and "signed" marks.
	var digests []string
	for _, t := range page.Tags {
		for _, it := range t.Items {
			digests = append(digests, it.Image)
		}
	}
	for _, it := range page.Current {
		digests = append(digests, it.Image)
	}
	sizes, err := cached(ctx, h, fmt.Sprintf("sizes\x00%s\x00%s\x00%d\x00%d", ns, name, w.Offset, w.Limit), func() (store.StreamSizes, error) {
		return h.Store.StreamSizes(ctx, ref, digests...)
	})
	if err != nil {
		return d, err
	}
	d.page, d.st, d.sizes = page, page.StreamSnapshot, sizes
	d.signed, err = cached(ctx, h, fmt.Sprintf("signed\x00%s\x00%s\x00%d\x00%d", ns, name, w.Offset, w.Limit), func() (map[string]bool, error) {
		return h.Store.SignedDigests(ctx, digests)
	})
	if err != nil {
		return d, err
	}
	su, err := cached(ctx, h, "stream-usage\x00"+ns+"\x00"+name, func() (store.StreamUsage, error) {
		return h.Store.ReadStreamUsage(ctx, ref)
	})
	if err != nil {
		return d, err
	}
	d.cached = &su
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
	from := ns + "/" + stream + ":" + t.Name // the image pages' way back
	v := views.TagView{Name: t.Name, Href: views.TagHref(ns, stream, t.Name), InSpec: t.InSpec,
		Scheduled: t.Scheduled, Insecure: t.Insecure, Reference: t.Reference,
		Bytes: d.sizes.Tags[t.Name], ExclusiveBytes: -1}
	v.Source = tagSource(ns, stream, t)
	v.Alias = t.From != nil && t.From.Kind == store.KindImageStreamTag && sameStream(ns, stream, t.From)
	v.KeepsSource = t.RollbackKeeps() != ""
	v.External = t.From != nil && t.From.Kind == store.KindDockerImage && !t.Reference
	v.Unverified = v.External && len(t.Items) > 0 && t.Items[0].Image == "" && t.Items[0].DockerImageReference != ""
	if c := t.Condition; c != nil && c.Status == "False" {
		v.ImportError = &views.ImportError{Reason: c.Reason, Message: c.Message, At: c.Time}
	}
	cached := d.cachedTag(t.Name)
	if cached != nil {
		v.ExclusiveBytes = cached.ExclusiveBytes
	}
	revision := func(pos int, it store.EventSnapshot) views.Revision {
		r := views.Revision{Image: it.Image, Ref: it.DockerImageReference, Created: it.Created, Current: pos == 0}
		if it.Image != "" {
			r.Href = views.WithFrom(views.ImageHref(it.Image), from)
			r.Bytes = d.sizes.Images[it.Image]
			r.Known = !d.sizes.Unknown[it.Image]
			r.Signed = d.signed[it.Image]
		}
		// The prune mark comes from the cache; trust it only while the
		// entry at that position is still the same image.
		if cached != nil && pos < len(cached.Revisions) && cached.Revisions[pos].Image == it.Image {
			r.Prunable = cached.Revisions[pos].Prunable
		}
		return r
	}
	w := d.page.Window
	v.HistoryFrom, v.Revisions = w.Offset, d.page.Total[t.Name]
	for i, it := range t.Items {
		v.History = append(v.History, revision(w.Offset+i, it))
	}
	if cur, ok := d.page.Current[t.Name]; ok {
		r := revision(0, cur)
		v.Current = &r
	}
	return v
}

// pageLinks sets the links of a tag's history to the tag page's pages
// beside the one shown.
func pageLinks(v *views.TagView) {
	page := v.HistoryFrom/pageHistory + 1
	switch {
	case page == 2:
		v.NewerHref = v.Href
	case page > 2:
		v.NewerHref = fmt.Sprintf("%s?page=%d", v.Href, page-1)
	}
	if v.HistoryFrom+len(v.History) < v.Revisions {
		v.OlderHref = fmt.Sprintf("%s?page=%d", v.Href, page+1)
	}
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
			return "no spec tag" // as oc describe says of a tag only in status (a push)
		}
		return "tag without source image"
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
	formDoneFrom(c).show(&m.Actions)
	return render(c, http.StatusOK, views.ViewStream(m))
}

// streamPage is the stream page's model, with the user's actions.
func (h *Handler) streamPage(c echo.Context, ns, name string) (views.StreamPage, error) {
	d, err := h.loadStream(c, ns, name, store.HistoryWindow{Limit: 1})
	if err != nil {
		return views.StreamPage{}, err
	}
	st := d.st
	m := views.StreamPage{Page: h.page(c, ns+"/"+name, streamCrumbs(ns, name)...),
		Namespace: ns, Name: name, PullSpec: st.PullSpec, PublicPullSpec: st.PublicPullSpec, Created: st.Created,
		Labels: kvs(st.Labels), Annotations: kvs(st.Annotations), Bytes: d.sizes.Bytes, ExclusiveBytes: -1,
		UniqueImages: d.sizes.UniqueImages}
	tags := append([]store.TagSnapshot(nil), st.Tags...)
	store.OrderTagsByLadder(tags, func(t store.TagSnapshot) string { return t.Name }, h.ladder(c, ns))
	ret, err := h.retention(c, ns, name)
	if err != nil {
		return views.StreamPage{}, err
	}
	for _, t := range tags {
		v := d.tagView(t)
		pageLinks(&v)
		applyRetention(&v, ret[t.Name], seesFunc(c))
		m.Tags = append(m.Tags, v)
	}
	for _, list := range ret {
		for _, e := range list {
			if e.LastPulled.After(m.LastPulled) {
				m.LastPulled = e.LastPulled
			}
		}
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

// retention is why each revision of a stream is kept, and when it was
// last pulled: the history, rules and pins are cached until the data
// changes; pull times are read on each request (a pull changes no data
// version, so that pages cached before it stay valid).
func (h *Handler) retention(c echo.Context, ns, name string) (map[string][]store.EntryRetention, error) {
	ctx := c.Request().Context()
	ref := store.StreamRef{Namespace: ns, Stream: name}
	f, err := cached(ctx, h, "retention\x00"+ns+"\x00"+name, func() (*store.StreamFacts, error) {
		return h.Store.StreamFacts(ctx, ref, h.policy())
	})
	if err != nil {
		return nil, err
	}
	pulls, err := h.Store.StreamPulls(ctx, f)
	if err != nil {
		return nil, err
	}
	// The store's clock, as the prune plan's: a page and the plan agree.
	return f.Evaluate(pulls, h.Store.Now()), nil
}

// applyRetention marks each revision shown with why prune keeps it (or
// not), the date it becomes prunable and its last pull; list is the tag's
// whole history by position, trusted only where it names the same image.
// Workloads on the cluster that use an image are named only where the
// reader holds a role in their namespace (sees); the others are counted.
func applyRetention(v *views.TagView, list []store.EntryRetention, sees func(string) bool) {
	set := func(pos int, r *views.Revision) {
		if pos >= len(list) || list[pos].Position != pos || list[pos].Image != r.Image {
			return
		}
		e := list[pos]
		r.Prunable, r.Why, r.PrunableOn, r.LastPulled = !e.Retention.Kept(), e.Retention.Text(), e.Retention.PrunableAt(), e.LastPulled
		r.InUse = e.InUse.Describe(sees)
		if e.Retention.Reason == store.ReasonInUse {
			r.Why = r.InUse
		}
	}
	for i := range v.History {
		set(v.HistoryFrom+i, &v.History[i])
	}
	if v.Current != nil {
		set(0, v.Current)
		v.LastPulled = v.Current.LastPulled
	}
}
