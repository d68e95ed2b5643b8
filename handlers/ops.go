package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// ErrForbidden is returned when the principal lacks the role an action needs.
var ErrForbidden = errors.New("forbidden")

// forbidden says which role is missing, in words a person can act on.
func forbidden(p *store.Principal, ns string, need store.Role) error {
	who := "a logged-in user"
	if p != nil {
		who = p.User
	}
	return fmt.Errorf("%w: %s needs the %s role in namespace %s to do this (ask a namespace admin)", ErrForbidden, who, need, ns)
}

// Ops are the changes the browser and the API make. Each checks the role,
// makes the change and writes its audit record in one transaction: no
// change without its record, no record without its change.
type Ops struct {
	Store *store.Store
	// Changed is called after a successful change (the usage cache).
	Changed func()
	// Mirror writes tag, promote and rollback through to the managed
	// registry (LAYERWISE_REGISTRY_URL); nil: there is none. It runs last
	// in the change's transaction: a registry that refuses the write
	// refuses the change, and nothing is written to the database.
	Mirror *registry.Mirror

	cache pageCache // pages' reads, invalidated by every change here
}

func (o *Ops) need(p *store.Principal, ns string, role store.Role) error {
	if p == nil || !p.Can(ns, role) {
		return forbidden(p, ns, role)
	}
	return nil
}

// Refresh tells the pages that data changed outside Ops (the scheduled
// import): the page cache starts over and usage is recomputed.
func (o *Ops) Refresh() { o.done() }

func (o *Ops) done() {
	o.cache.bump()
	if o.Changed != nil {
		o.Changed()
	}
}

// SetTag is `oc tag`: editor in the destination namespace and, for a
// source in another namespace, editor there too (docs/REFERENCE.md,
// "Roles": promoting across namespaces needs editor rights on both).
func (o *Ops) SetTag(ctx context.Context, p *store.Principal, src store.Source, dst store.TagRef, opt store.TagOptions) (store.TagResult, error) {
	if err := o.need(p, dst.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	if src.Kind != store.KindDockerImage && src.Namespace != dst.Namespace {
		if err := o.need(p, src.Namespace, store.RoleEditor); err != nil {
			return store.TagResult{}, err
		}
	}
	if src.Kind == store.KindDockerImage {
		if err := o.needRepository(p, src.Ref, dst.Namespace); err != nil {
			return store.TagResult{}, err
		}
	}
	// A source by digest in the managed registry is read from it (the
	// registry is the source of truth); any other is linked only if the
	// namespace holds it already (store.SetTag).
	verified, err := o.Mirror.Verify(ctx, src, opt)
	if err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err = o.Store.Tx(ctx, func(tx *store.Store) error {
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
		if err := tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: dst.Namespace, Action: action, Target: dst.String(),
			Before: before, After: afterOf(res) + " from " + src.String()}); err != nil {
			return err
		}
		return o.Mirror.Publish(ctx, tx, dst, res)
	})
	if err == nil {
		o.done()
	}
	return res, err
}

// needRepository checks that a pull spec naming a repository of the
// managed registry names one of a namespace where p may take images from,
// as a stream source in another namespace needs (editor there): Layerwise
// reads that registry with its own credentials, so without this check it
// would read, and write through, another namespace's images on anyone's
// behalf. A repository that belongs to no namespace is for platform admins.
func (o *Ops) needRepository(p *store.Principal, ref, dstNS string) error {
	ns, managed := o.Mirror.Namespace(ref)
	switch {
	case !managed || ns == dstNS:
		return nil
	case ns == "":
		if p != nil && p.PlatformAdmin {
			return nil
		}
		who := "a logged-in user"
		if p != nil {
			who = p.User
		}
		return fmt.Errorf("%w: %s names a repository of the managed registry that belongs to no namespace; only a platform admin may use it, %s is not one",
			ErrForbidden, ref, who)
	}
	return o.need(p, ns, store.RoleEditor)
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
func (o *Ops) Promote(ctx context.Context, p *store.Principal, ref store.StreamRef, from, to string) (store.TagResult, error) {
	if err := o.need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
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
		if err := tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.promote",
			Target: dst.String(), Before: before, After: afterOf(res) + " from :" + from}); err != nil {
			return err
		}
		return o.Mirror.Publish(ctx, tx, dst, res)
	})
	if err == nil {
		o.done()
	}
	return res, err
}

// Rollback makes an image of the tag's history current again, editor only.
func (o *Ops) Rollback(ctx context.Context, p *store.Principal, ref store.TagRef, digest string) (store.TagResult, error) {
	if err := o.need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	var res store.TagResult
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.CurrentImage(ctx, ref)
		if err != nil {
			return err
		}
		if res, err = tx.Rollback(ctx, ref, digest); err != nil {
			return err
		}
		if err := tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.rollback",
			Target: ref.String(), Before: before, After: afterOf(res)}); err != nil {
			return err
		}
		return o.Mirror.Publish(ctx, tx, ref, res)
	})
	if err == nil {
		o.done()
	}
	return res, err
}

