package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DescribeSchedule says a robfig/cron schedule in words: "0 7 * * 1" is
// "Mondays at 07:00 UTC", "@every 15m" is "every 15 minutes". Times are in
// loc (the scheduler's zone) unless the spec names its own (CRON_TZ=…). A
// schedule it has no words for, or that does not parse, gives "": show the
// spec as written instead.
func DescribeSchedule(spec string, loc *time.Location) string {
	spec = strings.TrimSpace(spec)
	if _, err := cron.ParseStandard(spec); err != nil {
		return ""
	}
	zone := zoneName(loc)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		tz, rest, _ := strings.Cut(spec, " ")
		_, zone, _ = strings.Cut(tz, "=")
		spec = strings.TrimSpace(rest)
	}
	midnight := "00:00 " + zone
	switch spec {
	case "@yearly", "@annually":
		return "every year on 1 January at " + midnight
	case "@monthly":
		return "on the 1st of every month at " + midnight
	case "@weekly":
		return "Sundays at " + midnight
	case "@daily", "@midnight":
		return "daily at " + midnight
	case "@hourly":
		return "every hour, on the hour"
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return ""
		}
		return "every " + durationWords(dur)
	}
	f := strings.Fields(spec)
	if len(f) != 5 {
		return ""
	}
	mi, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	any := func(s string) bool { return s == "*" || s == "?" }
	if !any(month) {
		return ""
	}
	minutes, okMin := numbers(mi, 0, 59, nil)
	hours, okHour := numbers(hour, 0, 23, nil)
	switch {
	case any(mi) && any(hour) && any(dom) && any(dow):
		return "every minute"
	case strings.HasPrefix(mi, "*/") && any(hour) && any(dom) && any(dow):
		if n, err := strconv.Atoi(mi[2:]); err == nil && n > 0 {
			return "every " + plural(n, "minute")
		}
		return ""
	case okMin && len(minutes) == 1 && any(hour) && any(dom) && any(dow):
		if minutes[0] == 0 {
			return "every hour, on the hour"
		}
		return fmt.Sprintf("every hour at :%02d", minutes[0])
	case okMin && len(minutes) == 1 && strings.HasPrefix(hour, "*/") && any(dom) && any(dow):
		if n, err := strconv.Atoi(hour[2:]); err == nil && n > 0 {
			return fmt.Sprintf("every %s at :%02d", plural(n, "hour"), minutes[0])
		}
		return ""
	}
	if !okMin || !okHour || len(minutes) != 1 {
		return ""
	}
	var times []string
	for _, h := range hours {
		times = append(times, fmt.Sprintf("%02d:%02d", h, minutes[0]))
	}
	when := "at " + andList(times) + " " + zone
	switch {
	case any(dom) && any(dow):
		return "daily " + when
	case any(dom):
		days, ok := weekdays(dow)
		if !ok {
			return ""
		}
		return days + " " + when
	case any(dow):
		ds, ok := numbers(dom, 1, 31, nil)
		if !ok {
			return ""
		}
		var ords []string
		for _, d := range ds {
			ords = append(ords, ordinal(d))
		}
		return "on the " + andList(ords) + " of every month " + when
	}
	return ""
}

// zoneName is the zone's name as people read it: UTC, CET, Europe/Berlin.
func zoneName(loc *time.Location) string {
	if loc == nil || loc == time.UTC {
		return "UTC"
	}
	if name := loc.String(); name != "Local" {
		return name
	}
	abbr, _ := time.Now().In(loc).Zone()
	return abbr
}

var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

var cronDays = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// weekdays says a day-of-week field: "Mondays", "Monday to Friday",
// "Mondays and Thursdays".
func weekdays(field string) (string, bool) {
	if lo, hi, ok := strings.Cut(field, "-"); ok && !strings.ContainsAny(field, ",/") {
		a, okA := dayNumber(lo)
		b, okB := dayNumber(hi)
		if !okA || !okB || a >= b {
			return "", false
		}
		return dayNames[a] + " to " + dayNames[b], true
	}
	ds, ok := numbers(field, 0, 6, cronDays)
	if !ok {
		return "", false
	}
	var names []string
	seen := map[int]bool{}
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			names = append(names, dayNames[d]+"s")
		}
	}
	return andList(names), true
}

func dayNumber(s string) (int, bool) {
	if d, ok := cronDays[strings.ToLower(s)]; ok {
		return d, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 6
}

// numbers reads a list of plain values ("7", "7,19", "mon,thu"); ranges
// and steps are left to the callers that can say them.
func numbers(field string, lo, hi int, names map[string]int) ([]int, bool) {
	var out []int
	for _, part := range strings.Split(field, ",") {
		if n, ok := names[strings.ToLower(part)]; ok {
			out = append(out, n)
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < lo || n > hi {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

// andList is "a", "a and b", "a, b and c".
func andList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// durationWords is "15 minutes", "hour", "2 hours", "90s".
func durationWords(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d > 0 && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	case d > 0 && d%time.Second == 0 && d < time.Minute:
		return plural(int(d/time.Second), "second")
	}
	return d.String()
}
