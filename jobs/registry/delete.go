package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"layerwise/store"
)

// Deleter removes pruned manifests from the managed registry
// (LAYERWISE_REGISTRY_URL): a stream ns/name lives there as the repository
// <host>/ns/name. In distribution, deleting a manifest by digest also
// removes every tag of the repository that points at it, so a manifest is
// deleted only when no tag of that repository points at it.
type Deleter struct {
	// URL is the registry, e.g. http://127.0.0.1:5000 (http means plain
	// HTTP) or https://registry.example.com.
	URL string
	// AuthFile is a .dockerconfigjson (LAYERWISE_REGISTRY_AUTH_FILE).
	AuthFile string
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout   time.Duration
	Transport http.RoundTripper
}

// NewDeleter checks the registry URL.
func NewDeleter(rawURL, authFile string) (*Deleter, error) {
	d := &Deleter{URL: rawURL, AuthFile: authFile}
	if _, _, err := d.host(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Deleter) host() (string, bool, error) { return ParseRegistryURL(d.URL) }

// Host is the registry host as image references write it.
func (d *Deleter) Host() string {
	h, _, _ := d.host()
	return h
}

// DeleteOutcome counts what happened to the queued manifests.
type DeleteOutcome struct {
	Deleted int `json:"deleted"`
	// Kept: a tag of the repository in the registry still points at it.
	Kept   int      `json:"kept"`
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
}

// DeletePending works through the store's queue of manifests to delete:
// per repository it reads which digests the registry's tags point at, then
// deletes the others by digest (DELETE /v2/<repo>/manifests/<digest>). A
// manifest already gone counts as deleted; a failure stays queued for the
// next run.
func (d *Deleter) DeletePending(ctx context.Context, s *store.Store) (DeleteOutcome, error) {
	var out DeleteOutcome
	host, insecure, err := d.host()
	if err != nil {
		return out, err
	}
	kc, err := loadKeychain(d.AuthFile)
	if err != nil {
		return out, err
	}
	c := &Client{Transport: d.Transport}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	opts := func(ctx context.Context) []remote.Option {
		return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(c.transport(false)),
			remote.WithUserAgent(UserAgent)}
	}
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	var after int64
	tagged := map[string]map[string]string{} // repo → digest → a tag
	for {
		pending, err := s.PendingManifestDeletions(ctx, after, 500)
		if err != nil {
			return out, err
		}
		if len(pending) == 0 {
			return out, nil
		}
		after = pending[len(pending)-1].ID
		for _, p := range pending {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			repo, err := name.NewRepository(host+"/"+p.Repository, nameOpts...)
			if err != nil {
				out.Failed++
				out.Errors = append(out.Errors, fmt.Sprintf("%s: %v", p.Repository, err))
				continue
			}
			tags, ok := tagged[p.Repository]
			if !ok {
				rctx, cancel := context.WithTimeout(ctx, timeout)
				tags, err = tagDigests(repo, opts(rctx))
				cancel()
				if err != nil {
					out.Failed++
					out.Errors = append(out.Errors, fmt.Sprintf("list tags of %s: %v", repo, err))
					_ = s.ManifestDeleted(ctx, p.ID, err)
					continue
				}
				tagged[p.Repository] = tags
			}
			if _, held := tags[p.Digest]; held {
				out.Kept++
				if err := s.ManifestDeleted(ctx, p.ID, nil); err != nil {
					return out, err
				}
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, timeout)
			err = remote.Delete(repo.Digest(p.Digest), opts(rctx)...)
			cancel()
			if err != nil && !isNotFound(err) {
				out.Failed++
				out.Errors = append(out.Errors, fmt.Sprintf("delete %s@%s: %v", repo, p.Digest, err))
				if err := s.ManifestDeleted(ctx, p.ID, err); err != nil {
					return out, err
				}
				continue
			}
			out.Deleted++
			if err := s.ManifestDeleted(ctx, p.ID, nil); err != nil {
				return out, err
			}
		}
	}
}

// tagDigests maps the digests the repository's tags point at to a tag.
// Cosign's tags (sha256-<hex>.sig|.att|.sbom) hold nothing: they are
// referrers prune deletes with their subject, tag and all.
func tagDigests(repo name.Repository, opts []remote.Option) (map[string]string, error) {
	out := map[string]string{}
	tags, err := remote.List(repo, opts...)
	if err != nil {
		if isNotFound(err) {
			return out, nil
		}
		return nil, err
	}
	for _, t := range tags {
		if _, _, cosign := store.CosignTag(t); cosign {
			continue
		}
		desc, err := remote.Head(repo.Tag(t), opts...)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		out[desc.Digest.String()] = t
	}
	return out, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
