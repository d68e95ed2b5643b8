package store

import (
	"encoding/json"
	"strconv"
	"time"
)

// AppendJSON appends n as json.MarshalIndent(n, prefix, indent) writes it
// (json.Marshal when both are ""), byte for byte, without reflection: the
// whole registry's `usage -o json` is ~170 MB on the large dataset, and
// encoding/json spent more time on it than reading the figures.
func (n NamespaceUsage) AppendJSON(b []byte, prefix, indent string) ([]byte, error) {
	w := jsonWriter{b: b, prefix: prefix, indent: indent}
	w.namespace(n)
	return w.b, w.err
}

type jsonWriter struct {
	b              []byte
	prefix, indent string
	depth          int
	first          bool
	err            error
	newlines       []string // by depth: a newline, the prefix, the indents
}

func (w *jsonWriter) newline() {
	if w.prefix == "" && w.indent == "" {
		return
	}
	for len(w.newlines) <= w.depth {
		nl := "\n" + w.prefix
		for range len(w.newlines) {
			nl += w.indent
		}
		w.newlines = append(w.newlines, nl)
	}
	w.b = append(w.b, w.newlines[w.depth]...)
}

func (w *jsonWriter) open(c byte) {
	w.b = append(w.b, c)
	w.depth++
	w.first = true
}

// close ends an object or array; empty writes nothing in between.
func (w *jsonWriter) close(c byte, empty bool) {
	w.depth--
	if !empty {
		w.newline()
	}
	w.b = append(w.b, c)
	w.first = false
}

func (w *jsonWriter) elem() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.newline()
}

func (w *jsonWriter) key(k string) {
	w.elem()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	if w.prefix != "" || w.indent != "" {
		w.b = append(w.b, ' ')
	}
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// Escapes as encoding/json makes them (HTML-safe, invalid
			// UTF-8 replaced): rare in names, digests and pull specs.
			e, err := json.Marshal(v)
			if err != nil && w.err == nil {
				w.err = err
			}
			w.b = append(w.b, e...)
			return
		}
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	if y := t.Year(); y < 0 || y > 9999 {
		e, err := json.Marshal(t) // the error encoding/json gives
		if err != nil && w.err == nil {
			w.err = err
		}
		w.b = append(w.b, e...)
		return
	}
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

// list writes a JSON array of n entries (null for a nil slice).
func (w *jsonWriter) list(k string, isNil bool, n int, each func(i int)) {
	w.key(k)
	if isNil {
		w.b = append(w.b, "null"...)
		return
	}
	w.open('[')
	for i := range n {
		w.elem()
		each(i)
	}
	w.close(']', n == 0)
}

func (w *jsonWriter) namespace(n NamespaceUsage) {
	w.open('{')
	w.str("name", n.Name)
	w.int("bytes", n.Bytes)
	w.int("exclusiveBytes", n.ExclusiveBytes)
	w.int("reclaimableBytes", n.ReclaimableBytes)
	w.int("notPulledBytes", n.NotPulledBytes)
	w.list("streams", n.Streams == nil, len(n.Streams), func(i int) { w.stream(n.Streams[i]) })
	w.close('}', false)
}

func (w *jsonWriter) stream(s StreamUsage) {
	w.open('{')
	w.str("name", s.Name)
	w.int("bytes", s.Bytes)
	w.int("exclusiveBytes", s.ExclusiveBytes)
	w.int("uniqueImages", int64(s.UniqueImages))
	w.time("updated", s.Updated)
	w.list("tags", s.Tags == nil, len(s.Tags), func(i int) { w.tag(s.Tags[i]) })
	w.close('}', false)
}

func (w *jsonWriter) tag(t TagUsage) {
	w.open('{')
	w.str("name", t.Name)
	w.int("bytes", t.Bytes)
	w.int("exclusiveBytes", t.ExclusiveBytes)
	w.list("revisions", t.Revisions == nil, len(t.Revisions), func(i int) { w.revision(t.Revisions[i]) })
	w.close('}', false)
}

func (w *jsonWriter) revision(r RevisionUsage) {
	w.open('{')
	w.str("image", r.Image)
	w.time("created", r.Created)
	w.int("bytes", r.Bytes)
	w.bool("current", r.Current)
	if r.Reference != "" {
		w.str("reference", r.Reference)
	}
	if r.Prunable {
		w.bool("prunable", r.Prunable)
	}
	w.close('}', false)
}
