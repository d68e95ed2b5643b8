// Package format writes sizes and ages the same way on pages, in the CLI and
// in e-mails: IEC units ("226.6 MiB") and relative times ("4 months ago").
package format

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

var units = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Size formats bytes in IEC units with one decimal: 0 B, 512 B, 1.5 KiB, 226.6 MiB.
func Size(n int64) string {
	if n < 0 {
		return "-" + Size(-n)
	}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	// 1023.96 MiB would print as "1024.0 MiB": move up a unit instead.
	if math.Round(v*10)/10 >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// ParseSize reads a size such as "50GiB", "1.5 TiB", "500MB" or "1024".
// Decimal units (KB, MB, GB) are powers of 1000, IEC units powers of 1024.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || num == "" {
		return 0, fmt.Errorf("size %q: write a number with a unit, e.g. 50GiB or 500MiB", s)
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "kB": 1e3,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q; use B, KiB, MiB, GiB or TiB", s, unit)
	}
	r := v * mult
	if r >= math.MaxInt64 { // float64(MaxInt64) is 2^63, which int64 cannot hold
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(r), nil
}

// SizeInput writes a byte count the way a person would type it back into a
// form: the shortest text ParseSize reads as exactly n, IEC units first
// ("50GiB", "1.5GiB", "1536MiB"), else decimal ones ("2GB" stays 2GB, not
// 1953125KiB), else bytes.
func SizeInput(n int64) string {
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	best := strconv.FormatInt(n, 10) + "B"
	for _, u := range []struct {
		name string
		mult float64
	}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		v := float64(n) / u.mult
		if v < 1 {
			continue
		}
		for dec := 0; dec <= 3; dec++ {
			text := strconv.FormatFloat(v, 'f', dec, 64) + u.name
			if back, err := ParseSize(text); err == nil && back == n {
				if len(text) < len(best) {
					best = text
				}
				break
			}
		}
	}
	return best
}

// Ago says how long before now t was, in the manner of oc: "About a minute
// ago", "5 minutes ago", "4 months ago". Times after now read "in the future".
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	if d < 0 {
		if d > -time.Minute {
			return "just now"
		}
		return "in the future"
	}
	return Duration(d) + " ago"
}

// Duration is a coarse human duration: "About a minute", "3 hours", "2 weeks".
func Duration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < 2*time.Minute:
		return "About a minute"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 2*time.Hour:
		return "About an hour"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day")
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week")
	case d < 365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month")
	default:
		return plural(int(d.Hours()/24/365), "year")
	}
}

// HumanDuration is oc's wording of a duration (docker/go-units'
// HumanDuration, which `oc describe` prints with " ago"): "Less than a
// second", "About a minute", "3 hours" (rounded), "11 days", "5 weeks",
// "7 months", "11 years".
func HumanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return strconv.Itoa(seconds) + " seconds"
	}
	minutes := int(d.Minutes())
	switch {
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return strconv.Itoa(minutes) + " minutes"
	}
	hours := int(d.Hours() + 0.5)
	switch {
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return strconv.Itoa(hours) + " hours"
	case hours < 24*7*2:
		return strconv.Itoa(hours/24) + " days"
	case hours < 24*30*2:
		return strconv.Itoa(hours/24/7) + " weeks"
	case hours < 24*365*2:
		return strconv.Itoa(hours/24/30) + " months"
	}
	return strconv.Itoa(int(d.Hours())/24/365) + " years"
}
