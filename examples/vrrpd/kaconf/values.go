package kaconf

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The number readers below follow keepalived's read_int, read_unsigned and
// read_decimal_unsigned (lib/parser.c): the same syntax, the same ranges
// and the same messages, which keepalived prints before the keyword's own
// message; ours put both in one diagnostic.

// parseUnsigned reads a decimal unsigned number in [lo, hi].
func parseUnsigned(s string, lo, hi uint64) (uint64, string) {
	t := strings.TrimLeft(s, whiteSpace)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Sprintf("negative number '%s'", s)
	}
	t = strings.TrimPrefix(t, "+")
	if t == "" || !allDigits(t) {
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v > math.MaxUint32 {
		return 0, fmt.Sprintf("number '%s' outside unsigned integer range", s)
	}
	if v < lo || v > hi {
		return v, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return v, ""
}

// parseInt reads a decimal signed number in [lo, hi].
func parseInt(s string, lo, hi int64) (int64, string) {
	t := strings.TrimLeft(s, whiteSpace)
	u := strings.TrimLeft(t, "+-")
	if len(t)-len(u) > 1 || u == "" || !allDigits(u) {
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Sprintf("number '%s' outside integer range", s)
	}
	if v < lo || v > hi {
		return v, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return v, ""
}

// parseDecimal reads a non-negative decimal number with at most six
// decimal places (microseconds), in [lo, hi] microseconds.
func parseDecimal(s string, lo, hi uint64) (uint64, string) {
	t := strings.TrimLeft(s, whiteSpace)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Sprintf("negative number '%s'", s)
	}
	t = strings.TrimPrefix(t, "+")
	ip, fp, hasDot := strings.Cut(t, ".")
	if (ip == "" && fp == "") || !allDigits(ip) || !allDigits(fp) || (hasDot && ip == "" && fp == "") {
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	if len(fp) > 6 {
		return 0, fmt.Sprintf("number '%s' has too many decimal places", s)
	}
	var whole uint64
	if ip != "" {
		var err error
		whole, err = strconv.ParseUint(ip, 10, 64)
		if err != nil || whole > math.MaxUint32 {
			return 0, fmt.Sprintf("number '%s' outside unsigned decimal range", s)
		}
	}
	frac := uint64(0)
	if fp != "" {
		f, _ := strconv.ParseUint(fp+strings.Repeat("0", 6-len(fp)), 10, 64)
		frac = f
	}
	v := whole*1e6 + frac
	if v < lo || v > hi {
		return v, fmt.Sprintf("number '%s' outside range [%d.%06d, %d.%06d]", s, lo/1e6, lo%1e6, hi/1e6, hi%1e6)
	}
	return v, ""
}

// parseTimer reads a time in seconds with fractions, like keepalived's
// read_timer (a <TIMER> in keepalived.conf(5)), in [lo, hi].
func parseTimer(s string, lo, hi time.Duration) (time.Duration, string) {
	v, msg := parseDecimal(s, uint64(lo/time.Microsecond), uint64(hi/time.Microsecond))
	return time.Duration(v) * time.Microsecond, msg
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseBool reads keepalived's <BOOL>: on|off|true|false|yes|no.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// parseAddr reads an IPv4 or IPv6 address (without zone).
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// joinMsg joins keepalived's number message and its keyword message.
func joinMsg(keyword, number string) string {
	if number == "" {
		return keyword
	}
	return keyword + " (" + number + ")"
}

// sprintf formats like fmt.Sprintf, but leaves a format without verbs
// alone (so that extra arguments do not show up as %!(EXTRA ...)).
func sprintf(format string, args ...any) string {
	if !strings.Contains(format, "%") {
		return format
	}
	return fmt.Sprintf(format, args...)
}
