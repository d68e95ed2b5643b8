package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"layerwise/store"
)

// ImportOptions are the flags of import-image.
type ImportOptions struct {
	Scheduled bool
	Insecure  bool
	// ImportMode is Legacy or PreserveOriginal; "" keeps the tag's mode when
	// it imports the same reference, else Legacy.
	ImportMode string
	// ReferencePolicy is Source or Local (any case); "" as ImportMode.
	ReferencePolicy string
	// Platform is what Legacy keeps of a manifest list; default linux/amd64.
	Platform string
	// Confirm creates a missing stream and lets a tag with another source
	// be re-pointed at this reference.
	Confirm bool
	// Actor is who imports, for the audit log.
	Actor string
}

// importError is a refused import request: it reads as its message and
// matches the store's sentinel.
type importError struct {
	kind error
	msg  string
}

func (e *importError) Error() string        { return e.msg }
func (e *importError) Is(target error) bool { return target == e.kind }

// Import reads ref from its registry and records it on dst: the images
// (for a manifest list as the import mode says), the tag's spec (DockerImage
// ref), a history entry when the digest changed, alias tags that follow,
// ImportSuccess=True, the digest the reference resolved to (for the
// scheduled import's HEAD check) and an audit event "tag.import" — all in
// one transaction. An import that leaves the tag's spec and history as they
// were (the registry still has the same image) writes no audit event.
// ref "" re-imports the tag's own DockerImage source.
//
// When the registry cannot deliver, an existing tag gets ImportSuccess=False
// with the reason and message and keeps its image; nothing else is written
// and the error is returned.
func Import(ctx context.Context, s *store.Store, f Fetcher, dst store.TagRef, ref string, opt ImportOptions) (store.TagResult, error) {
	if err := dst.Validate(); err != nil {
		return store.TagResult{}, err
	}
	var err error
	if opt.ImportMode != "" {
		if opt.ImportMode, err = NormalizeImportMode(opt.ImportMode); err != nil {
			return store.TagResult{}, err
		}
	}
	switch strings.ToLower(opt.ReferencePolicy) {
	case "":
	case "source":
		opt.ReferencePolicy = "Source"
	case "local":
		opt.ReferencePolicy = "Local"
	default:
		return store.TagResult{}, &importError{store.ErrInvalid, fmt.Sprintf("reference policy %q must be Source or Local", opt.ReferencePolicy)}
	}
	streamRef := store.StreamRef{Namespace: dst.Namespace, Stream: dst.Stream}
	var tag *store.TagSnapshot
	st, err := s.GetStream(ctx, streamRef)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !opt.Confirm {
			return store.TagResult{}, &importError{store.ErrNotFound, fmt.Sprintf("image stream %s does not exist; pass --confirm to create it", streamRef)}
		}
	case err != nil:
		return store.TagResult{}, err
	default:
		for i := range st.Tags {
			if st.Tags[i].Name == dst.Tag {
				tag = &st.Tags[i]
			}
		}
	}
	var spec *store.ObjectRef
	if tag != nil && tag.InSpec {
		spec = tag.From
	}
	sameSource := spec != nil && spec.Kind == store.KindDockerImage && (ref == "" || spec.Name == ref)
	switch {
	case ref == "" && !sameSource:
		return store.TagResult{}, &importError{store.ErrInvalid, fmt.Sprintf("%s has no external image (DockerImage) to import from; name one with --from REF", dst)}
	case !sameSource && spec != nil && !opt.Confirm:
		return store.TagResult{}, &importError{store.ErrInvalid, fmt.Sprintf("%s is tagged from %s %s; pass --confirm to import %s into it instead",
			dst, spec.Kind, specName(spec), ref)}
	}
	if sameSource {
		ref = spec.Name
		opt.Scheduled = opt.Scheduled || tag.Scheduled
		opt.Insecure = opt.Insecure || tag.Insecure
		if opt.ImportMode == "" {
			opt.ImportMode = tag.ImportMode
		}
		if opt.ReferencePolicy == "" {
			opt.ReferencePolicy = tag.ReferencePolicy
		}
	}
	if err := store.ValidatePullSpec(ref); err != nil {
		return store.TagResult{}, err
	}

	res, err := f.Fetch(ctx, ref, FetchOptions{Insecure: opt.Insecure, ImportMode: opt.ImportMode, Platform: opt.Platform, Referrers: true})
	if err != nil {
		if tag != nil {
			// Record the failure even when the caller has gone away.
			if cerr := s.SetImportCondition(context.WithoutCancel(ctx), dst, false, Reason(err), err.Error()); cerr != nil {
				return store.TagResult{}, fmt.Errorf("%w (recording the failure on %s failed too: %v)", err, dst, cerr)
			}
		}
		return store.TagResult{}, err
	}

	actor := opt.Actor
	if actor == "" {
		actor = "unknown"
	}
	topt := store.TagOptions{Scheduled: opt.Scheduled, Insecure: opt.Insecure, ReferencePolicy: opt.ReferencePolicy, ImportMode: opt.ImportMode}
	var out store.TagResult
	err = s.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.CurrentImage(ctx, dst)
		if err != nil {
			return err
		}
		src := store.SizeImported
		if res.Managed {
			src = store.SizeManaged
		}
		for _, img := range res.Images {
			if _, err := tx.PutImageFrom(ctx, img, src); err != nil {
				return fmt.Errorf("record image %s of %s: %w", img.Digest, ref, err)
			}
		}
		if out, err = tx.RecordImport(ctx, dst, ref, topt, res.Image, res.PullSpec); err != nil {
			return err
		}
		if err := tx.RecordImportCheck(ctx, dst, ref, topt.ImportMode, res.SourceDigest); err != nil {
			return err
		}
		// The image's signatures, SBOMs and attestations, attached to it.
		added := 0
		for _, r := range res.Referrers {
			changed, err := tx.RecordReferrer(ctx, r)
			if err != nil {
				return fmt.Errorf("record referrer %s of %s: %w", r.Images[len(r.Images)-1].Digest, ref, err)
			}
			if changed {
				added++
			}
		}
		if out.NoOp() && added == 0 {
			return nil
		}
		after := out.Image + " from " + ref
		if added > 0 {
			after += fmt.Sprintf(" (%d new referrers: signatures, SBOMs, attestations)", added)
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: actor, Namespace: dst.Namespace, Action: "tag.import", Target: dst.String(),
			Before: before, After: after})
	})
	if err != nil {
		return store.TagResult{}, err
	}
	return out, nil
}

func specName(r *store.ObjectRef) string {
	if r.Namespace != "" {
		return r.Namespace + "/" + r.Name
	}
	return r.Name
}
