// Package registry reads images from container registries with
// go-containerregistry — manifests, manifest lists and config blobs, never
// layers — and turns them into the store's snapshots; Import records them on
// an image stream tag.
package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/panics"
	"layerwise/store"
)

// UserAgent starts the User-Agent of every request Layerwise makes to a
// registry: the managed registry's pull notifications for Layerwise's own
// reads (a push read back, the sync) are told from real pulls by it.
const UserAgent = "layerwise"

// OwnRequest says whether a registry notification's request.useragent is
// one of Layerwise's own.
func OwnRequest(userAgent string) bool {
	first, _, _ := strings.Cut(userAgent, " ")
	return first == UserAgent || strings.HasPrefix(first, UserAgent+"/")
}

// DefaultTimeout bounds one Fetch: every request it makes to the registry.
const DefaultTimeout = 30 * time.Second

// DefaultPlatform is the image that Legacy import keeps from a manifest list.
const DefaultPlatform = "linux/amd64"

// The import modes of OpenShift's importPolicy.
const (
	ModeLegacy           = "Legacy"
	ModePreserveOriginal = "PreserveOriginal"
)

// FetchOptions say how to read one reference.
type FetchOptions struct {
	// Insecure allows plain HTTP and TLS certificates that do not verify.
	Insecure bool
	// ImportMode is Legacy (default: from a manifest list keep the image of
	// Platform only) or PreserveOriginal (keep the list and every child).
	ImportMode string
	// Platform is os/arch[/variant]; default linux/amd64.
	Platform string
	// Managed says the registry read is the one Layerwise counts, which
	// stores what it serves: a manifest list is read whole whatever
	// ImportMode says, and every manifest is recorded as a blob of its
	// own (Client.ManagedHost sets it for references to that host).
	Managed bool
	// Referrers also reads the signatures, SBOMs and attestations of the
	// image the tag gets (Result.Referrers): the referrers API, then
	// cosign's tags.
	Referrers bool
}

// Result is what a registry holds under a reference.
type Result struct {
	// Repository is registry/repository ("docker.io/library/busybox").
	Repository string
	// Digest is what the tag gets: the image's, or with PreserveOriginal the
	// manifest list's.
	Digest string
	// PullSpec is Repository@Digest.
	PullSpec string
	// Image is the snapshot of Digest.
	Image store.ImageSnapshot
	// Images are all the snapshots to record: a list's children first, then
	// Image last.
	Images []store.ImageSnapshot
	// SourceDigest is what the reference itself resolved to: for a manifest
	// list the list's digest, also when Legacy kept one platform's image.
	// A HEAD request on the reference answers it (see Checker).
	SourceDigest string
	// Managed says the images were read from the managed registry, as it
	// stores them (FetchOptions.Managed): their sizes are its facts.
	Managed bool
	// Referrers are Digest's referrers, with FetchOptions.Referrers.
	Referrers []store.Referrer
}

// Fetcher reads images from registries. *Client is the real one.
type Fetcher interface {
	Fetch(ctx context.Context, ref string, opt FetchOptions) (Result, error)
}

// Client is a Fetcher on go-containerregistry.
type Client struct {
	// AuthFile is a .dockerconfigjson file (LAYERWISE_REGISTRY_AUTH_FILE);
	// "" means anonymous. It is read on every Fetch, so a rotated secret
	// takes effect without a restart.
	AuthFile string
	// Timeout bounds one Fetch; 0 means DefaultTimeout.
	Timeout time.Duration
	// Transport is the base HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Destinations, when set, limits where the client connects
	// (LAYERWISE_IMPORT_ALLOW): the server's imports run on behalf of its
	// users. nil connects anywhere (the command line, the managed registry).
	Destinations *Destinations
	// ManagedHost is the managed registry's host[:port]
	// (LAYERWISE_REGISTRY_URL): a reference there is read as that registry
	// stores it (FetchOptions.Managed).
	ManagedHost string

	// insecure keeps the one TLS-unverifying copy of each base transport:
	// a copy per fetch had its own connection pool, so every push read from
	// a plain-HTTP registry opened a connection and left it idle for 90 s
	// (thousands under a burst, with their buffers and goroutines).
	insecureMu sync.Mutex
	insecure   map[*http.Transport]*http.Transport
}

