package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// imageView fills an image with its layers and how widely each is shared.
func (h *Handler) imageView(ctx context.Context, digest, ref string) (views.ImageView, error) {
	return cached(ctx, h, "image\x00"+digest+"\x00"+ref, func() (views.ImageView, error) { return h.loadImageView(ctx, digest, ref) })
}

func (h *Handler) loadImageView(ctx context.Context, digest, ref string) (views.ImageView, error) {
	img, err := h.Store.GetImage(ctx, digest)
	if err != nil {
		return views.ImageView{}, err
	}
	m := img.Meta
	v := views.ImageView{Digest: img.Digest, Href: views.ImageHref(img.Digest), MediaType: img.MediaType, Ref: ref,
		Known: img.Known, Bytes: img.Bytes, Created: m.Created, OS: m.OS, Arch: m.Architecture, Variant: m.Variant,
		Author: m.Author, User: m.User, WorkingDir: m.WorkingDir, Entrypoint: m.Entrypoint, Cmd: m.Cmd, Env: m.Env,
		Ports: m.Ports, Labels: kvs(m.Labels)}
	if v.Ref == "" {
		v.Ref = img.DockerImageReference
	}
	digests := make([]string, 0, len(img.Layers)+1)
	for _, l := range img.Layers {
		digests = append(digests, l.Digest)
	}
	if img.Config != nil {
		digests = append(digests, img.Config.Digest)
	}
	if img.Manifest != nil {
		digests = append(digests, img.Digest)
	}
	shares, err := h.Store.ReadBlobShares(ctx, digests)
	if err != nil {
		return v, err
	}
	seen := map[string]bool{}
	for i, l := range img.Layers {
		v.Layers = append(v.Layers, views.LayerView{Digest: l.Digest, Href: views.BlobHref(l.Digest), MediaType: l.MediaType,
			Size: l.Size, Position: i, Shares: shares[l.Digest], Duplicate: seen[l.Digest], Fraction: fraction(l.Size, img.Bytes)})
		seen[l.Digest] = true
	}
	if c := img.Config; c != nil {
		v.Config = &views.LayerView{Digest: c.Digest, Href: views.BlobHref(c.Digest), MediaType: c.MediaType, Size: c.Size,
			Position: store.ConfigPosition, Shares: shares[c.Digest], Fraction: fraction(c.Size, img.Bytes), Derived: c.Derived}
	}
	if m := img.Manifest; m != nil {
		v.Manifest = &views.LayerView{Digest: img.Digest, Href: views.BlobHref(img.Digest), MediaType: m.MediaType, Size: m.Size,
			Position: store.ManifestPosition, Shares: shares[img.Digest], Fraction: fraction(m.Size, img.Bytes)}
	}
	for _, p := range img.Manifests {
		pv := views.PlatformView{OS: p.OS, Arch: p.Architecture, Variant: p.Variant, Digest: p.Digest, Href: views.ImageHref(p.Digest)}
		if child, err := h.Store.GetImage(ctx, p.Digest); err == nil {
			pv.Bytes, pv.Known = child.Bytes, child.Known
		}
		v.Platforms = append(v.Platforms, pv)
	}
	refs, err := h.Store.ReferrersOf(ctx, digest)
	if err != nil {
		return v, err
	}
	v.ReferrerBytes, v.Signed = refs.Bytes, refs.Signed
	for _, r := range refs.Referrers {
		v.Referrers = append(v.Referrers, views.ReferrerView{Digest: r.Digest, Href: views.ImageHref(r.Digest), Type: string(r.Type),
			ArtifactType: r.ArtifactType, Bytes: r.Bytes, Created: r.Created})
	}
	if v.Subjects, err = h.Store.SubjectsOf(ctx, digest); err != nil {
		return v, err
	}
	return v, nil
}

// withFrom is an image view whose links carry where the reader came from
// (ns/stream:tag). The view comes from the page cache: its lists are
// copied, never changed in place.
func withFrom(iv views.ImageView, from string) views.ImageView {
	if from == "" {
		return iv
	}
	iv.Href = views.WithFrom(iv.Href, from)
	layers := make([]views.LayerView, len(iv.Layers))
	for i, l := range iv.Layers {
		l.Href = views.WithFrom(l.Href, from)
		layers[i] = l
	}
	iv.Layers = layers
	if iv.Config != nil {
		cfg := *iv.Config
		cfg.Href = views.WithFrom(cfg.Href, from)
		iv.Config = &cfg
	}
	platforms := make([]views.PlatformView, len(iv.Platforms))
	for i, p := range iv.Platforms {
		p.Href = views.WithFrom(p.Href, from)
		platforms[i] = p
	}
	iv.Platforms = platforms
	referrers := make([]views.ReferrerView, len(iv.Referrers))
	for i, r := range iv.Referrers {
		r.Href = views.WithFrom(r.Href, from)
		referrers[i] = r
	}
	iv.Referrers = referrers
	return iv
}

