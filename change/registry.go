package change

import (
	"context"
	"time"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// System is a principal of the server itself, such as the registry's
// notifications (system:registry): it acts on every namespace. Account
// names cannot hold a colon, so no account can pass for one.
func System(name string) *store.Principal {
	return &store.Principal{User: name, PlatformAdmin: true}
}

// ApplyPush records a tagged manifest push the managed registry m
// announced (registry.Managed.ApplyPush: read back, recorded, audited as
// p when the history changed, in one transaction). Platform principals only.
func (svc *Service) ApplyPush(ctx context.Context, p *store.Principal, m *registry.Managed, repo, tag, digest string, at time.Time) (store.PushResult, error) {
	if err := NeedPlatformAdmin(p, "record registry pushes"); err != nil {
		return store.PushResult{}, err
	}
	res, err := m.ApplyPush(ctx, svc.Store, repo, tag, digest, at, p.User)
	svc.finish(err, res.Changed)
	return res, err
}

// ApplyPushes records the tagged pushes of one notification envelope in
// one transaction (registry.Managed.ApplyPushes). Platform principals only.
func (svc *Service) ApplyPushes(ctx context.Context, p *store.Principal, m *registry.Managed, reqs []registry.PushRequest) ([]registry.PushOutcome, error) {
	if err := NeedPlatformAdmin(p, "record registry pushes"); err != nil {
		return nil, err
	}
	out, err := m.ApplyPushes(ctx, svc.Store, reqs, p.User)
	changed := false
	for _, o := range out {
		changed = changed || o.Result.Changed
	}
	svc.finish(err, changed)
	return out, err
}

// ApplyDigestPush records a manifest the managed registry m announced as
// pushed by digest alone: a referrer (a manifest with a subject) is
// attached to its subject (registry.Managed.ApplyDigestPush, audited as p
// when new); anything else changes nothing. Platform principals only.
func (svc *Service) ApplyDigestPush(ctx context.Context, p *store.Principal, m *registry.Managed, repo, digest string) (store.PushResult, error) {
	if err := NeedPlatformAdmin(p, "record registry pushes"); err != nil {
		return store.PushResult{}, err
	}
	res, err := m.ApplyDigestPush(ctx, svc.Store, repo, digest, p.User)
	svc.finish(err, res.Changed)
	return res, err
}

// ApplyDelete removes a manifest the managed registry deleted from the
// history of repo's stream, audited as p when something was removed.
func (svc *Service) ApplyDelete(ctx context.Context, p *store.Principal, m *registry.Managed, repo, digest string) (int64, error) {
	if err := NeedPlatformAdmin(p, "record registry deletes"); err != nil {
		return 0, err
	}
	n, err := m.ApplyDelete(ctx, svc.Store, repo, digest, p.User)
	svc.finish(err, n > 0)
	return n, err
}
