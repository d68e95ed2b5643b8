package change

import (
	"context"
	"fmt"
	"io"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

// CreateStream creates an empty image stream, editor only (the namespace
// is created with it, which only a platform admin can reach).
func (svc *Service) CreateStream(ctx context.Context, p *store.Principal, ref store.StreamRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return err
	}
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateStream(ctx, ref); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "stream.create",
			Target: ref.String(), Before: "none", After: "empty"})
	})
	svc.finish(err, true)
	return err
}

// DeleteStream deletes a stream with its tags and history, editor only.
// Its images stay until prune; like a deleted tag it is not written
// through (see DeleteTag).
func (svc *Service) DeleteStream(ctx context.Context, p *store.Principal, ref store.StreamRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := Need(p, ref.Namespace, store.RoleEditor); err != nil {
		return err
	}
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		st, err := tx.GetStream(ctx, ref)
		if err != nil {
			return err
		}
		if err := tx.DeleteStream(ctx, ref); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Namespace: ref.Namespace, Action: "stream.delete",
			Target: ref.String(), Before: fmt.Sprintf("%d tags", len(st.Tags)), After: "none"})
	})
	svc.finish(err, true)
	return err
}

// ImportDump reads one `oc get is,images -o json|yaml` dump and applies it
// in one transaction (a bad file writes nothing): platform admin only, as
// a dump holds images, which belong to no namespace, and streams of any
// namespace. It writes one audit event "dump.import" naming the file, or
// none when the dump changed nothing.
func (svc *Service) ImportDump(ctx context.Context, p *store.Principal, name string, r io.Reader, opt openshift.Options) (openshift.Summary, error) {
	if err := NeedPlatformAdmin(p, "import whole dumps"); err != nil {
		return openshift.Summary{}, err
	}
	objs, err := openshift.Decode(name, r, opt)
	if err != nil {
		return openshift.Summary{}, err
	}
	var sum openshift.Summary
	err = svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if sum, err = openshift.Apply(ctx, tx, objs); err != nil {
			return err
		}
		return audit(ctx, tx, sum.Changed(), store.AuditEvent{Actor: p.User, Action: "dump.import", Target: name,
			Before: "", After: fmt.Sprintf("%d image streams (%d changed), %d images (%d new or changed), %d mappings (%d changed)%s",
				sum.Streams, sum.StreamsChanged, sum.Images, sum.ImagesChanged, sum.Mappings, sum.MappingsChanged, referrersNote(sum))})
	})
	if err != nil {
		return sum, fmt.Errorf("%s: %w (nothing from this file was written)", name, err)
	}
	svc.finish(err, sum.Changed())
	return sum, nil
}

// referrersNote adds the dump's signatures and SBOMs to its audit line.
func referrersNote(sum openshift.Summary) string {
	if sum.Referrers == 0 {
		return ""
	}
	return fmt.Sprintf(", %d signatures, SBOMs or attestations (%d new)", sum.Referrers, sum.ReferrersChanged)
}