// NewFetcher returns a Client with the credentials of authFile ("" for none).
func NewFetcher(authFile string) *Client { return &Client{AuthFile: authFile} }

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// NormalizeImportMode checks an import mode; "" is Legacy.
func NormalizeImportMode(mode string) (string, error) {
	switch strings.ToLower(mode) {
	case "", "legacy":
		return ModeLegacy, nil
	case "preserveoriginal":
		return ModePreserveOriginal, nil
	}
	return "", &Error{Reason: ReasonInvalidReference, kind: ErrInvalidReference,
		Msg: "valid ImportMode values are Legacy or PreserveOriginal"}
}

// Fetch reads ref ([registry/]repository[:tag][@digest]) and, for a
// manifest list, its children as opt.ImportMode says. It reads manifests
// and config blobs only.
func (c *Client) Fetch(ctx context.Context, ref string, opt FetchOptions) (Result, error) {
	mode, err := NormalizeImportMode(opt.ImportMode)
	if err != nil {
		return Result{}, err
	}
	plat := opt.Platform
	if plat == "" {
		plat = DefaultPlatform
	}
	want, err := v1.ParsePlatform(plat)
	if err != nil || want.OS == "" || want.Architecture == "" {
		return Result{}, &Error{Reason: ReasonInvalidReference, kind: ErrInvalidReference,
			Msg: fmt.Sprintf("platform %q: write os/arch[/variant], e.g. linux/amd64", plat)}
	}
	f, cancel, err := c.start(ctx, ref, opt)
	if err != nil {
		return Result{}, err
	}
	defer cancel()
	if f.managed {
		mode = ModePreserveOriginal
	}
	res, err := f.run(mode, *want)
	if err == nil && opt.Referrers {
		res.Referrers, err = f.referrersOf(res.Digest, true)
	}
	return res, f.fail(err)
}

// start prepares one read of ref: its name, credentials, deadline and
// puller. The caller calls cancel when done.
func (c *Client) start(ctx context.Context, ref string, opt FetchOptions) (*fetch, context.CancelFunc, error) {
	var nameOpts []name.Option
	if opt.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, nil, &Error{Reason: ReasonInvalidReference, kind: ErrInvalidReference,
			Msg: fmt.Sprintf("invalid image reference %q: %v; use [registry/]repository[:tag][@sha256:digest]", ref, err)}
	}
	f := &fetch{ref: ref, r: r, parent: ctx, timeout: c.timeout(), authFile: c.AuthFile, insecure: opt.Insecure}
	if opt.Managed || (c.ManagedHost != "" && r.Context().RegistryStr() == c.ManagedHost) {
		// The registry stores every platform of a list and every manifest:
		// record them as it stores them, whatever the import mode.
		f.managed = true
	}
	kc, err := loadKeychain(c.AuthFile)
	if err != nil {
		return nil, nil, &Error{Reason: ReasonUnauthorized, kind: ErrUnauthorized, Msg: err.Error()}
	}
	if a, _ := kc.Resolve(r.Context()); a != nil && a != authn.Anonymous {
		f.hasCreds = true
	}
	var cancel context.CancelFunc
	f.ctx, cancel = context.WithTimeout(ctx, f.timeout)
	opts := []remote.Option{remote.WithContext(f.ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(c.transport(opt.Insecure)),
		remote.WithUserAgent(UserAgent),
		// The cosign tags are read by name (referrersOf); the OCI fallback
		// tag sha256-<hex> would only cost a GET per image. The puller
		// keeps its own options, so this is set here, not per call.
		remote.WithReferrersTagFallback(false)}
	if f.puller, err = remote.NewPuller(opts...); err != nil {
		cancel()
		return nil, nil, f.fail(err)
	}
	f.opts = append(opts, remote.Reuse(f.puller))
	return f, cancel, nil
}

