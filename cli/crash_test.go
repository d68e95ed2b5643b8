package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// TestMain lets a test run this binary as the real command line in a child
// process (LAYERWISE_TEST_AS_CLI=1), so that a test can kill it with -9.
func TestMain(m *testing.M) {
	if os.Getenv("LAYERWISE_TEST_AS_CLI") == "1" {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// `prune --confirm` killed with -9 while it deletes from the registry:
// the next run is not refused, and /jobs says the dead run was abandoned
// instead of "running" forever.
func TestPruneKilledMidRunIsAbandonedNotRunningForever(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	// The managed registry takes the run's DELETE and never answers, so
	// the run is mid-way (lease held, run recorded) when it is killed.
	reached := make(chan struct{}, 1)
	hang := make(chan struct{})
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reached <- struct{}{}:
		default:
		}
		<-hang
	}))
	defer reg.Close()
	defer close(hang)

	cmd := exec.Command(os.Args[0], "prune", "--confirm", "--registry-url", reg.URL)
	cmd.Env = append(os.Environ(), "LAYERWISE_TEST_AS_CLI=1", "LAYERWISE_DB="+db)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the prune run never reached the registry")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	_ = cmd.Wait()

	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.JobRunsOf(ctx, "prune", 10)
	if err != nil || len(runs) != 1 || runs[0].Status != "running" {
		t.Fatalf("after the kill: runs %+v, %v; want the dead run still marked running", runs, err)
	}
	dead := runs[0].ID

	// The next run goes ahead at once: the lease's holder is gone.
	r := ok(t, lw(t, db, "", "prune", "--confirm"))
	if !strings.Contains(r.out, "Summary:") {
		t.Errorf("second run output:\n%s", r.out)
	}
	runs, err = s.JobRunsOf(ctx, "prune", 10)
	if err != nil {
		t.Fatal(err)
	}
	var sawDead, sawNext bool
	for _, run := range runs {
		switch {
		case run.ID == dead:
			sawDead = run.Status == "abandoned" && strings.HasPrefix(run.Message, "abandoned:")
		case run.Status == "ok":
			sawNext = true
		}
	}
	if !sawDead || !sawNext {
		t.Errorf("runs after the next run: %+v; want the killed one abandoned and the next one ok", runs)
	}
}
