package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"layerwise/store"
)

// SyncResult counts what a registry sync saw and did.
type SyncResult struct {
	Repositories int // in the catalog
	Tags         int // listed in mapped repositories
	Changed      int // tags whose new image was recorded
	Referrers    int // referrers recorded through the referrers API
	Skipped      []string
	Failed       []string // "repo:tag: why"
}

// Summary is one line for the job log.
func (r SyncResult) Summary() string {
	return fmt.Sprintf("%d repositories, %d tags, %d changed, %d referrers, %d skipped, %d failed",
		r.Repositories, r.Tags, r.Changed, r.Referrers, len(r.Skipped), len(r.Failed))
}

// Sync walks the managed registry: /v2/_catalog and every repository's
// tags/list (following Link pagination), one HEAD per tag, and a full read
// (ApplyPush, at the time of the sync) only of the tags whose digest
// differs from the tag's current image in the store. Notifications can be
// dropped by the registry's in-memory queue; this is how none is lost.
//
// A catalog that cannot be read fails the sync; a repository or tag that
// cannot be read is counted in Failed, the rest goes on, and the sync
// returns an error naming the first failure.
func (m *Managed) Sync(ctx context.Context, s *store.Store, actor string) (SyncResult, error) {
	var res SyncResult
	kc, err := loadKeychain(m.Client.AuthFile)
	if err != nil {
		return res, err
	}
	var nameOpts []name.Option
	if m.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(m.Host, nameOpts...)
	if err != nil {
		return res, fmt.Errorf("LAYERWISE_REGISTRY_URL: %w", err)
	}
	page := m.PageSize
	if page <= 0 {
		page = 100
	}
	opts := func(ctx context.Context) []remote.Option {
		return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPageSize(page),
			remote.WithTransport(m.Client.transport(m.Insecure)), remote.WithUserAgent(UserAgent)}
	}
	timeout := m.Client.timeout()
	call := func(what string, fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := fn(cctx)
		if err != nil && cctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: registry %s did not answer within %s: %w", what, m.Host, timeout, ErrTimeout)
		}
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			return &Error{Reason: ReasonUnauthorized, kind: ErrUnauthorized,
				Msg: fmt.Sprintf("%s: unauthorized: registry %s refused access (%d %s); check LAYERWISE_REGISTRY_AUTH_FILE",
					what, m.Host, te.StatusCode, http.StatusText(te.StatusCode))}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}

	var repos []string
	err = call("list the repositories (/v2/_catalog) of "+m.Host, func(ctx context.Context) error {
		var err error
		repos, err = remote.Catalog(ctx, reg, opts(ctx)...)
		return err
	})
	if err != nil {
		return res, err
	}
	res.Repositories = len(repos)
	// The referrers API is asked about each tagged image until the
	// registry shows it has none (Debian's docker-registry 2.8): cosign's
	// tags are then all there is, and they come as tags.
	referrersAPI := true
	have, err := s.CurrentDigests(ctx)
	if err != nil {
		return res, err
	}
	for _, repo := range repos {
		stream, err := MapRepository(repo)
		if err != nil {
			res.Skipped = append(res.Skipped, err.Error())
			continue
		}
		r, err := name.NewRepository(m.Host+"/"+repo, nameOpts...)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("repository %q: %v", repo, err))
			continue
		}
		var tags []string
		err = call("list the tags of "+repo, func(ctx context.Context) error {
			var err error
			tags, err = remote.List(r, opts(ctx)...)
			return err
		})
		if err != nil {
			res.Failed = append(res.Failed, err.Error())
			continue
		}
		subjects := map[string]bool{}
		for _, tag := range tags {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Tags++
			dst := store.TagRef{Namespace: stream.Namespace, Stream: stream.Stream, Tag: tag}
			var digest string
			err := call("HEAD "+repo+":"+tag, func(ctx context.Context) error {
				desc, err := remote.Head(r.Tag(tag), opts(ctx)...)
				if err == nil {
					digest = desc.Digest.String()
				}
				return err
			})
			if err != nil {
				res.Failed = append(res.Failed, err.Error())
				continue
			}
			if _, _, cosign := store.CosignTag(tag); !cosign {
				subjects[digest] = true
			}
			if cur, ok := have[dst]; ok && cur == digest {
				continue
			}
			pr, err := m.ApplyPush(ctx, s, repo, tag, digest, time.Time{}, actor)
			if err != nil {
				res.Failed = append(res.Failed, fmt.Sprintf("%s:%s: %v", repo, tag, err))
				continue
			}
			if pr.Changed {
				res.Changed++
			}
		}
		for _, digest := range sortedKeys(subjects) {
			if !referrersAPI {
				break
			}
			var n int
			err := call("referrers of "+repo+"@"+digest, func(ctx context.Context) error {
				var err error
				n, referrersAPI, err = m.ApplyReferrers(ctx, s, repo, digest, actor)
				return err
			})
			res.Referrers += n
			if err != nil {
				referrersAPI = true // one failure says nothing of the API
				res.Failed = append(res.Failed, err.Error())
			}
		}
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("registry sync of %s: %s; first failure: %s", m.Host, res.Summary(), res.Failed[0])
	}
	return res, nil
}

// IsFetchError tells a failure to read from the registry (an *Error)
// from a failure of the store.
func IsFetchError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
