package openshift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"layerwise/store"
)

// streamTag reads an ImageStreamTag (`oc get istag -o json`): the tag's
// current image, whole, becomes a history entry as a mapping would make it
// (at metadata.creationTimestamp, the entry's time), and its `tag` the
// tag's spec.
func (d *decoder) streamTag(o *Object, raw json.RawMessage) error {
	var a apiStreamTag
	if err := json.Unmarshal(raw, &a); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	stream, tag, ok := strings.Cut(a.Metadata.Name, ":")
	if !ok {
		return o.errorf("metadata.name %q must be STREAM:TAG", a.Metadata.Name)
	}
	if err := checkNamespace(o.Namespace); err != nil {
		return o.errorf("metadata.namespace: %w", err)
	}
	if err := checkStreamName(o.Namespace, stream); err != nil {
		return o.errorf("metadata.name: %w", err)
	}
	if err := checkTag(tag); err != nil {
		return o.errorf("metadata.name: %w", err)
	}
	o.Name, o.Tag = stream, tag
	img, err := imageFromAPI(a.Image, "image.", d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	created, err := parseTime("metadata.creationTimestamp", a.Metadata.CreationTimestamp, d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	if created.IsZero() {
		created = img.Created
	}
	if created.IsZero() {
		created = d.opt.Now.UTC().Truncate(time.Second)
		d.nowMapped[len(d.objs)] = true
	}
	if a.Tag != nil {
		t := *a.Tag
		if t.Name == "" {
			t.Name = tag
		}
		if t.Name != tag {
			return o.errorf("tag.name %q differs from the tag %q that metadata.name names", t.Name, tag)
		}
		spec, err := specTagFromAPI("tag", t)
		if err != nil {
			return o.errorf("%w", err)
		}
		if err := conditionFromAPI(a.Conditions, d.opt.Shift, &spec); err != nil {
			return o.errorf("%w", err)
		}
		o.Spec = &spec
	}
	o.Image, o.Created = &img, created
	return nil
}

// streamImport reads an ImageStreamImport as the API answers it. Its
// images (status.images, status.repository.images, with their platforms)
// are recorded as Image objects; the stream the import updated
// (status.import) as an ImageStream; without that stream, an import
// (spec.import: true) that succeeded into a tag (spec.images[].to) sets
// that tag as `oc import-image` did. A dry run (spec.import: false)
// changes no tag. Failed imports are listed, not applied.
func (d *decoder) streamImport(o Object, raw json.RawMessage) error {
	var a apiStreamImport
	if err := json.Unmarshal(raw, &a); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	if err := checkNamespace(o.Namespace); err != nil {
		return o.errorf("metadata.namespace: %w", err)
	}
	if a.Spec.Import || len(a.Status.Import) > 0 {
		if err := checkStreamName(o.Namespace, o.Name); err != nil {
			return o.errorf("metadata.name: %w", err)
		}
	}
	at, err := parseTime("metadata.creationTimestamp", a.Metadata.CreationTimestamp, d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	sub := func(path string) Object {
		full := path
		if o.Path != "" && path != "" {
			full = joinPath(o.Path, path)
		} else if path == "" {
			full = o.Path
		}
		return Object{File: o.File, Path: full, Namespace: o.Namespace}
	}
	hasStream := false
	if imp := bytes.TrimSpace(a.Status.Import); len(imp) > 0 && string(imp) != "null" {
		var st apiStream
		if err := json.Unmarshal(imp, &st); err != nil {
			return o.errorf("status.import: %s", typeErrorText(err))
		}
		so := sub("status.import")
		so.Kind, so.Name = KindImageStream, st.Metadata.Name
		if st.Metadata.Namespace != "" {
			so.Namespace = st.Metadata.Namespace
		}
		snap, err := streamFromAPI(st, so.Namespace, d.opt.Shift)
		if err != nil {
			return so.errorf("%w", err)
		}
		so.Stream = &snap
		d.objs = append(d.objs, so)
		hasStream = true
	}
	// image records one Image object; it returns nil for one that cannot
	// be identified (listed as skipped).
	image := func(path string, ai apiImage) (*store.ImageSnapshot, error) {
		io := sub(path)
		io.Kind, io.Name, io.Namespace = KindImage, ai.Metadata.Name, "" // images are cluster-wide
		img, err := imageFromAPI(ai, "", d.opt.Shift)
		var nd *noDigestError
		if errors.As(err, &nd) {
			io.Skipped = nd.msg
			d.objs = append(d.objs, io)
			return nil, nil
		}
		if err != nil {
			return nil, io.errorf("%w", err)
		}
		io.Name, io.Image, io.Created = img.Digest, &img, img.Created
		d.objs = append(d.objs, io)
		return &img, nil
	}
	statuses := func(prefix string, list []apiImportStatus, spec bool) error {
		for i, st := range list {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			for j, m := range st.Manifests {
				if _, err := image(fmt.Sprintf("%s.manifests[%d]", p, j), m); err != nil {
					return err
				}
			}
			if st.Image == nil {
				if st.Status.Status != "" && st.Status.Status != "Success" {
					so := sub(p)
					so.Kind = KindImageStreamImport
					so.Skipped = fmt.Sprintf("the import failed (%s): %s", st.Status.Reason, st.Status.Message)
					d.objs = append(d.objs, so)
				}
				continue
			}
			img, err := image(p+".image", *st.Image)
			if err != nil || img == nil {
				return err
			}
			if !spec || hasStream || !a.Spec.Import || i >= len(a.Spec.Images) || a.Spec.Images[i].To == nil ||
				(st.Status.Status != "" && st.Status.Status != "Success") {
				continue
			}
			in := a.Spec.Images[i]
			to := sub(p)
			to.Kind, to.Name, to.Tag = KindImageStreamTag, o.Name, in.To.Name
			if err := checkTag(to.Tag); err != nil {
				return to.errorf("spec.images[%d].to.name: %w", i, err)
			}
			spec, err := specTagFromAPI(fmt.Sprintf("spec.images[%d]", i), apiSpecTag{Name: to.Tag, From: &in.From,
				ImportPolicy: in.ImportPolicy, ReferencePolicy: in.ReferencePolicy})
			if err != nil {
				return to.errorf("%w", err)
			}
			to.Spec = &spec
			copyImg := *img
			to.Image, to.Created = &copyImg, at
			if at.IsZero() {
				to.Created = d.opt.Now.UTC().Truncate(time.Second)
				d.nowMapped[len(d.objs)] = true
			}
			d.objs = append(d.objs, to)
		}
		return nil
	}
	if err := statuses("status.images", a.Status.Images, true); err != nil {
		return err
	}
	if r := a.Status.Repository; r != nil {
		if err := statuses("status.repository.images", r.Images, false); err != nil {
			return err
		}
	}
	if !a.Spec.Import && !hasStream {
		note := sub("")
		note.Kind, note.Name = KindImageStreamImport, o.Name
		note.Note = "a dry run (spec.import is false): its images are recorded, no tag changed"
		d.objs = append(d.objs, note)
	}
	return nil
}

// conditionFromAPI sets the tag's ImportSuccess condition from an
// ImageStreamTag's conditions.
func conditionFromAPI(conds []apiCondition, shift time.Duration, t *store.TagSnapshot) error {
	for k, c := range conds {
		if c.Type != "ImportSuccess" {
			continue
		}
		at, err := parseTime(fmt.Sprintf("conditions[%d].lastTransitionTime", k), c.LastTransitionTime, shift)
		if err != nil {
			return err
		}
		t.Condition = &store.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
			Time: timePtr(at), Generation: c.Generation}
		return nil
	}
	return nil
}
