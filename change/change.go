// Package change is the one way the data changes. The browser's forms, the
// JSON API, the registry webhook and the command line all call a Service:
// it checks the principal's role, validates, makes the change in one
// transaction together with exactly one audit event (none when nothing
// changed), writes tag changes through to the managed registry, and then
// tells whoever registered with OnChange (the page cache, the threshold alerts).
package change

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// ErrForbidden is returned when the principal lacks the role an action needs.
var ErrForbidden = errors.New("forbidden")

// Need is the role check of every change: p holds at least role in ns. A
// nil principal (an install without accounts) may change nothing.
func Need(p *store.Principal, ns string, role store.Role) error {
	if p == nil || !p.Can(ns, role) {
		return forbidden(p, ns, role)
	}
	return nil
}

// NeedPlatformAdmin is the check of changes that belong to no namespace
// (accounts, prune, whole dumps, registry events).
func NeedPlatformAdmin(p *store.Principal, what string) error {
	if p != nil && p.PlatformAdmin {
		return nil
	}
	return fmt.Errorf("%w: %s needs a platform admin to %s", ErrForbidden, who(p), what)
}

func who(p *store.Principal) string {
	if p == nil {
		return "a logged-in user"
	}
	return p.User
}

// forbidden says which role is missing, in words a person can act on.
func forbidden(p *store.Principal, ns string, need store.Role) error {
	return fmt.Errorf("%w: %s needs the %s role in namespace %s to do this (ask a namespace admin)", ErrForbidden, who(p), need, ns)
}

// Service makes the changes. Each checks the role, makes the change and
// writes its audit record in one transaction: no change without its
// record, no record without its change, and no record for a change that
// changed nothing.
type Service struct {
	Store *store.Store
	// Mirror writes tag, promote and rollback through to the managed
	// registry (LAYERWISE_REGISTRY_URL); nil: there is none. It runs last
	// in the change's transaction: a registry that refuses the write
	// refuses the change, and nothing is written to the database.
	Mirror *registry.Mirror

	mu          sync.RWMutex
	hooks       []func()
	policyHooks []func()
}

// OnPolicyChange registers fn to run after a change to what the prune
// policy keeps (a namespace's settings, its retention rules, pins): the
// stored plan figures are recomputed then, not only on their schedule.
func (svc *Service) OnPolicyChange(fn func()) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.policyHooks = append(svc.policyHooks, fn)
}

// policyChanged runs the policy hooks after a change that changed something.
func (svc *Service) policyChanged(err error, changed bool) {
	if err != nil || !changed {
		return
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	for _, fn := range svc.policyHooks {
		fn()
	}
}

// New is a Service over s, writing tags through to m (nil: no managed
// registry).
func New(s *store.Store, m *registry.Mirror) *Service {
	return &Service{Store: s, Mirror: m}
}

// OnChange registers fn to run after every change made through the
// Service, and on Notify: the server's page cache and threshold alerts.
func (svc *Service) OnChange(fn func()) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.hooks = append(svc.hooks, fn)
}

// Notify tells the hooks that data changed outside the Service (the
// scheduled import, sync and prune): pages start over and usage is
// recomputed.
func (svc *Service) Notify() { svc.done() }

func (svc *Service) done() {
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	for _, fn := range svc.hooks {
		fn()
	}
}

// finish runs the hooks after a change that changed something.
func (svc *Service) finish(err error, changed bool) {
	if err == nil && changed {
		svc.done()
	}
}

// audit writes a change's one event; a change that changed nothing has none.
func audit(ctx context.Context, tx *store.Store, changed bool, ev store.AuditEvent) error {
	if !changed {
		return nil
	}
	return tx.Audit(ctx, ev)
}

