// Package openshift maps OpenShift image.openshift.io/v1 objects (as
// `oc get is,images -o json|yaml` prints them) to the store's snapshot types
// and back.
package openshift

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/store"
)

// Options steer Decode.
type Options struct {
	// DefaultNamespace is used for objects without metadata.namespace;
	// "" means "default".
	DefaultNamespace string
	// Shift is added to every timestamp read (demo data is moved to now).
	Shift time.Duration
	// Now is the creation time of ImageStreamMapping history entries whose
	// image has no creationTimestamp.
	Now time.Time
}

// The kinds Decode understands.
const (
	KindImageStream        = "ImageStream"
	KindImage              = "Image"
	KindImageStreamMapping = "ImageStreamMapping"
	KindImageStreamTag     = "ImageStreamTag"
	KindImageStreamImport  = "ImageStreamImport"
)

// kindsWanted names the kinds Decode reads, for messages.
const kindsWanted = "List, ImageStreamList, ImageStream, ImageList, Image, ImageStreamMapping, ImageStreamTag or ImageStreamImport"

// Object is one decoded API object. Exactly one of Stream and Image is set
// for the image kinds (a mapping sets Image, Tag and Created); Skipped says
// why an object is not applied.
type Object struct {
	File      string // as given to Decode
	Path      string // where in the file: "items[3]", "document 2, items[0]"; "" for the only object
	Kind      string
	Namespace string // "" for cluster-scoped Images
	Name      string

	Stream *store.StreamSnapshot
	Image  *store.ImageSnapshot
	Tag    string // ImageStreamMapping, ImageStreamTag
	// Created is, for a mapping, the time of the new history entry and, for
	// an Image, its metadata.creationTimestamp (zero when absent).
	Created time.Time
	// Spec is the tag's spec an ImageStreamTag (or an ImageStreamImport
	// that imported into a tag) gives; nil when it gives none.
	Spec *store.TagSnapshot

	// Skipped is non-empty for objects Apply leaves alone: objects of other
	// kinds ("kind BuildConfig") and images that cannot be identified.
	Skipped string
	// Note is something to tell about an object that was read whole (an
	// ImageStreamImport that was a dry run).
	Note string
}

// OtherKind reports whether the object was skipped for its kind.
func (o Object) OtherKind() bool {
	return o.Skipped != "" && !isImageKind(o.Kind)
}

// String names the object for messages: `items[3] (ImageStream "team-a/api")`.
func (o Object) String() string {
	id := o.Kind
	if id == "" {
		id = "object"
	}
	switch {
	case o.Kind == KindImageStreamTag && o.Tag != "":
		id += fmt.Sprintf(" %q", o.Namespace+"/"+o.Name+":"+o.Tag)
	case o.Name != "" && o.Namespace != "":
		id += fmt.Sprintf(" %q", o.Namespace+"/"+o.Name)
	case o.Name != "":
		id += fmt.Sprintf(" %q", o.Name)
	}
	if o.Path == "" {
		return id
	}
	return o.Path + " (" + id + ")"
}

// errorf returns an error naming the file and the object.
func (o Object) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s: "+format, append([]any{o.File, o}, args...)...)
}

func isImageKind(k string) bool {
	switch k {
	case KindImageStream, KindImage, KindImageStreamMapping, KindImageStreamTag, KindImageStreamImport:
		return true
	}
	return false
}

// tagged says whether the object sets a tag's current image: a mapping, or
// an ImageStreamTag (also one an ImageStreamImport made).
func (o Object) tagged() bool {
	return o.Skipped == "" && o.Image != nil && o.Tag != "" && (o.Kind == KindImageStreamMapping || o.Kind == KindImageStreamTag)
}

// Decode reads `oc get -o json|yaml` output: JSON (several concatenated
// values allowed) when the input starts with '{' or '[', YAML (several
// documents allowed) otherwise. name is the file name used in errors.
func Decode(name string, r io.Reader, opt Options) ([]Object, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// Before decoding: JSON decoding would turn such bytes into U+FFFD
	// without a word, and the API refuses them.
	if i := store.InvalidUTF8At(data); i >= 0 {
		line, col := lineCol(data, i)
		return nil, fmt.Errorf("%s: line %d, column %d: the file is not valid UTF-8; save it as UTF-8", name, line, col)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: file is empty; want the output of `oc get is,images -o json` (or -o yaml)", name)
	}
	if opt.DefaultNamespace == "" {
		opt.DefaultNamespace = "default"
	}
	var docs []document
	if trimmed[0] == '{' || trimmed[0] == '[' {
		docs, err = splitJSON(name, data)
	} else {
		docs, err = splitYAML(name, data)
	}
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no objects in the file (only comments or empty YAML documents)", name)
	}
	d := decoder{file: name, opt: opt, nowMapped: map[int]bool{}}
	for i, doc := range docs {
		path := ""
		if len(docs) > 1 {
			path = fmt.Sprintf("%s %d", doc.unit, i+1)
		}
		if err := d.value(path, doc.raw, true, ""); err != nil {
			return nil, err
		}
	}
	d.completeMappings()
	d.completeManifests()
	return d.objs, nil
}

