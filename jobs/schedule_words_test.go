package jobs

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestDescribeSchedule says schedules in words, and checks each against
// robfig/cron itself: the next run after a fixed Sunday noon is the one the
// words promise.
func TestDescribeSchedule(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) // a Sunday
	for _, c := range []struct {
		spec, words string
		next        time.Time // zero: not checked
	}{
		{"0 7 * * 1", "Mondays at 07:00 UTC", time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)},
		{"0 0 * * *", "daily at 00:00 UTC", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"30 2 * * *", "daily at 02:30 UTC", time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC)},
		{"0 7,19 * * *", "daily at 07:00 and 19:00 UTC", time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)},
		{"0 6 * * 1-5", "Monday to Friday at 06:00 UTC", time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)},
		{"0 6 * * MON-FRI", "Monday to Friday at 06:00 UTC", time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)},
		{"15 8 * * mon,thu", "Mondays and Thursdays at 08:15 UTC", time.Date(2026, 11, 23, 8, 15, 0, 0, time.UTC)},
		{"0 9 * * 0", "Sundays at 09:00 UTC", time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)},
		{"0 3 1 * *", "on the 1st of every month at 03:00 UTC", time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)},
		{"0 3 1,15 * *", "on the 1st and 15th of every month at 03:00 UTC", time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)},
		{"5 * * * *", "every hour at :05", time.Date(2026, 11, 22, 12, 5, 0, 0, time.UTC)},
		{"0 * * * *", "every hour, on the hour", time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)},
		{"*/10 * * * *", "every 10 minutes", time.Date(2026, 11, 22, 12, 10, 0, 0, time.UTC)},
		{"0 */6 * * *", "every 6 hours at :00", time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)},
		{"* * * * *", "every minute", time.Date(2026, 11, 22, 12, 1, 0, 0, time.UTC)},
		{"@daily", "daily at 00:00 UTC", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"@midnight", "daily at 00:00 UTC", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"@hourly", "every hour, on the hour", time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)},
		{"@weekly", "Sundays at 00:00 UTC", time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
		{"@monthly", "on the 1st of every month at 00:00 UTC", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"@yearly", "every year on 1 January at 00:00 UTC", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"@every 15m", "every 15 minutes", time.Date(2026, 11, 22, 12, 15, 0, 0, time.UTC)},
		{"@every 1h", "every hour", time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)},
		{"@every 90m", "every 90 minutes", time.Date(2026, 11, 22, 13, 30, 0, 0, time.UTC)},
		{"CRON_TZ=Europe/Berlin 0 7 * * 1", "Mondays at 07:00 Europe/Berlin", time.Date(2026, 11, 23, 7, 0, 0, 0, berlin)},
		// No words: the spec is shown as written.
		{"0 7 * 1 *", "", time.Time{}},
		{"0 7 1 * 1", "", time.Time{}},
		{"0-30/5 7 * * *", "", time.Time{}},
		{"not a schedule", "", time.Time{}},
	} {
		if got := DescribeSchedule(c.spec, time.UTC); got != c.words {
			t.Errorf("%q: %q, want %q", c.spec, got, c.words)
		}
		if c.next.IsZero() {
			continue
		}
		sched, err := cron.ParseStandard(c.spec)
		if err != nil {
			t.Fatalf("%q: %v", c.spec, err)
		}
		if got := sched.Next(start); !got.Equal(c.next) {
			t.Errorf("%q: robfig/cron runs it next at %s, the words promise %s", c.spec, got, c.next)
		}
	}
	if got := DescribeSchedule("0 7 * * 1", berlin); got != "Mondays at 07:00 Europe/Berlin" {
		t.Errorf("in the scheduler's zone: %q", got)
	}
}