// SetTag is `oc tag`: editor in the destination namespace and, for a
// source in another namespace, editor there too (docs/REFERENCE.md,
// "Roles": promoting across namespaces needs editor rights on both).
func (svc *Service) SetTag(ctx context.Context, p *store.Principal, src store.Source, dst store.TagRef, opt store.TagOptions) (store.TagResult, error) {
	if err := Need(p, dst.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	if src.Kind != store.KindDockerImage && src.Namespace != dst.Namespace {
		if err := Need(p, src.Namespace, store.RoleEditor); err != nil {
			return store.TagResult{}, err
		}
	}
	if src.Kind == store.KindDockerImage {
		if err := svc.needRepository(p, src.Ref, dst.Namespace); err != nil {
			return store.TagResult{}, err
		}
	}
	// A source by digest in the managed registry is read from it (the
	// registry is the source of truth); any other is linked only if the
	// namespace holds it already (store.SetTag).
	verified, err := svc.Mirror.Verify(ctx, src, opt)
	if err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err = svc.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.CurrentImage(ctx, dst)
		if err != nil {
			return err
		}
		if err := registry.RecordVerified(ctx, tx, verified, &opt); err != nil {
			return err
		}
		if res, err = tx.SetTag(ctx, src, dst, opt); err != nil {
			return err
		}
		action := "tag.set"
		if opt.Alias {
			action = "tag.alias"
		}
		if err := audit(ctx, tx, !res.NoOp(), store.AuditEvent{Actor: p.User, Namespace: dst.Namespace, Action: action, Target: dst.String(),
			Before: before, After: afterOf(res) + " from " + src.String()}); err != nil {
			return err
		}
		return svc.Mirror.Publish(ctx, tx, dst, res)
	})
	svc.finish(err, !res.NoOp())
	return res, err
}

// needRepository checks that a pull spec naming a repository of the
// managed registry names one of a namespace where p may take images from,
// as a stream source in another namespace needs (editor there): Layerwise
// reads that registry with its own credentials, so without this check it
// would read, and write through, another namespace's images on anyone's
// behalf. A repository that belongs to no namespace is for platform admins.
func (svc *Service) needRepository(p *store.Principal, ref, dstNS string) error {
	ns, managed := svc.Mirror.Namespace(ref)
	switch {
	case !managed || ns == dstNS:
		return nil
	case ns == "":
		if p != nil && p.PlatformAdmin {
			return nil
		}
		return fmt.Errorf("%w: %s names a repository of the managed registry that belongs to no namespace; only a platform admin may use it, %s is not one",
			ErrForbidden, ref, who(p))
	}
	return Need(p, ns, store.RoleEditor)
}

func afterOf(res store.TagResult) string {
	if res.Image != "" {
		return res.Image
	}
	if res.Ref != "" {
		return res.Ref
	}
	return "none"
}

// Promote copies a tag to the next step of the ladder (or to), editor only.
func (svc *Service) Promote(ctx context.Context, p *store.Principal, ref store.StreamRef, from, to string) (store.TagResult, error) {
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		dstTag := to
		if dstTag == "" {
			if dstTag, err = tx.NextRung(ctx, ref.Namespace, from); err != nil {
				return err
			}
		}
		dst := store.TagRef{Namespace: ref.Namespace, Stream: ref.Stream, Tag: dstTag}
		before, err := tx.CurrentImage(ctx, dst)
		if err != nil {
			return err
		}
		if res, err = tx.Promote(ctx, ref, from, dstTag); err != nil {
			return err
		}
		if err := audit(ctx, tx, !res.NoOp(), store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.promote",
			Target: dst.String(), Before: before, After: afterOf(res) + " from :" + from}); err != nil {
			return err
		}
		return svc.Mirror.Publish(ctx, tx, dst, res)
	})
	svc.finish(err, !res.NoOp())
	return res, err
}

// Rollback makes an image of the tag's history current again, editor only.
func (svc *Service) Rollback(ctx context.Context, p *store.Principal, ref store.TagRef, digest string) (store.TagResult, error) {
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.CurrentImage(ctx, ref)
		if err != nil {
			return err
		}
		if res, err = tx.Rollback(ctx, ref, digest); err != nil {
			return err
		}
		if err := audit(ctx, tx, !res.NoOp(), store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.rollback",
			Target: ref.String(), Before: before, After: afterOf(res)}); err != nil {
			return err
		}
		return svc.Mirror.Publish(ctx, tx, ref, res)
	})
	svc.finish(err, !res.NoOp())
	return res, err
}