// completeManifests gives an image of the cluster's registry whose manifest
// bytes the object left out the manifest size a manifest list of the same
// input gives for it: the registry stores that manifest as a blob.
func (d *decoder) completeManifests() {
	sizes := map[string]int64{}
	for _, o := range d.objs {
		if o.Image == nil {
			continue
		}
		for _, m := range o.Image.Manifests {
			if m.ManifestSize > 0 {
				sizes[m.Digest] = m.ManifestSize
			}
		}
	}
	for i := range d.objs {
		img := d.objs[i].Image
		if img == nil || img.Manifest != nil || !img.ManagedByRegistry() {
			continue
		}
		if n := sizes[img.Digest]; n > 0 {
			mt := ""
			for _, o := range d.objs {
				if o.Image == nil {
					continue
				}
				for _, m := range o.Image.Manifests {
					if m.Digest == img.Digest && mt == "" {
						mt = m.MediaType
					}
				}
			}
			if mt == "" {
				mt = img.MediaType
			}
			img.Manifest = &store.BlobRef{Digest: img.Digest, Size: n, MediaType: mt}
		}
	}
}

// completeMappings fills a mapping's bare image from the Image object of the
// same digest (as `oc get -o yaml` prints them side by side), and takes that
// object's creationTimestamp as the mapping's time rather than now, so that
// importing the same file twice gives the same history.
func (d *decoder) completeMappings() {
	full := map[string]int{}
	for i, o := range d.objs {
		if o.Kind == KindImage && o.Image != nil {
			full[o.Image.Digest] = i
		}
	}
	for i := range d.objs {
		o := &d.objs[i]
		if !o.tagged() {
			continue
		}
		j, ok := full[o.Image.Digest]
		if !ok {
			continue
		}
		img := fullImage(*o.Image, map[string]store.ImageSnapshot{o.Image.Digest: *d.objs[j].Image})
		o.Image = &img
		if d.nowMapped[i] && !d.objs[j].Created.IsZero() {
			o.Created = d.objs[j].Created
		}
	}
}

type document struct {
	unit string // "document" (YAML) or "object" (JSON)
	raw  json.RawMessage
}

func splitJSON(name string, data []byte) ([]document, error) {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, jsonSyntaxError(name, data, err)
		}
		docs = append(docs, document{unit: "object", raw: raw})
	}
}

// jsonSyntaxError turns a decoder error into "file: line L, column C: msg".
func jsonSyntaxError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(data, int(se.Offset)-1)
		return fmt.Errorf("%s: line %d, column %d: %s", name, line, col, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := lineCol(data, len(data))
		return fmt.Errorf("%s: line %d, column %d: unexpected end of JSON input (is the file cut short?)", name, line, col)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// splitYAML cuts the input at "---" lines, as kubectl does, and converts
// each non-empty document to JSON.
func splitYAML(name string, data []byte) ([]document, error) {
	var docs []document
	var cur bytes.Buffer
	start, lineNo := 1, 0
	flush := func() error {
		defer cur.Reset()
		if len(bytes.TrimSpace(cur.Bytes())) == 0 {
			return nil
		}
		j, err := yaml.YAMLToJSON(cur.Bytes())
		if err != nil {
			return yamlError(name, err, start-1)
		}
		if string(bytes.TrimSpace(j)) == "null" {
			return nil // only comments
		}
		docs = append(docs, document{unit: "document", raw: j})
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok && (len(bytes.TrimSpace(rest)) == 0 || bytes.HasPrefix(bytes.TrimSpace(rest), []byte("#"))) {
			if err := flush(); err != nil {
				return nil, err
			}
			start = lineNo + 1
			continue
		}
		cur.Write(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// yamlError drops the converter's prefix and makes "line N" count from the
// top of the file rather than from the document.
func yamlError(name string, err error, lineOffset int) error {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				msg = fmt.Sprintf("line %d:%s", n+lineOffset, rest[i+1:])
			}
		}
	}
	return fmt.Errorf("%s: invalid YAML: %s", name, msg)
}

type decoder struct {
	file string
	opt  Options
	objs []Object
	// nowMapped marks mappings whose time is Options.Now, by index in objs.
	nowMapped map[int]bool
}

// value decodes one JSON value at path: an object, or (top level only) an
// array of objects. elemKind is the kind implied by a typed list.
func (d *decoder) value(path string, raw json.RawMessage, top bool, elemKind string) error {
	raw = bytes.TrimSpace(raw)
	if top && len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s: %s: %w", d.file, orTop(path), err)
		}
		for i, it := range items {
			if err := d.value(joinPath(path, fmt.Sprintf("[%d]", i)), it, true, ""); err != nil {
				return err
			}
		}
		return nil
	}
	o := Object{File: d.file, Path: path}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%s: %s: want an object with kind and apiVersion, got %s", d.file, orTop(path), describeJSON(raw))
	}
	var h apiHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	o.Kind, o.Name = h.Kind, h.Metadata.Name
	if o.Kind == "" {
		o.Kind = elemKind
	}
	switch o.Kind {
	case KindImageStream, KindImageStreamMapping, KindImageStreamTag, KindImageStreamImport:
		o.Namespace = h.Metadata.Namespace
		if o.Namespace == "" {
			o.Namespace = d.opt.DefaultNamespace
		}
	}
	switch o.Kind {
	case "":
		if top {
			return fmt.Errorf("%s: %s: object has no kind; want %s (the output of `oc get is,images -o json`)", d.file, orTop(path), kindsWanted)
		}
		return o.errorf("item has no kind")
	case "List":
		return d.list(o, h, raw, "", "v1")
	case "ImageStreamList":
		return d.list(o, h, raw, KindImageStream, "v1", apiVersionImage)
	case "ImageList":
		return d.list(o, h, raw, KindImage, "v1", apiVersionImage)
	case KindImageStream, KindImage, KindImageStreamMapping, KindImageStreamTag, KindImageStreamImport:
		if v := h.APIVersion; v != "" && v != "v1" && v != apiVersionImage {
			return o.errorf("apiVersion %q is not supported; want %s (or the older v1)", v, apiVersionImage)
		}
	default:
		if top {
			return o.errorf("kind %q is not supported; want %s", o.Kind, kindsWanted)
		}
		o.Skipped = "kind " + o.Kind
		d.objs = append(d.objs, o)
		return nil
	}
	var err error
	switch o.Kind {
	case KindImageStream:
		err = d.stream(&o, raw)
	case KindImage:
		err = d.image(&o, raw)
	case KindImageStreamMapping:
		err = d.mapping(&o, raw)
	case KindImageStreamTag:
		err = d.streamTag(&o, raw)
	case KindImageStreamImport:
		// Expands into the images, stream and tags it holds.
		return d.streamImport(o, raw)
	}
	if err != nil {
		return err
	}
	d.objs = append(d.objs, o)
	return nil
}

