package format

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	cases := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{237_609_370, "226.6 MiB"}, {50 << 30, "50.0 GiB"}, {1<<20 - 1, "1.0 MiB"}, {-2048, "-2.0 KiB"},
	}
	for _, c := range cases {
		if got := Size(c.in); got != c.want {
			t.Errorf("Size(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"50GiB", 50 << 30, false}, {"1.5 MiB", 3 << 19, false}, {"500MB", 500e6, false}, {"1024", 1024, false},
		{"10 parsecs", 0, true}, {"GiB", 0, true}, {"-1GiB", 0, true}, {"", 0, true},
		// 2^63 bytes does not fit an int64: refused, not wrapped negative.
		{"8192PiB", 0, true}, {"8191PiB", 8191 << 50, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func TestSizeInput(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{50 << 30, "50GiB"}, {3 << 29, "1.5GiB"}, {1536 << 20, "1.5GiB"}, {1000 << 20, "1000MiB"},
		{2e9, "2GB"}, {500e6, "500MB"}, {1024, "1KiB"}, {1000, "1KB"}, {1023, "1023B"}, {1181116006, "1.1GiB"},
	}
	for _, c := range cases {
		got := SizeInput(c.n)
		if got != c.want {
			t.Errorf("SizeInput(%d) = %q, want %q", c.n, got, c.want)
		}
		if back, err := ParseSize(got); err != nil || back != c.n {
			t.Errorf("ParseSize(SizeInput(%d)) = %d, %v", c.n, back, err)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "30 seconds ago"}, {90 * time.Second, "About a minute ago"}, {5 * time.Minute, "5 minutes ago"},
		{3 * time.Hour, "3 hours ago"}, {3 * 24 * time.Hour, "3 days ago"}, {3 * 7 * 24 * time.Hour, "3 weeks ago"},
		{125 * 24 * time.Hour, "4 months ago"}, {800 * 24 * time.Hour, "2 years ago"}, {-time.Hour, "in the future"},
	}
	for _, c := range cases {
		if got := Ago(now.Add(-c.d), now); got != c.want {
			t.Errorf("Ago(-%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if Ago(time.Time{}, now) != "<unknown>" {
		t.Error("zero time should read <unknown>")
	}
}

// TestHumanDuration: oc's words (docker/go-units HumanDuration), boundaries
// included; they differ from Ago's where oc rounds hours and keeps months
// up to two years.
func TestHumanDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "Less than a second"}, {time.Second, "1 second"}, {59 * time.Second, "59 seconds"},
		{time.Minute, "About a minute"}, {119 * time.Second, "About a minute"}, {2 * time.Minute, "2 minutes"},
		{59 * time.Minute, "59 minutes"}, {89 * time.Minute, "About an hour"}, {90 * time.Minute, "2 hours"},
		{47 * time.Hour, "47 hours"}, {48 * time.Hour, "2 days"}, {13 * 24 * time.Hour, "13 days"},
		{14 * 24 * time.Hour, "2 weeks"}, {59 * 24 * time.Hour, "8 weeks"}, {60 * 24 * time.Hour, "2 months"},
		{400 * 24 * time.Hour, "13 months"}, {730 * 24 * time.Hour, "2 years"}, {11 * 365 * 24 * time.Hour, "11 years"},
	}
	for _, c := range cases {
		if got := HumanDuration(c.d); got != c.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
