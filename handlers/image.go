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
	return cached(h, "image\x00"+digest+"\x00"+ref, func() (views.ImageView, error) { return h.loadImageView(ctx, digest, ref) })
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
	shares := map[string]store.BlobShares{}
	if u := h.Usage.Get(); u != nil {
		if shares, err = u.Shares(ctx, h.Store, digests); err != nil {
			return v, err
		}
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
	return v, nil
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
	m := views.ImagePage{Page: h.page(c, "Image "+views.ShortDigest(digest), home(), views.Crumb{Label: views.ShortDigest(digest)}), Image: iv}
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
	bd, err := cached(h, key, func() (blobData, error) {
		b, err := h.Store.GetBlob(ctx, digest, limit, sc)
		if err != nil {
			return blobData{}, err
		}
		d := blobData{info: b}
		if u := h.Usage.Get(); u != nil {
			sh, err := u.Shares(ctx, h.Store, []string{digest})
			if err != nil {
				return blobData{}, err
			}
			d.shares = sh[digest]
		}
		return d, nil
	})
	if err != nil {
		return h.failWith(c, "blob "+digest, err, digest)
	}
	b := bd.info
	m := views.BlobPage{Page: h.page(c, "Blob "+views.ShortDigest(digest), home(), views.Crumb{Label: views.ShortDigest(digest)}),
		Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Namespaces: b.Namespaces, Shares: bd.shares}
	if m.Shares.Images == 0 {
		m.Shares.Images = int(b.ImageCount)
	}
	for _, im := range b.Images {
		m.Images = append(m.Images, views.BlobImage{Digest: im.Digest, Href: views.ImageHref(im.Digest), Config: im.Config})
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