// Referrers reads the referrers of repo@digest through the referrers API
// only (the registry sync walks cosign's tags as tags), skipping those
// known says are recorded; ok is false when the registry has no such API.
func (c *Client) Referrers(ctx context.Context, repoAtDigest string, opt FetchOptions, known func(digest string) (bool, error)) (refs []store.Referrer, ok bool, err error) {
	f, cancel, err := c.start(ctx, repoAtDigest, opt)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	d, isDigest := f.r.(name.Digest)
	if !isDigest {
		return nil, false, &Error{Reason: ReasonInvalidReference, kind: ErrInvalidReference, Msg: fmt.Sprintf("%s names no digest", repoAtDigest)}
	}
	refs, err = f.apiReferrers(d.DigestStr(), known)
	if errors.Is(err, errNoReferrersAPI) {
		return nil, false, nil
	}
	return refs, err == nil, f.fail(err)
}

func (f *fetch) run(mode string, want v1.Platform) (Result, error) {
	desc, err := f.puller.Get(f.ctx, f.r)
	if err != nil {
		return Result{}, err
	}
	res, err := f.resolve(desc, mode, want)
	res.SourceDigest = desc.Digest.String()
	res.Managed = f.managed
	return res, err
}

func (c *Client) transport(insecure bool) http.RoundTripper {
	base := c.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	if c.Destinations != nil {
		base = c.Destinations.guard(base)
	}
	if !insecure {
		return base
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	c.insecureMu.Lock()
	defer c.insecureMu.Unlock()
	if it, ok := c.insecure[t]; ok {
		return it
	}
	it := t.Clone()
	if it.TLSClientConfig == nil {
		it.TLSClientConfig = &tls.Config{}
	}
	it.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for tags marked insecure
	if c.insecure == nil {
		c.insecure = map[*http.Transport]*http.Transport{}
	}
	c.insecure[t] = it
	return it
}

// fetch is one Fetch in progress.
type fetch struct {
	ref      string
	r        name.Reference
	parent   context.Context
	ctx      context.Context
	timeout  time.Duration
	authFile string
	hasCreds bool
	insecure bool
	managed  bool
	puller   *remote.Puller
	opts     []remote.Option
}

// stored records, for a read of the managed registry, the manifest as the
// registry stores it: a blob of its own (its digest the image's), with its
// bytes, and the image marked as that registry's (AnnotationManaged).
func (f *fetch) stored(snap *store.ImageSnapshot, desc *remote.Descriptor) {
	if !f.managed {
		return
	}
	snap.RawManifest = string(desc.Manifest)
	snap.Manifest = &store.BlobRef{Digest: snap.Digest, Size: int64(len(desc.Manifest)), MediaType: string(desc.MediaType)}
	snap.Annotations = map[string]string{store.AnnotationManaged: "true"}
}

// host is the registry as people write it.
func (f *fetch) host() string {
	h := f.r.Context().RegistryStr()
	if h == name.DefaultRegistry {
		return "docker.io"
	}
	return h
}

func (f *fetch) repository() string { return f.host() + "/" + f.r.Context().RepositoryStr() }

func (f *fetch) resolve(desc *remote.Descriptor, mode string, want v1.Platform) (Result, error) {
	repo := f.repository()
	switch {
	case desc.MediaType.IsImage():
		img, err := f.image(desc)
		if err != nil {
			return Result{}, err
		}
		return result(repo, img, []store.ImageSnapshot{img}), nil
	case desc.MediaType.IsIndex():
		list, children, err := f.index(desc)
		if err != nil {
			return Result{}, err
		}
		if mode == ModeLegacy {
			child, err := f.pick(list, children, want)
			if err != nil {
				return Result{}, err
			}
			img, err := f.child(child.Digest)
			if err != nil {
				return Result{}, err
			}
			return result(repo, img, []store.ImageSnapshot{img}), nil
		}
		imgs, err := f.children(list)
		if err != nil {
			return Result{}, err
		}
		return result(repo, list, append(imgs, list)), nil
	}
	return Result{}, f.unsupported(desc.MediaType, desc.Digest.String())
}

func result(repo string, img store.ImageSnapshot, all []store.ImageSnapshot) Result {
	return Result{Repository: repo, Digest: img.Digest, PullSpec: img.DockerImageReference, Image: img, Images: all}
}

func (f *fetch) unsupported(mt types.MediaType, digest string) error {
	if strings.HasPrefix(string(mt), "text/") {
		// A web page: whatever answered is not a registry.
		return f.unreachable(fmt.Sprintf("%s answered %s with %s", f.host(), f.ref, mt))
	}
	what := string(mt)
	if what == "" {
		what = "a manifest without a media type"
	}
	msg := fmt.Sprintf("%s (%s) is %s, not an image: only Docker schema 2 and OCI images and indexes can be imported", f.ref, digest, what)
	if mt.IsSchema1() {
		msg = fmt.Sprintf("%s is a Docker schema 1 manifest, which is not supported: push the image again with a current client", f.ref)
	}
	return &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed, Msg: msg}
}

