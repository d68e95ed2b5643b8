package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/store"
)

// ErrWriteThrough is wrapped by every failure to write a tag change
// through to the managed registry.
var ErrWriteThrough = errors.New("the managed registry refused the change")

// Mirror writes tag changes through to the managed registry
// (LAYERWISE_REGISTRY_URL), where stream ns/name is the repository
// <host>/ns/name: after tag, promote or rollback, `docker pull
// <host>/ns/name:tag` gets the image the dashboard shows.
//
// Only images that live in the managed registry are written: the tag's
// new current entry must be a pull spec <host>/repository@digest. An image
// imported from another registry is not copied in.
type Mirror struct {
	Host     string // host[:port] as in image references
	Insecure bool   // plain HTTP (an http:// URL)
	Client   *Client
}

// NewMirror reads LAYERWISE_REGISTRY_URL ("http://127.0.0.1:5000",
// "https://registry.example.com", or a bare host, which means https — as
// the registry sync reads it); "" means no managed registry (nil, nil).
func NewMirror(rawURL string, c *Client) (*Mirror, error) {
	u := strings.TrimRight(strings.TrimSpace(rawURL), "/")
	if u == "" {
		return nil, nil
	}
	host, insecure, err := ParseRegistryURL(u)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = &Client{}
	}
	return &Mirror{Host: host, Insecure: insecure, Client: c}, nil
}

// Publish puts what dst points at after a change (res, read in tx before
// it commits) under dst's tag in the managed registry, and under the tags
// of the stream that follow dst as aliases. Call it as the last step of
// the change's transaction: when it fails the caller rolls back, so the
// database and the registry never disagree about a tag this call wrote.
func (m *Mirror) Publish(ctx context.Context, tx *store.Store, dst store.TagRef, res store.TagResult) error {
	if m == nil || res.Image == "" {
		return nil
	}
	var opts []name.Option
	if m.Insecure {
		opts = append(opts, name.Insecure)
	}
	src, err := name.NewDigest(res.Ref, opts...)
	if err != nil || src.Context().RegistryStr() != m.Host || src.DigestStr() != res.Image {
		return nil // not an image of the managed registry
	}
	tags := []string{dst.Tag}
	followers, err := tx.Followers(ctx, dst)
	if err != nil {
		return err
	}
	if len(followers) > 0 {
		st, err := tx.GetStream(ctx, store.StreamRef{Namespace: dst.Namespace, Stream: dst.Stream})
		if err != nil {
			return err
		}
		now := map[string]string{}
		for _, t := range st.Tags {
			if len(t.Items) > 0 {
				now[t.Name] = t.Items[0].Image
			}
		}
		for _, f := range followers {
			if now[f] == res.Image {
				tags = append(tags, f)
			}
		}
	}
	return m.put(ctx, src, dst, tags)
}

// put copies the manifest src under repository dst's tags: a PUT of the
// manifest by tag when src is in the same repository (as `crane tag`),
// else a copy that mounts the blobs from src's repository first.
func (m *Mirror) put(ctx context.Context, src name.Digest, dst store.TagRef, tags []string) error {
	var opts []name.Option
	if m.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(m.Host+"/"+dst.Namespace+"/"+dst.Stream, opts...)
	if err != nil {
		return fmt.Errorf("%w: %s/%s is not a repository name there: %v", ErrWriteThrough, dst.Namespace, dst.Stream, err)
	}
	fail := func(tag string, err error) error {
		return fmt.Errorf("%w: could not put %s under %s:%s in %s (nothing was changed): %v",
			ErrWriteThrough, src.DigestStr(), repo.RepositoryStr(), tag, m.Host, err)
	}
	kc, err := loadKeychain(m.Client.AuthFile)
	if err != nil {
		return fail(tags[0], err)
	}
	cctx, cancel := context.WithTimeout(ctx, m.Client.timeout())
	defer cancel()
	ro := []remote.Option{remote.WithContext(cctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(m.Client.transport(m.Insecure)),
		remote.WithUserAgent(UserAgent),
		// The database transaction waits for this: retry a flake once,
		// quickly, and let the user try again otherwise.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 2})}
	desc, err := remote.Get(src, ro...)
	if err != nil {
		return fail(tags[0], err)
	}
	for i, tag := range tags {
		ref := repo.Tag(tag)
		switch {
		case i > 0 || src.Context().RepositoryStr() == repo.RepositoryStr():
			// The manifest and its blobs are in the repository: tag it.
			err = remote.Tag(ref, desc, ro...)
		case desc.MediaType.IsIndex():
			idx, ierr := desc.ImageIndex()
			if ierr != nil {
				return fail(tag, ierr)
			}
			err = remote.WriteIndex(ref, idx, ro...)
		default:
			img, ierr := desc.Image()
			if ierr != nil {
				return fail(tag, ierr)
			}
			err = remote.Write(ref, img, ro...)
		}
		if err != nil {
			return fail(tag, err)
		}
	}
	return nil
}

// Namespace says whether a pull spec names a repository of the managed
// registry and, if so, the namespace that repository belongs to ("" for
// a repository that maps to no namespace, such as "busybox"). A nil
// Mirror manages nothing.
func (m *Mirror) Namespace(ref string) (ns string, managed bool) {
	if m == nil {
		return "", false
	}
	var opts []name.Option
	if m.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil || r.Context().RegistryStr() != m.Host {
		return "", false
	}
	stream, err := MapRepository(r.Context().RepositoryStr())
	if err != nil {
		return "", true
	}
	return stream.Namespace, true
}

// Verify reads a DockerImage source by digest that names the managed
// registry from that registry (every platform, as a push is recorded):
// the registry is the source of truth, so what it serves is proven to be
// there and may be linked. It returns nil for any other source. A digest
// the repository does not hold is an error that matches store.ErrNotFound;
// a registry that cannot answer, ErrWriteThrough.
func (m *Mirror) Verify(ctx context.Context, src store.Source, opt store.TagOptions) ([]store.ImageSnapshot, error) {
	if src.Kind != store.KindDockerImage || opt.Reference || !strings.Contains(src.Ref, "@") {
		return nil, nil
	}
	if _, managed := m.Namespace(src.Ref); !managed {
		return nil, nil
	}
	res, err := m.Client.Fetch(ctx, src.Ref, FetchOptions{Insecure: m.Insecure, ImportMode: ModePreserveOriginal, Managed: true})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("not in the managed registry, the source of truth for its images (push it there first): %w", err)
	case err != nil:
		return nil, fmt.Errorf("%w: could not read %s from it (nothing was changed): %v", ErrWriteThrough, src.Ref, err)
	}
	return res.Images, nil
}

// RecordVerified writes the images Verify read in the change's
// transaction and marks the tag options verified (nothing for none).
func RecordVerified(ctx context.Context, tx *store.Store, imgs []store.ImageSnapshot, opt *store.TagOptions) error {
	if len(imgs) == 0 {
		return nil
	}
	for _, img := range imgs {
		if _, err := tx.PutImage(ctx, img); err != nil {
			return fmt.Errorf("record image %s: %w", img.Digest, err)
		}
	}
	opt.Verified = true
	return nil
}
