package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"layerwise/store"
)

// Managed is the registry Layerwise manages (LAYERWISE_REGISTRY_URL): its
// pushes arrive as notifications (the webhook) and its whole catalog is
// synced on a schedule (Sync), both through ApplyPush.
type Managed struct {
	// Host is host[:port] as image references name the registry.
	Host string
	// Insecure is set for an http:// URL: plain HTTP.
	Insecure bool
	// Client reads manifests and configs; its AuthFile, Timeout and
	// Transport also serve the catalog walk.
	Client *Client
	// PageSize is the n of _catalog and tags/list requests; 0 = 100.
	PageSize int
}

// NewManaged reads LAYERWISE_REGISTRY_URL ("http://127.0.0.1:5000",
// "https://registry.example.com", or a bare host, which means https).
func NewManaged(rawURL, authFile string) (*Managed, error) {
	host, insecure, err := ParseRegistryURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &Managed{Host: host, Insecure: insecure, Client: NewFetcher(authFile)}, nil
}

// ParseRegistryURL reads LAYERWISE_REGISTRY_URL, the one way every user of
// the managed registry (webhook, sync, write-through, prune) reads it:
// "http://127.0.0.1:5000" (plain HTTP), "https://registry.example.com", or
// a bare host, which means https. It returns host[:port] as image
// references name the registry.
func ParseRegistryURL(rawURL string) (host string, insecure bool, err error) {
	u := strings.TrimSpace(rawURL)
	if !strings.Contains(u, "://") {
		u = "https://" + u
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.Hostname() == "" || strings.HasSuffix(p.Host, ":") || (p.Scheme != "http" && p.Scheme != "https") || (p.Path != "" && p.Path != "/") {
		return "", false, fmt.Errorf("LAYERWISE_REGISTRY_URL %q must be http(s)://host[:port], e.g. http://127.0.0.1:5000", rawURL)
	}
	return p.Host, p.Scheme == "http", nil
}

// URL is the registry's base URL.
func (m *Managed) URL() string {
	if m.Insecure {
		return "http://" + m.Host
	}
	return "https://" + m.Host
}

// MapRepository maps a registry repository to an image stream: the first
// path segment is the namespace, the rest the stream. "team-a/api" is
// team-a/api; a deeper path joins the remaining segments with dots, so
// "team-a/tools/builder" is team-a/tools.builder (a repository really named
// team-a/tools.builder would share that stream: do not use both). A
// repository without a namespace segment ("busybox"), or whose parts are not
// valid namespace and stream names, maps to nothing and is skipped.
func MapRepository(repo string) (store.StreamRef, error) {
	parts := strings.Split(repo, "/")
	if len(parts) < 2 {
		return store.StreamRef{}, fmt.Errorf("repository %q has no namespace: Layerwise maps NAMESPACE/STREAM repositories to image streams", repo)
	}
	ref := store.StreamRef{Namespace: parts[0], Stream: strings.Join(parts[1:], ".")}
	if err := ref.Validate(); err != nil {
		return ref, fmt.Errorf("repository %q does not map to an image stream: %w", repo, err)
	}
	return ref, nil
}

// PushRequest is one tagged push a registry notification announced.
type PushRequest struct {
	Repository, Tag, Digest string
	At                      time.Time
}

// PushOutcome is what became of one PushRequest: Err is a read-back or
// validation failure of that push alone (the others go on).
type PushOutcome struct {
	Result store.PushResult
	Err    error
}

// ApplyPush records one push: ApplyPushes with one request.
func (m *Managed) ApplyPush(ctx context.Context, s *store.Store, repo, tag, digest string, at time.Time, actor string) (store.PushResult, error) {
	out, err := m.ApplyPushes(ctx, s, []PushRequest{{Repository: repo, Tag: tag, Digest: digest, At: at}}, actor)
	if err != nil {
		return store.PushResult{}, err
	}
	return out[0].Result, out[0].Err
}

// ApplyPushes records tagged pushes the registry announced in one
// envelope: each is read back from the registry first (a redelivered
// event, or the echo of a change written through, names the tag's current
// image and needs no read), then all are recorded in one transaction, each
// audited once as actor when it changed the history — one settlement of
// the usage figures for the envelope instead of one per push. A push that
// cannot be read back or is malformed fails alone (its outcome's Err); an
// error of the store fails them all, and the registry sends the envelope
// again.
func (m *Managed) ApplyPushes(ctx context.Context, s *store.Store, reqs []PushRequest, actor string) ([]PushOutcome, error) {
	out := make([]PushOutcome, len(reqs))
	type fetched struct {
		i    int
		dst  store.TagRef
		res  Result
		ref  string
		when time.Time
	}
	var todo []fetched
	for i, r := range reqs {
		stream, err := MapRepository(r.Repository)
		if err != nil {
			out[i].Err = err
			continue
		}
		dst := store.TagRef{Namespace: stream.Namespace, Stream: stream.Stream, Tag: r.Tag}
		if err := dst.Validate(); err != nil {
			out[i].Err = err
			continue
		}
		if err := store.ValidateDigest(r.Digest); err != nil {
			out[i].Err = err
			continue
		}
		cur, err := s.CurrentImage(ctx, dst)
		if err != nil {
			return nil, err
		}
		if cur == r.Digest {
			out[i].Result = store.PushResult{Before: cur, Image: r.Digest, Current: true}
			continue
		}
		// A signature (cosign tag) or other referrer recorded already: the
		// sync sees its tag on every walk.
		if known, err := s.HasReferrer(ctx, stream.String(), r.Digest); err != nil {
			return nil, err
		} else if known {
			out[i].Result = store.PushResult{Before: "none", Image: r.Digest}
			continue
		}
		ref := m.Host + "/" + r.Repository + "@" + r.Digest
		res, err := m.Client.Fetch(ctx, ref, FetchOptions{Insecure: m.Insecure, ImportMode: ModePreserveOriginal, Managed: true})
		if err != nil {
			out[i].Err = err
			continue
		}
		todo = append(todo, fetched{i: i, dst: dst, res: res, ref: ref, when: r.At})
	}
	if len(todo) == 0 {
		return out, nil
	}
	record := func(tx *store.Store, f fetched) error {
		pr, err := tx.RecordPush(ctx, store.Push{Tag: f.dst, Images: f.res.Images, PullSpec: f.res.PullSpec, At: f.when})
		if err != nil {
			return fmt.Errorf("record the push of %s: %w", f.ref, err)
		}
		out[f.i].Result = pr
		if !pr.Changed {
			return nil
		}
		after := pr.Image
		switch {
		case pr.Referrer != "":
			after += " (attached to " + pr.Referrer + " as a referrer, not a tag)"
		case !pr.Current:
			after += " (an earlier push, recorded below the current image)"
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: actor, Namespace: f.dst.Namespace, Action: "registry.push",
			Target: f.dst.String(), Before: pr.Before, After: after})
	}
	err := s.Tx(ctx, func(tx *store.Store) error {
		for _, f := range todo {
			if err := record(tx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrInvalid) && len(todo) > 1 {
		// One push the store refuses (what the registry served lies about
		// sizes or names) must not hold back the others: one transaction
		// each, as a single push would have.
		err = nil
		for _, f := range todo {
			out[f.i].Result = store.PushResult{}
			e := s.Tx(ctx, func(tx *store.Store) error { return record(tx, f) })
			if errors.Is(e, store.ErrInvalid) {
				out[f.i].Err = e
			} else if e != nil {
				return nil, e
			}
		}
		return out, nil
	}
	if errors.Is(err, store.ErrInvalid) {
		out[todo[0].i].Err = err
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyDelete removes digest from the history of repo's stream: the
// registry deleted that manifest (and with it every tag on it). It is
// audited when something was removed.
func (m *Managed) ApplyDelete(ctx context.Context, s *store.Store, repo, digest, actor string) (int64, error) {
	stream, err := MapRepository(repo)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.Tx(ctx, func(tx *store.Store) error {
		var err error
		if n, err = tx.RemoveImageFromStream(ctx, stream, digest); err != nil || n == 0 {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: actor, Namespace: stream.Namespace, Action: "registry.delete",
			Target: stream.String() + "@" + digest, Before: fmt.Sprintf("%d history entries", n), After: "none"})
	})
	return n, err
}

// ApplyReferrers reads, through the registry's referrers API, the
// referrers of repo@digest that the store does not have yet and records
// each one attached to its subject, audited by actor. ok is false when the
// registry has no referrers API (cosign's tags are then read as tags by
// the sync and the webhook).
func (m *Managed) ApplyReferrers(ctx context.Context, s *store.Store, repo, digest, actor string) (added int, ok bool, err error) {
	stream, err := MapRepository(repo)
	if err != nil {
		return 0, false, err
	}
	ref := m.Host + "/" + repo + "@" + digest
	known := func(d string) (bool, error) { return s.HasReferrer(ctx, stream.String(), d) }
	refs, ok, err := m.Client.Referrers(ctx, ref, FetchOptions{Insecure: m.Insecure, Managed: true}, known)
	if err != nil || !ok {
		return 0, ok, err
	}
	for _, r := range refs {
		r.Repository = stream.String()
		img := r.Images[len(r.Images)-1]
		err := s.Tx(ctx, func(tx *store.Store) error {
			changed, err := tx.RecordReferrer(ctx, r)
			if err != nil || !changed {
				return err
			}
			added++
			return tx.Audit(ctx, store.AuditEvent{Actor: actor, Namespace: stream.Namespace, Action: "registry.referrer",
				Target: stream.String() + "@" + r.Subject, Before: "none", After: img.Digest})
		})
		if err != nil {
			return added, true, fmt.Errorf("record referrer %s of %s: %w", img.Digest, ref, err)
		}
	}
	return added, true, nil
}

// ApplyDigestPush handles a manifest pushed to repo by digest alone (no
// tag): when it names a subject it is a referrer (an OCI 1.1 signature,
// SBOM or attestation) and is read back and recorded attached to that
// image, audited by actor. Anything else pushed by digest (a platform of
// a list about to be tagged) is no change; nor is one already recorded.
func (m *Managed) ApplyDigestPush(ctx context.Context, s *store.Store, repo, digest, actor string) (store.PushResult, error) {
	stream, err := MapRepository(repo)
	if err != nil {
		return store.PushResult{}, err
	}
	if err := store.ValidateDigest(digest); err != nil {
		return store.PushResult{}, err
	}
	res := store.PushResult{Before: "none", Image: digest}
	if known, err := s.HasReferrer(ctx, stream.String(), digest); err != nil || known {
		return res, err
	}
	if img, err := s.GetImage(ctx, digest); err == nil && img.Known {
		return res, nil // read already (a tagged image, a platform): not a referrer
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	ref := m.Host + "/" + repo + "@" + digest
	opt := FetchOptions{Insecure: m.Insecure, ImportMode: ModePreserveOriginal, Managed: true}
	subject, err := m.Client.Subject(ctx, ref, opt)
	if err != nil || subject == "" {
		return res, err
	}
	got, err := m.Client.Fetch(ctx, ref, opt)
	if err != nil {
		return res, err
	}
	r := store.Referrer{Subject: subject, Images: got.Images, Via: store.ViaSubject, Repository: stream.String()}
	err = s.Tx(ctx, func(tx *store.Store) error {
		changed, err := tx.RecordReferrer(ctx, r)
		if err != nil || !changed {
			return err
		}
		res.Changed, res.Referrer = true, subject
		return tx.Audit(ctx, store.AuditEvent{Actor: actor, Namespace: stream.Namespace, Action: "registry.referrer",
			Target: stream.String() + "@" + subject, Before: "none", After: digest})
	})
	return res, err
}