func (f *fetch) malformed(digest string, err error) error {
	return &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
		Msg: fmt.Sprintf("registry %s sent a malformed manifest for %s (%s): %v", f.host(), f.ref, digest, err)}
}

// image reads an image manifest and its config.
func (f *fetch) image(desc *remote.Descriptor) (store.ImageSnapshot, error) {
	digest := desc.Digest.String()
	img, err := desc.Image()
	if err != nil {
		return store.ImageSnapshot{}, f.malformed(digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return store.ImageSnapshot{}, f.malformed(digest, err)
	}
	var cfg *v1.ConfigFile
	// An artifact (a Helm chart, a signature) has a config that is not an
	// image's: its sizes count, its metadata is not ours to read.
	if mt := m.Config.MediaType; mt == "" || mt.IsConfig() {
		if cfg, err = img.ConfigFile(); err != nil {
			if strings.Contains(err.Error(), "error verifying") {
				return store.ImageSnapshot{}, &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
					Msg: fmt.Sprintf("registry %s sent a config blob for %s that does not match its digest %s: %v", f.host(), f.ref, m.Config.Digest, err)}
			}
			return store.ImageSnapshot{}, fmt.Errorf("config blob %s of %s: %w", m.Config.Digest, f.ref, err)
		}
	}
	snap := imageSnapshot(f.repository(), digest, desc.MediaType, m, cfg)
	f.stored(&snap, desc)
	return snap, nil
}

// imageSnapshot is an image manifest (and its config, when known) as the
// store records it: layers in manifest order, duplicates kept.
func imageSnapshot(repo, digest string, mt types.MediaType, m *v1.Manifest, cfg *v1.ConfigFile) store.ImageSnapshot {
	snap := store.ImageSnapshot{
		Digest:               digest,
		MediaType:            string(mt),
		DockerImageReference: repo + "@" + digest,
		ConfigDigest:         m.Config.Digest.String(),
		Config:               &store.BlobRef{Digest: m.Config.Digest.String(), Size: m.Config.Size, MediaType: string(m.Config.MediaType)},
		ArtifactType:         m.ArtifactType,
	}
	if m.Subject != nil {
		// A signature, SBOM or attestation of that image (OCI 1.1).
		snap.Subject = m.Subject.Digest.String()
	}
	for _, l := range m.Layers {
		snap.Layers = append(snap.Layers, store.BlobRef{Digest: l.Digest.String(), Size: l.Size, MediaType: string(l.MediaType)})
	}
	if cfg != nil {
		snap.Meta = meta(cfg)
	}
	return snap
}

// meta is what an image config says about the image.
func meta(cfg *v1.ConfigFile) store.ImageMeta {
	m := store.ImageMeta{
		Architecture: cfg.Architecture,
		OS:           cfg.OS,
		Variant:      cfg.Variant,
		Author:       cfg.Author,
		Entrypoint:   cfg.Config.Entrypoint,
		Cmd:          cfg.Config.Cmd,
		Env:          cfg.Config.Env,
		Labels:       cfg.Config.Labels,
		User:         cfg.Config.User,
		WorkingDir:   cfg.Config.WorkingDir,
	}
	if !cfg.Created.IsZero() {
		t := cfg.Created.UTC()
		m.Created = &t
	}
	for p := range cfg.Config.ExposedPorts {
		m.Ports = append(m.Ports, p)
	}
	sort.Strings(m.Ports)
	return m
}

