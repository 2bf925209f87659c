package health

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// countedCheck has a setting (Path) and state (its probe count).
type countedCheck struct {
	Path   string
	probes *atomic.Int64
}

func (f *countedCheck) Check(context.Context) error {
	if f.probes != nil {
		f.probes.Add(1)
	}
	return nil
}

// A Reload keeps a check whose settings are the same: the same type and
// exported fields, not the running state.
func TestSameChecker(t *testing.T) {
	s := Script{Path: "/bin/true", Args: []string{"a"}, User: "nobody"}
	s2 := s
	s2.Args = []string{"a"}
	s3 := s
	s3.Args = []string{"b"}
	p := &Process{Name: "nginx", Quorum: 2}
	for _, tc := range []struct {
		a, b Checker
		same bool
	}{
		{s, s2, true},
		{s, s3, false},
		{s, p, false},
		{p, &Process{Name: "nginx", Quorum: 2}, true},
		{p, &Process{Name: "nginx", Quorum: 3}, false},
		{&countedCheck{Path: "/x", probes: new(atomic.Int64)}, &countedCheck{Path: "/x"}, true},
		{&countedCheck{Path: "/x"}, &countedCheck{Path: "/y"}, false},
		{CheckerFunc(func(context.Context) error { return nil }), CheckerFunc(func(context.Context) error { return nil }), false},
		{nil, nil, true},
		{nil, s, false},
	} {
		if got := sameChecker(tc.a, tc.b); got != tc.same {
			t.Errorf("sameChecker(%#v, %#v) = %v", tc.a, tc.b, got)
		}
	}
	// A running Process's state (unexported) is not configuration.
	_ = p.Check(context.Background())
	if !sameChecker(p, &Process{Name: "nginx", Quorum: 2}) {
		t.Error("a probed Process differs from a new one")
	}
	// Defaults are settings like any other.
	a := Check{Name: "c", Checker: s}
	b := Check{Name: "c", Checker: s2, Interval: DefaultInterval, Timeout: DefaultInterval, Rise: 1, Fall: 1}
	if !sameCheck(a, b) {
		t.Error("a check with its defaults spelled out differs")
	}
	if b.Timeout = 2 * time.Second; sameCheck(a, b) {
		t.Error("another timeout is the same check")
	}
}
