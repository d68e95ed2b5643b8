package jobs

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	lwmail "layerwise/jobs/mail"
	"layerwise/store"
)

// BenchmarkBuildAllReports builds and renders (HTML and text) every report
// of the large dataset: LAYERWISE_BENCH_DB=large.db (made by
// `layerwise generate --namespaces 2000`).
func BenchmarkBuildAllReports(b *testing.B) {
	path := os.Getenv("LAYERWISE_BENCH_DB")
	if path == "" {
		b.Skip("set LAYERWISE_BENCH_DB to a database made by `layerwise generate --namespaces 2000`")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	_, err = planned(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	// A low threshold makes every namespace due: the worst case.
	set := ReportSettings{Threshold: 1 << 20, BaseURL: "https://layerwise.example.com"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reps, err := BuildReports(ctx, s, set, s.Now())
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range reps.Namespaces {
			if _, err := Message(r, []string{"team@example.com"}, s.Now()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(reps.Namespaces)), "reports")
	}
}

// BenchmarkSendRate sends report-sized messages to the in-process SMTP
// server in batches over one connection each, as SendReports does.
func BenchmarkSendRate(b *testing.B) {
	sink := startSink(&testing.T{}, "")
	snd := sender(&testing.T{}, sink.addr)
	body := strings.Repeat("stream api: 1.2 GiB counted once\n", 800) // ~26 KiB, like a real report
	msgs := make([]lwmail.Message, 50)
	for i := range msgs {
		msgs[i] = lwmail.Message{To: []string{"team@example.com"}, Subject: "Image registry usage", Text: body, HTML: "<p>" + body + "</p>"}
	}
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := snd.Send(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/time.Since(start).Seconds(), "msgs/s")
}