func (d *decoder) list(o Object, h apiHeader, raw json.RawMessage, elemKind string, versions ...string) error {
	if h.APIVersion != "" && !contains(versions, h.APIVersion) {
		return o.errorf("apiVersion %q is not supported for %s; want %s", h.APIVersion, o.Kind, strings.Join(versions, " or "))
	}
	var l apiList
	if err := json.Unmarshal(raw, &l); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	for i, it := range l.Items {
		if err := d.value(joinPath(o.Path, fmt.Sprintf("items[%d]", i)), it, false, elemKind); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) stream(o *Object, raw json.RawMessage) error {
	var a apiStream
	if err := json.Unmarshal(raw, &a); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	s, err := streamFromAPI(a, o.Namespace, d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	o.Stream = &s
	return nil
}

func (d *decoder) image(o *Object, raw json.RawMessage) error {
	var a apiImage
	if err := json.Unmarshal(raw, &a); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	created, err := parseTime("metadata.creationTimestamp", a.Metadata.CreationTimestamp, d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	o.Created = created
	img, err := imageFromAPI(a, "", d.opt.Shift)
	var nd *noDigestError
	if errors.As(err, &nd) {
		o.Skipped = nd.msg
		return nil
	}
	if err != nil {
		return o.errorf("%w", err)
	}
	o.Image = &img
	return nil
}

func (d *decoder) mapping(o *Object, raw json.RawMessage) error {
	var a apiMapping
	if err := json.Unmarshal(raw, &a); err != nil {
		return o.errorf("%s", typeErrorText(err))
	}
	if err := checkStreamName(o.Namespace, a.Metadata.Name); err != nil {
		return o.errorf("metadata.name: %w", err)
	}
	if err := checkNamespace(o.Namespace); err != nil {
		return o.errorf("metadata.namespace: %w", err)
	}
	if a.Tag == "" {
		return o.errorf("tag is empty; an ImageStreamMapping names the tag to set")
	}
	if err := checkTag(a.Tag); err != nil {
		return o.errorf("tag: %w", err)
	}
	img, err := imageFromAPI(a.Image, "image.", d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	created, err := parseTime("image.metadata.creationTimestamp", a.Image.Metadata.CreationTimestamp, d.opt.Shift)
	if err != nil {
		return o.errorf("%w", err)
	}
	if created.IsZero() {
		created = d.opt.Now.UTC().Truncate(time.Second)
		d.nowMapped[len(d.objs)] = true // the index o is appended at
	}
	o.Image, o.Tag, o.Created = &img, a.Tag, created
	return nil
}

// typeErrorText phrases a json type error by its field path.
func typeErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "object"
		}
		return fmt.Sprintf("%s: want %s, got %s", field, goKindText(te.Type), te.Value)
	}
	return err.Error()
}

func goKindText(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func describeJSON(raw []byte) string {
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return "invalid JSON"
	}
	return jsonKind(x)
}

// joinPath appends an item to a path: "items[2].items[0]", "document 2, items[0]".
func joinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case !strings.Contains(parent, "["):
		return parent + ", " + child
	}
	return parent + "." + child
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