// DeleteTag removes a tag and its history, editor only. It is not
// written through: the distribution registry cannot delete a tag without
// deleting its manifest by digest, which would take every other tag on
// that image (and the rollback target) with it. The registry's tag stays
// until prune deletes the image's manifest (when no remaining tag of the
// repository points at it).
func (svc *Service) DeleteTag(ctx context.Context, p *store.Principal, ref store.TagRef) error {
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return err
	}
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.CurrentImage(ctx, ref)
		if err != nil {
			return err
		}
		if err := tx.DeleteTag(ctx, ref); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.delete",
			Target: ref.String(), Before: before, After: "none"})
	})
	svc.finish(err, true)
	return err
}

// SetNamespace changes contacts, threshold, ladder or prune policy:
// namespace admin only. A namespace that does not exist yet is created
// (contacts may be known before the first push); only a platform admin
// holds a role there. It reports whether anything changed.
func (svc *Service) SetNamespace(ctx context.Context, p *store.Principal, ns string, set store.NamespaceSettings) (bool, error) {
	if err := Need(p, ns, store.RoleAdmin); err != nil {
		return false, err
	}
	var changed bool
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		before := "none"
		switch n, err := tx.GetNamespace(ctx, ns); {
		case err == nil:
			before = settingsText(n)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.SetNamespace(ctx, ns, set); err != nil {
			return err
		}
		n, err := tx.GetNamespace(ctx, ns)
		if err != nil {
			return err
		}
		after := settingsText(n)
		changed = after != before
		return audit(ctx, tx, changed, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "namespace.settings", Target: ns,
			Before: before, After: after})
	})
	svc.finish(err, changed)
	svc.policyChanged(err, changed)
	return changed, err
}

func settingsText(n store.Namespace) string {
	th := "default"
	if n.ThresholdBytes != nil {
		th = fmt.Sprint(*n.ThresholdBytes)
	}
	keep, younger := "default", "default"
	if n.PruneKeepTagRevisions != nil {
		keep = fmt.Sprint(*n.PruneKeepTagRevisions)
	}
	if n.PruneKeepYoungerThan != nil {
		younger = (time.Duration(*n.PruneKeepYoungerThan) * time.Second).String()
	}
	return fmt.Sprintf("contacts=%s threshold=%s ladder=%s keep-tag-revisions=%s keep-younger-than=%s", n.Contacts, th, n.Ladder, keep, younger)
}

// SetRole binds (or with RoleNone unbinds) a user in a namespace: admin
// only. The account must exist. It reports whether the role changed.
func (svc *Service) SetRole(ctx context.Context, p *store.Principal, ns, user string, role store.Role) (bool, error) {
	if err := Need(p, ns, store.RoleAdmin); err != nil {
		return false, err
	}
	var changed bool
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		if role != store.RoleNone {
			if _, err := tx.GetUser(ctx, user); errors.Is(err, store.ErrNotFound) {
				return invalidf("there is no account named “%s”: create it first (layerwise user add %s), or let them log in once through single sign-on", user, user)
			} else if err != nil {
				return err
			}
		}
		members, err := tx.Members(ctx, ns)
		if err != nil {
			return err
		}
		before := store.RoleNone.String()
		for _, m := range members {
			if m.User == user {
				before = m.Role
			}
		}
		if before == role.String() {
			return nil
		}
		action := "rolebinding.add"
		if role == store.RoleNone {
			action = "rolebinding.remove"
			err = tx.RemoveRoleBinding(ctx, ns, user)
		} else {
			err = tx.AddRoleBinding(ctx, ns, user, role)
		}
		if err != nil {
			return err
		}
		changed = true
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: action, Target: user, Before: before, After: role.String()})
	})
	svc.finish(err, changed)
	return changed, err
}