// index reads a manifest list (OCI index).
func (f *fetch) index(desc *remote.Descriptor) (store.ImageSnapshot, []v1.Descriptor, error) {
	digest := desc.Digest.String()
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return store.ImageSnapshot{}, nil, f.malformed(digest, err)
	}
	if len(im.Manifests) == 0 {
		return store.ImageSnapshot{}, nil, f.malformed(digest, fmt.Errorf("the manifest list is empty"))
	}
	list := listSnapshot(f.repository(), digest, desc.MediaType, im)
	f.stored(&list, desc)
	return list, im.Manifests, nil
}

// listSnapshot is a manifest list as the store records it.
func listSnapshot(repo, digest string, mt types.MediaType, im *v1.IndexManifest) store.ImageSnapshot {
	list := store.ImageSnapshot{Digest: digest, MediaType: string(mt), DockerImageReference: repo + "@" + digest}
	for _, m := range im.Manifests {
		ref := store.ManifestRef{Digest: m.Digest.String(), MediaType: string(m.MediaType), ManifestSize: m.Size}
		if p := m.Platform; p != nil {
			ref.OS, ref.Architecture, ref.Variant = p.OS, p.Architecture, p.Variant
		}
		list.Manifests = append(list.Manifests, ref)
	}
	return list
}

// pick chooses the child of a list that runs on want.
func (f *fetch) pick(list store.ImageSnapshot, children []v1.Descriptor, want v1.Platform) (store.ManifestRef, error) {
	var have []string
	for i, m := range list.Manifests {
		p := children[i].Platform
		if p == nil || p.OS == "unknown" {
			continue // attestations and the like
		}
		if p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant) {
			return m, nil
		}
		have = append(have, p.String())
	}
	platforms := "no platform images"
	if len(have) > 0 {
		platforms = strings.Join(have, ", ")
	}
	return store.ManifestRef{}, &Error{Reason: ReasonNotFound, kind: ErrNotFound,
		Msg: fmt.Sprintf("manifest list %s has no %s image (it has %s); import it with import mode PreserveOriginal to keep every platform",
			f.ref, want.String(), platforms)}
}

// child reads one image of a manifest list.
func (f *fetch) child(digest string) (store.ImageSnapshot, error) {
	d := f.r.Context().Digest(digest)
	desc, err := f.puller.Get(f.ctx, d)
	if err != nil {
		return store.ImageSnapshot{}, err
	}
	if !desc.MediaType.IsImage() {
		return store.ImageSnapshot{}, f.unsupported(desc.MediaType, digest)
	}
	return f.image(desc)
}

// children reads every image of a list, a few at a time.
func (f *fetch) children(list store.ImageSnapshot) ([]store.ImageSnapshot, error) {
	out := make([]store.ImageSnapshot, len(list.Manifests))
	errs := make([]error, len(list.Manifests))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, m := range list.Manifests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// Nothing above this goroutine would catch a panic.
			defer panics.Recover(&errs[i])
			out[i], errs[i] = f.child(m.Digest)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Subject reads just the manifest at repo@digest and says which image it
// names in its subject field ("" for none): a manifest pushed by digest
// alone is a referrer (a signature, an SBOM) when it names one. Its image
// is read only then.
func (c *Client) Subject(ctx context.Context, repoAtDigest string, opt FetchOptions) (string, error) {
	f, cancel, err := c.start(ctx, repoAtDigest, opt)
	if err != nil {
		return "", err
	}
	defer cancel()
	desc, err := f.puller.Get(f.ctx, f.r)
	if err != nil {
		return "", f.fail(err)
	}
	var m struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return "", f.fail(f.malformed(repoAtDigest, fmt.Errorf("its manifest: %w", err)))
	}
	if m.Subject == nil {
		return "", nil
	}
	if err := store.ValidateDigest(m.Subject.Digest); err != nil {
		return "", f.fail(f.malformed(repoAtDigest, fmt.Errorf("its subject: %w", err)))
	}
	return m.Subject.Digest, nil
}
