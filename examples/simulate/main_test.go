package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTimeline runs the demonstration faster than by default and checks
// that the story it tells is the one that happened.
func TestTimeline(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 40, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Log("\n" + text)
	want := []string{
		`r1 BACKUP -> MASTER \(master-down, priority 150\)`,
		`VIP held by r1\n`,
		`crash r1`,
		`r1's priority 0 advert is lost`,
		`r2 BACKUP -> MASTER \(master-down, priority 100\)`,
		`VIP held by r2\n`,
		// r1's takeover advert leaves before its own transition is
		// reported (RFC 5798 6.4.2), so r2's callback may print first.
		`(?s)r1 BACKUP -> MASTER \(master-down, priority 150\).*r2 MASTER -> BACKUP \(preempted, priority 100\)|` +
			`r2 MASTER -> BACKUP \(preempted, priority 100\).*r1 BACKUP -> MASTER \(master-down, priority 150\)`,
		`VIP held by r1\n`,
		`r1 sends priority 0`,
		`r2 BACKUP -> MASTER \(master-down, priority 100\)`,
		`VIP held by r2\n`,
		`VIP held by nobody\n`,
	}
	rest := text
	for _, w := range want {
		loc := regexp.MustCompile(w).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("timeline lacks %q after the earlier events", w)
		}
		rest = rest[loc[1]:]
	}
	if strings.Contains(text, "r3 BACKUP -> MASTER") {
		t.Error("r3, the lowest priority, became Master")
	}
}
