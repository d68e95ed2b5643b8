package cli

import (
	"io"

	"layerwise/format/jsonlist"
	"layerwise/store"
)

// writePlanJSON prints v (a plan, or a plan with what was applied) exactly
// as printJSON would, streaming the plan's revisions and images: on a
// large registry they are hundreds of thousands of entries.
func writePlanJSON(w io.Writer, v any, plan *store.PrunePlan) error {
	revs, imgs := plan.Revisions, plan.Images
	plan.Revisions, plan.Images = nil, nil
	defer func() { plan.Revisions, plan.Images = revs, imgs }()
	return jsonlist.Write(w, v, true,
		jsonlist.List{Key: "revisions", Len: len(revs), Item: func(i int) any { return revs[i] }},
		jsonlist.List{Key: "images", Len: len(imgs), Item: func(i int) any { return imgs[i] }})
}

// writeUsageJSON prints `usage -o json` as printJSON would, streaming the
// namespaces.
func writeUsageJSON(w io.Writer, u *store.Usage) error {
	head := store.Usage{Registry: u.Registry, ComputedAt: u.ComputedAt}
	return jsonlist.Write(w, &head, true,
		jsonlist.List{Key: "namespaces", Len: len(u.Namespaces), Item: func(i int) any { return u.Namespaces[i] }})
}
