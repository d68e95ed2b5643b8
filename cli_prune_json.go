package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"layerwise/store"
)

// writePlanJSON prints v (a plan, or a plan with what was applied) exactly
// as printJSON would, but streams the plan's revisions and images instead
// of building the whole document in memory: on a large registry they are
// hundreds of thousands of entries, and encoding/json would hold the
// document twice (compact and indented) before writing a byte.
//
// The rest of v is small: it is encoded with the two lists emptied, and
// the lists are written where the encoder put them.
func writePlanJSON(w io.Writer, v any, plan *store.PrunePlan) error {
	revs, imgs := plan.Revisions, plan.Images
	plan.Revisions, plan.Images = nil, nil
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	plan.Revisions, plan.Images = revs, imgs
	if err != nil {
		return err
	}
	doc := head.Bytes()
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, list := range []struct {
		key   string
		n     int
		entry func(i int) ([]byte, error)
	}{
		{`"revisions": null`, len(revs), func(i int) ([]byte, error) { return json.MarshalIndent(revs[i], "    ", "  ") }},
		{`"images": null`, len(imgs), func(i int) ([]byte, error) { return json.Marshal(imgs[i]) }},
	} {
		at := bytes.Index(doc, []byte(list.key))
		if at < 0 {
			return fmt.Errorf("write the plan: %s not found in its encoding", list.key)
		}
		bw.Write(doc[:at])
		bw.WriteString(list.key[:len(list.key)-len("null")])
		if list.n == 0 {
			bw.WriteString("[]")
		} else {
			bw.WriteString("[\n")
			for i := range list.n {
				b, err := list.entry(i)
				if err != nil {
					return err
				}
				bw.WriteString("    ")
				bw.Write(b)
				if i < list.n-1 {
					bw.WriteByte(',')
				}
				bw.WriteByte('\n')
			}
			bw.WriteString("  ]")
		}
		doc = doc[at+len(list.key):]
	}
	bw.Write(doc)
	return bw.Flush()
}
