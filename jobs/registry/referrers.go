package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"layerwise/store"
)

// errNoReferrersAPI says the registry does not serve
// GET /v2/<name>/referrers/<digest> (Debian's docker-registry 2.8).
var errNoReferrersAPI = errors.New("the registry has no referrers API")

// referrersOf reads what refers to subject in f's repository: the OCI
// referrers API and, with tags, cosign's tags sha256-<hex>.sig|.att|.sbom
// (how signatures live on registries without the API). At most
// store.MaxReferrersPerSubject are read; a registry listing more is
// refused with a named error.
func (f *fetch) referrersOf(subject string, tags bool) ([]store.Referrer, error) {
	out, err := f.apiReferrers(subject, nil)
	if err != nil && !errors.Is(err, errNoReferrersAPI) {
		return nil, err
	}
	if !tags {
		return out, nil
	}
	for _, suffix := range []string{"sig", "att", "sbom"} {
		tag := strings.Replace(subject, ":", "-", 1) + "." + suffix
		desc, err := f.puller.Get(f.ctx, f.r.Context().Tag(tag))
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the cosign tag %s: %w", tag, err)
		}
		if !desc.MediaType.IsImage() {
			continue // an index under a cosign tag: not cosign's
		}
		img, err := f.image(desc)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Referrer{Subject: subject, Images: []store.ImageSnapshot{img}, Via: store.ViaTagScheme, Tag: tag})
	}
	return out, nil
}

// apiReferrers reads subject's referrers through the referrers API
// (errNoReferrersAPI when the registry lacks it), skipping those known
// says are recorded already (nil: none).
func (f *fetch) apiReferrers(subject string, known func(digest string) (bool, error)) ([]store.Referrer, error) {
	idx, err := remote.Referrers(f.r.Context().Digest(subject), f.opts...)
	if err != nil {
		var te *transport.Error
		// 404, 400, 405, 406: the registry has no such endpoint.
		if strings.Contains(err.Error(), "does not support the Referrers API") || errors.As(err, &te) && te.StatusCode >= 400 && te.StatusCode < 500 &&
			te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden && te.StatusCode != http.StatusTooManyRequests {
			return nil, errNoReferrersAPI
		}
		return nil, fmt.Errorf("read the referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, f.malformed(subject, fmt.Errorf("its referrers list: %w", err))
	}
	if n := len(im.Manifests); n > store.MaxReferrersPerSubject {
		return nil, &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
			Msg: fmt.Sprintf("registry %s lists %d referrers of %s; Layerwise records at most %d for one image (%v)",
				f.host(), n, subject, store.MaxReferrersPerSubject, store.ErrTooManyReferrers)}
	}
	var out []store.Referrer
	for _, m := range im.Manifests {
		if !m.MediaType.IsImage() {
			continue // an index as a referrer: not read (rare)
		}
		if known != nil {
			if ok, err := known(m.Digest.String()); err != nil || ok {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		desc, err := f.puller.Get(f.ctx, f.r.Context().Digest(m.Digest.String()))
		if err != nil {
			return nil, err
		}
		img, err := f.image(desc)
		if err != nil {
			return nil, err
		}
		if img.Subject != subject {
			// The registry listed a manifest whose subject is another image.
			return nil, f.malformed(m.Digest.String(), fmt.Errorf("listed as a referrer of %s, its subject is %q", subject, img.Subject))
		}
		out = append(out, store.Referrer{Subject: subject, Images: []store.ImageSnapshot{img}, Via: store.ViaSubject})
	}
	return out, nil
}
