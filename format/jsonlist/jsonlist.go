// Package jsonlist writes a JSON document whose big lists are streamed: the
// output is byte for byte what encoding/json prints, but a list of
// hundreds of thousands of entries is never held in memory as one
// encoded document (encoding/json builds the whole document, and for
// indented output a second, indented copy, before writing a byte).
package jsonlist

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// List is one top-level list of the document, streamed entry by entry.
type List struct {
	Key  string        // the JSON key, e.g. "revisions"
	Len  int           // how many entries
	Item func(int) any // the i-th entry
	// Seq, when set, replaces Len and Item for a list read as it is
	// written: it calls yield with each entry in turn and stops at its
	// first error.
	Seq func(yield func(any) error) error
}

// Write writes head, a value whose Lists are nil (so that it encodes them
// as null), with each List's entries in place of its null. With indent it
// matches an Encoder with SetIndent("", "  "), else a plain Encoder; both
// end with a newline. The lists must be top-level fields of head, in the
// order they appear in its encoding.
func Write(w io.Writer, head any, indent bool, lists ...List) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(head); err != nil {
		return err
	}
	doc := buf.Bytes()
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, l := range lists {
		key := `"` + l.Key + `":null`
		if indent {
			key = `"` + l.Key + `": null`
		}
		at := bytes.Index(doc, []byte(key))
		if at < 0 {
			return fmt.Errorf("jsonlist: %q is not a null top-level field of the document", l.Key)
		}
		bw.Write(doc[:at])
		bw.WriteString(key[:len(key)-len("null")])
		if err := writeList(bw, l, indent); err != nil {
			return err
		}
		doc = doc[at+len(key):]
	}
	bw.Write(doc)
	return bw.Flush()
}

func writeList(bw *bufio.Writer, l List, indent bool) error {
	if l.Seq != nil {
		return writeSeq(bw, l, indent)
	}
	if l.Len == 0 {
		bw.WriteString("[]")
		return nil
	}
	bw.WriteByte('[')
	var scratch []byte
	for i := range l.Len {
		b, err := marshal(l.Item(i), indent, &scratch)
		if err != nil {
			return fmt.Errorf("jsonlist: %s[%d]: %w", l.Key, i, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		if indent {
			bw.WriteString("\n    ")
		}
		bw.Write(b)
	}
	if indent {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	return nil
}

func writeSeq(bw *bufio.Writer, l List, indent bool) error {
	n := 0
	var scratch []byte
	err := l.Seq(func(v any) error {
		b, err := marshal(v, indent, &scratch)
		if err != nil {
			return fmt.Errorf("jsonlist: %s[%d]: %w", l.Key, n, err)
		}
		if n == 0 {
			bw.WriteByte('[')
		} else {
			bw.WriteByte(',')
		}
		if indent {
			bw.WriteString("\n    ")
		}
		bw.Write(b)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		bw.WriteString("[]")
		return nil
	}
	if indent {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	return nil
}

// Appender is an entry that writes itself as encoding/json would, without
// reflection (store.NamespaceUsage: the big lists).
type Appender interface {
	AppendJSON(dst []byte, prefix, indent string) ([]byte, error)
}

// marshal encodes one entry at the list's depth; an Appender writes into
// *scratch, which the list reuses entry after entry (each is written out
// before the next).
func marshal(v any, indent bool, scratch *[]byte) ([]byte, error) {
	if a, ok := v.(Appender); ok {
		var err error
		if indent {
			*scratch, err = a.AppendJSON((*scratch)[:0], "    ", "  ")
		} else {
			*scratch, err = a.AppendJSON((*scratch)[:0], "", "")
		}
		return *scratch, err
	}
	if indent {
		return json.MarshalIndent(v, "    ", "  ")
	}
	return json.Marshal(v)
}
