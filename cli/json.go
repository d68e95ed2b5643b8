package cli

import (
	"io"

	"layerwise/format/jsonlist"
	"layerwise/store"
)

// writePlanJSON prints v (a plan, or a plan with what was applied) exactly
// as printJSON would, streaming the plan's revisions and images: on a
// large registry they are hundreds of thousands of entries. With kept
// revisions (prune --show-kept) v has a field "kept" after them, null
// in v (withKept).
func writePlanJSON(w io.Writer, v any, plan *store.PrunePlan) error {
	revs, imgs, kept := plan.Revisions, plan.Images, plan.Kept
	plan.Revisions, plan.Images, plan.Kept = nil, nil, nil
	defer func() { plan.Revisions, plan.Images, plan.Kept = revs, imgs, kept }()
	lists := []jsonlist.List{
		{Key: "revisions", Len: len(revs), Item: func(i int) any { return revs[i] }},
		{Key: "images", Len: len(imgs), Item: func(i int) any { return imgs[i] }}}
	if kept != nil {
		lists = append(lists, jsonlist.List{Key: "kept", Len: len(kept), Item: func(i int) any { return kept[i] }})
	}
	return jsonlist.Write(w, v, true, lists...)
}

// withKept is a plan printed with its kept revisions last.
type withKept struct {
	*store.PrunePlan
	Kept []store.PruneRevision `json:"kept"`
}

// writeUsageJSON prints `usage -o json` as printJSON would, writing each
// namespace as each reads it.
func writeUsageJSON(w io.Writer, head store.Usage, each func(yield func(store.NamespaceUsage) error) error) error {
	head.Namespaces = nil
	return jsonlist.Write(w, &head, true, jsonlist.List{Key: "namespaces", Seq: func(yield func(any) error) error {
		return each(func(n store.NamespaceUsage) error { return yield(n) })
	}})
}
