//go:build linux

package bench

import (
	"fmt"
	"slices"
	"time"
)

// summary is the median and the worst (largest) of a series.
type summary struct {
	n      int
	median time.Duration
	worst  time.Duration
}

func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{n: len(s), median: m, worst: s[len(s)-1]}
}

// ms formats d in milliseconds with microsecond precision.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// mw formats a summary as "median / worst" in milliseconds.
func (s summary) mw() string {
	if s.n == 0 {
		return "-"
	}
	return ms(s.median) + " / " + ms(s.worst)
}

// yesNo formats whether a target was met.
func yesNo(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// skewTime is Skew_Time at prio for interval i (RFC 5798 section 6.1).
func skewTime(prio int, i time.Duration) time.Duration {
	return time.Duration(256-prio) * i / 256
}

// masterDown is Master_Down_Interval at prio for interval i.
func masterDown(prio int, i time.Duration) time.Duration {
	return 3*i + skewTime(prio, i)
}