// SetScheduled toggles periodic re-import of an external tag, editor
// only. It reports whether the setting changed.
func (svc *Service) SetScheduled(ctx context.Context, p *store.Principal, ref store.TagRef, on bool) (bool, error) {
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return false, err
	}
	var changed bool
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if changed, err = tx.SetScheduled(ctx, ref, on); err != nil {
			return err
		}
		return audit(ctx, tx, changed, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.scheduled",
			Target: ref.String(), Before: fmt.Sprint(!on), After: fmt.Sprint(on)})
	})
	svc.finish(err, changed)
	return changed, err
}

// Import reads an external image into a tag (from "" re-imports the tag's
// own DockerImage source): editor only. registry.Import writes the images,
// the tag, its history, aliases that follow and the audit event (none when
// the tag stays as it was) in one transaction; the scheduled import shares
// it. A registry failure leaves ImportSuccess=False on an existing tag and
// nothing else.
func (svc *Service) Import(ctx context.Context, p *store.Principal, f registry.Fetcher, ref store.TagRef, from string, opt registry.ImportOptions) (store.TagResult, error) {
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	src := from
	if src == "" {
		// Re-importing the tag's own source reads what its spec names.
		src = svc.specOf(ctx, ref)
	}
	if err := svc.needRepository(p, src, ref.Namespace); err != nil {
		return store.TagResult{}, err
	}
	opt.Actor = p.User
	res, err := registry.Import(ctx, svc.Store, f, ref, from, opt)
	var rerr *registry.Error
	if err == nil && !res.NoOp() || errors.As(err, &rerr) {
		// A failure changed the tag's condition: pages must show it.
		svc.done()
	}
	return res, err
}

// specOf is the DockerImage pull spec a tag is defined from, "" when it
// has none (or the tag cannot be read: the import then says why).
func (svc *Service) specOf(ctx context.Context, ref store.TagRef) string {
	st, err := svc.Store.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		return ""
	}
	for _, t := range st.Tags {
		if t.Name == ref.Tag && t.From != nil && t.From.Kind == store.KindDockerImage {
			return t.From.Name
		}
	}
	return ""
}

// Pin pins an image in a namespace with a note ("used by deployment api in
// prod"): prune never removes it. Editor only. Pinning again with the
// same note changes nothing; it reports whether anything changed.
func (svc *Service) Pin(ctx context.Context, p *store.Principal, ns, digest, note string) (bool, error) {
	if err := Need(p, ns, store.RoleEditor); err != nil {
		return false, err
	}
	note = strings.TrimSpace(note) // as the pin keeps it
	var changed bool
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.PinImage(ctx, ns, digest, note, p.User)
		if err != nil {
			return err
		}
		was := "unpinned"
		if before != nil {
			was = "pinned: " + before.Note
		}
		changed = before == nil || before.Note != note
		return audit(ctx, tx, changed, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "image.pin", Target: ns + "@" + digest,
			Before: was, After: "pinned: " + note})
	})
	svc.finish(err, changed)
	svc.policyChanged(err, changed)
	return changed, err
}

// Unpin removes a pin, editor only.
func (svc *Service) Unpin(ctx context.Context, p *store.Principal, ns, digest string) error {
	if err := Need(p, ns, store.RoleEditor); err != nil {
		return err
	}
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		was, err := tx.UnpinImage(ctx, ns, digest)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "image.unpin", Target: ns + "@" + digest,
			Before: "pinned: " + was.Note, After: "unpinned"})
	})
	svc.finish(err, true)
	svc.policyChanged(err, true)
	return err
}

// invalid is a refusal of the Service's own: it reads as its message and
// matches store.ErrInvalid (a 400, a usage mistake).
type invalid struct{ msg string }

func (e invalid) Error() string   { return e.msg }
func (e invalid) Is(t error) bool { return t == store.ErrInvalid }

func invalidf(format string, a ...any) error { return invalid{fmt.Sprintf(format, a...)} }
