package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"layerwise/store"
)

// While the cluster's in-use read failed, `prune` says it is held and
// prunes nothing, and `prune --confirm` fails with the reason and removes
// nothing.
func TestPruneCLIHeldByAFailedInUseRead(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const cluster = "openshift:https://api.example.com:6443"
	if err := s.RegisterInUseCluster(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInUseFailure(ctx, cluster, errors.New("list pods (page 1): 401 Unauthorized")); err != nil {
		t.Fatal(err)
	}
	history := func() int {
		st, err := s.GetStream(ctx, store.StreamRef{Namespace: "team-a", Stream: "api"})
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Tags[0].Items)
	}
	before := history()
	r := ok(t, lw(t, db, "", "prune"))
	if !strings.Contains(r.out, "Held: Reading the images in use on "+cluster+" failed at") || !strings.Contains(r.out, "would delete 0 image stream revisions") {
		t.Errorf("dry run while held:\n%s", r.out)
	}
	r = lw(t, db, "", "prune", "--confirm")
	if r.code == 0 || !strings.Contains(r.err, "prune removes nothing now") || !strings.Contains(r.err, "list pods (page 1): 401") {
		t.Errorf("--confirm while held: exit %d, %q", r.code, r.err)
	}
	if got := history(); got != before {
		t.Errorf("a held prune left %d of %d revisions", got, before)
	}
}
