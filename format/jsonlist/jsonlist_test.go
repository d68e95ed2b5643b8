package jsonlist

import (
	"bytes"
	"encoding/json"
	"testing"
)

type item struct {
	Name string            `json:"name"`
	Tags []string          `json:"tags"`
	Meta map[string]string `json:"meta,omitempty"`
}

type doc struct {
	Dry   bool     `json:"dryRun"`
	Items []item   `json:"items"`
	Names []string `json:"names"`
	Tail  struct {
		N int `json:"n"`
	} `json:"tail"`
}

func TestWriteMatchesEncodingJSON(t *testing.T) {
	full := doc{Dry: true,
		Items: []item{{Name: "a<b>&c", Tags: []string{"x", "y"}, Meta: map[string]string{"k": "v\n\"q\""}}, {Name: "ü", Tags: nil}, {Name: "", Tags: []string{}}},
		Names: []string{"sha256:1", "", "\u2028"}}
	full.Tail.N = 7
	for name, d := range map[string]doc{"full": full, "empty lists": {Items: []item{}, Names: []string{}}, "one each": {Items: full.Items[:1], Names: full.Names[:1]}} {
		for _, indent := range []bool{true, false} {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			if indent {
				enc.SetIndent("", "  ")
			}
			if err := enc.Encode(d); err != nil {
				t.Fatal(err)
			}
			head := d
			head.Items, head.Names = nil, nil
			err := Write(&got, head, indent,
				List{Key: "items", Len: len(d.Items), Item: func(i int) any { return d.Items[i] }},
				List{Key: "names", Len: len(d.Names), Item: func(i int) any { return d.Names[i] }})
			if err != nil {
				t.Fatalf("%s indent=%v: %v", name, indent, err)
			}
			if got.String() != want.String() {
				t.Errorf("%s indent=%v:\ngot  %s\nwant %s", name, indent, got.String(), want.String())
			}
			// The same lists read as they are written (Seq).
			var seq bytes.Buffer
			err = Write(&seq, head, indent,
				List{Key: "items", Seq: func(yield func(any) error) error {
					for _, it := range d.Items {
						if err := yield(it); err != nil {
							return err
						}
					}
					return nil
				}},
				List{Key: "names", Seq: func(yield func(any) error) error {
					for _, n := range d.Names {
						if err := yield(n); err != nil {
							return err
						}
					}
					return nil
				}})
			if err != nil {
				t.Fatalf("%s indent=%v seq: %v", name, indent, err)
			}
			if seq.String() != want.String() {
				t.Errorf("%s indent=%v seq:\ngot  %s\nwant %s", name, indent, seq.String(), want.String())
			}
		}
	}
}

func TestWriteRefusesAListThatIsNotNull(t *testing.T) {
	d := doc{Items: []item{{Name: "a"}}}
	err := Write(&bytes.Buffer{}, d, true, List{Key: "items", Len: 1, Item: func(int) any { return item{} }})
	if err == nil {
		t.Fatal("a list left in the head was accepted: it would be written twice")
	}
}