// DeleteTag removes a tag and its history, editor only. It is not
// written through: the distribution registry cannot delete a tag without
// deleting its manifest by digest, which would take every other tag on
// that image (and the rollback target) with it. The registry's tag stays
// until prune deletes the image's manifest (when no remaining tag of the
// repository points at it).
func (o *Ops) DeleteTag(ctx context.Context, p *store.Principal, ref store.TagRef) error {
	if err := o.need(p, ref.Namespace, store.RoleEditor); err != nil {
		return err
	}
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
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
	if err == nil {
		o.done()
	}
	return err
}

// SetNamespace changes contacts, threshold or ladder: namespace admin only.
func (o *Ops) SetNamespace(ctx context.Context, p *store.Principal, ns string, set store.NamespaceSettings) error {
	if err := o.need(p, ns, store.RoleAdmin); err != nil {
		return err
	}
	defer o.done()
	return o.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.GetNamespace(ctx, ns)
		if err != nil {
			return err
		}
		if err := tx.SetNamespace(ctx, ns, set); err != nil {
			return err
		}
		after, _ := tx.GetNamespace(ctx, ns)
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "namespace.settings", Target: ns,
			Before: settingsText(before), After: settingsText(after)})
	})
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

// SetRetentionRules replaces a namespace's retention rules (none: remove
// them): namespace admin only.
func (o *Ops) SetRetentionRules(ctx context.Context, p *store.Principal, ns string, rules []store.RetentionRule) error {
	if err := o.need(p, ns, store.RoleAdmin); err != nil {
		return err
	}
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.SetRetentionRules(ctx, ns, rules)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "namespace.retention", Target: ns,
			Before: store.RulesSummary(before), After: store.RulesSummary(rules)})
	})
	if err == nil {
		o.done()
	}
	return err
}

// SetRole binds (or with RoleNone unbinds) a user in a namespace: admin only.
func (o *Ops) SetRole(ctx context.Context, p *store.Principal, ns, user string, role store.Role) error {
	if err := o.need(p, ns, store.RoleAdmin); err != nil {
		return err
	}
	defer o.done()
	return o.Store.Tx(ctx, func(tx *store.Store) error {
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
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: action, Target: user, Before: before, After: role.String()})
	})
}

// SetScheduled toggles periodic re-import of an external tag, editor only.
func (o *Ops) SetScheduled(ctx context.Context, p *store.Principal, ref store.TagRef, on bool) error {
	if err := o.need(p, ref.Namespace, store.RoleEditor); err != nil {
		return err
	}
	defer o.done()
	return o.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.SetScheduled(ctx, ref, on); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "tag.scheduled",
			Target: ref.String(), Before: fmt.Sprint(!on), After: fmt.Sprint(on)})
	})
}

// Import reads an external image into a tag (from "" re-imports the tag's
// own DockerImage source): editor only. registry.Import writes the images,
// the tag, its history, aliases that follow and the audit event in one
// transaction; a registry failure leaves ImportSuccess=False on an existing
// tag and nothing else.
func (o *Ops) Import(ctx context.Context, p *store.Principal, f registry.Fetcher, ref store.TagRef, from string, opt registry.ImportOptions) (store.TagResult, error) {
	if err := o.need(p, ref.Namespace, store.RoleEditor); err != nil {
		return store.TagResult{}, err
	}
	src := from
	if src == "" {
		// Re-importing the tag's own source reads what its spec names.
		src = o.specOf(ctx, ref)
	}
	if err := o.needRepository(p, src, ref.Namespace); err != nil {
		return store.TagResult{}, err
	}
	opt.Actor = p.User
	res, err := registry.Import(ctx, o.Store, f, ref, from, opt)
	var rerr *registry.Error
	if err == nil || errors.As(err, &rerr) {
		// A failure changed the tag's condition: pages must show it.
		o.done()
	}
	return res, err
}

// specOf is the DockerImage pull spec a tag is defined from, "" when it
// has none (or the tag cannot be read: the import then says why).
func (o *Ops) specOf(ctx context.Context, ref store.TagRef) string {
	st, err := o.Store.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
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
// prod"): prune never removes it. Editor only.
func (o *Ops) Pin(ctx context.Context, p *store.Principal, ns, digest, note string) error {
	if err := o.need(p, ns, store.RoleEditor); err != nil {
		return err
	}
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.PinImage(ctx, ns, digest, note, p.User)
		if err != nil {
			return err
		}
		was := "unpinned"
		if before != nil {
			was = "pinned: " + before.Note
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "image.pin", Target: ns + "@" + digest,
			Before: was, After: "pinned: " + note})
	})
	if err == nil {
		o.done()
	}
	return err
}

// Unpin removes a pin, editor only.
func (o *Ops) Unpin(ctx context.Context, p *store.Principal, ns, digest string) error {
	if err := o.need(p, ns, store.RoleEditor); err != nil {
		return err
	}
	err := o.Store.Tx(ctx, func(tx *store.Store) error {
		was, err := tx.UnpinImage(ctx, ns, digest)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "image.unpin", Target: ns + "@" + digest,
			Before: "pinned: " + was.Note, After: "unpinned"})
	})
	if err == nil {
		o.done()
	}
	return err
}