// fromCrumbs are the breadcrumbs of an image or blob page reached from a
// stream or tag (?from=ns/stream or ns/stream:tag): they keep the
// namespace and the stream. A from the user may not see, or malformed, is
// ignored: the crumbs are then Overview / label. from is "" then.
func fromCrumbs(c echo.Context, label string) (crumbs []views.Crumb, from string) {
	from = c.QueryParam("from")
	name, tag, hasTag := strings.Cut(from, ":")
	ns, stream, ok := strings.Cut(name, "/")
	ref := store.StreamRef{Namespace: ns, Stream: stream}
	if !ok || ref.Validate() != nil || !canSee(c, ns) || (hasTag && store.ValidateTag(tag) != nil) {
		return []views.Crumb{home(), {Label: label}}, ""
	}
	crumbs = []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: stream, Href: views.StreamHref(ns, stream)}}
	if hasTag {
		crumbs = append(crumbs, views.Crumb{Label: tag, Href: views.TagHref(ns, stream, tag)})
	}
	return append(crumbs, views.Crumb{Label: label}), from
}

// Image is "/images/{digest}": the image and every tag that holds it.
func (h *Handler) Image(c echo.Context) error {
	ctx := c.Request().Context()
	digest := c.Param("digest")
	if err := store.ValidateDigest(digest); err != nil {
		return h.notFound(c, "image "+digest, strings.TrimPrefix(digest, "sha256:"))
	}
	// An image the user's namespaces do not hold is "not found", word for
	// word as a missing one.
	sc := scopeOf(c)
	if ok, err := h.Store.ImageInScope(ctx, digest, sc); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("image %s: %w", digest, store.ErrNotFound)
		}
		return h.failWith(c, "image "+digest, err, digest)
	}
	holders, err := h.Store.ImageHolders(ctx, digest, 500, sc)
	if err != nil {
		return h.fail(c, "image "+digest, err)
	}
	// The pull spec one of the holders recorded. The image row keeps the
	// one it was last recorded with — maybe another namespace's
	// repository — so only a reader who sees everything falls back to it.
	ref := ""
	for _, r := range holders {
		if r.Ref != "" {
			ref = r.Ref
			break
		}
	}
	iv, err := h.imageView(ctx, digest, ref)
	if err != nil {
		return h.failWith(c, "image "+digest, err, digest)
	}
	if sc != nil && ref == "" {
		iv.Ref = ""
	}
	crumbs, from := fromCrumbs(c, views.ShortDigest(digest))
	m := views.ImagePage{Page: h.page(c, "Image "+views.ShortDigest(digest), crumbs...), Image: withFrom(iv, from)}
	for _, r := range holders {
		m.Holders = append(m.Holders, views.Holder{Namespace: r.Namespace, Stream: r.Stream, Tag: r.Tag,
			Href: views.TagHref(r.Namespace, r.Stream, r.Tag), Current: r.Position == 0, Created: r.Created})
	}
	lists, err := h.Store.ManifestListsOf(ctx, digest, sc)
	if err != nil {
		return h.fail(c, "image "+digest, err)
	}
	for _, l := range lists {
		m.Lists = append(m.Lists, views.Holder{Digest: l, Href: views.ImageHref(l)})
	}
	return render(c, http.StatusOK, views.ViewImage(m))
}

// Blob is "/blobs/{digest}": a layer and everything that shares it.
func (h *Handler) Blob(c echo.Context) error {
	ctx := c.Request().Context()
	digest := c.Param("digest")
	if err := store.ValidateDigest(digest); err != nil {
		return h.notFound(c, "blob "+digest, strings.TrimPrefix(digest, "sha256:"))
	}
	const limit = 200
	// A base layer is shared by tens of thousands of images: reading who
	// shares it takes a large fraction of a second, so it is cached until
	// the data changes, like the other pages.
	type blobData struct {
		info   store.BlobInfo
		shares store.BlobShares
	}
	// Cached per scope: a reader sees the streams and namespaces of their
	// own namespaces only, and a blob none of their images lists is "not
	// found", as a missing one.
	sc := scopeOf(c)
	key := "blob:" + digest
	if sc != nil {
		key += "\x00" + strings.Join(sc.Namespaces, ",")
	}
	bd, err := cached(ctx, h, key, func() (blobData, error) {
		b, err := h.Store.GetBlob(ctx, digest, limit, sc)
		if err != nil {
			return blobData{}, err
		}
		d := blobData{info: b}
		sh, err := h.Store.ReadBlobShares(ctx, []string{digest})
		if err != nil {
			return blobData{}, err
		}
		d.shares = sh[digest]
		return d, nil
	})
	if err != nil {
		return h.failWith(c, "blob "+digest, err, digest)
	}
	b := bd.info
	crumbs, from := fromCrumbs(c, views.ShortDigest(digest))
	m := views.BlobPage{Page: h.page(c, "Blob "+views.ShortDigest(digest), crumbs...),
		Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Namespaces: b.Namespaces, Shares: bd.shares}
	if m.Shares.Images == 0 {
		m.Shares.Images = int(b.ImageCount)
	}
	for _, im := range b.Images {
		m.Images = append(m.Images, views.BlobImage{Digest: im.Digest, Href: views.WithFrom(views.ImageHref(im.Digest), from), Config: im.Config})
	}
	if more := int(b.ImageCount) - len(b.Images); more > 0 {
		m.More = more
	}
	if more := m.Shares.Streams - len(b.Streams); seesAll(c) && more > 0 {
		m.MoreStreams = more
	}
	for _, st := range b.Streams {
		m.Streams = append(m.Streams, views.Holder{Namespace: st.Namespace, Stream: st.Stream, Href: views.StreamHref(st.Namespace, st.Stream)})
	}
	return render(c, http.StatusOK, views.ViewBlob(m))
}
