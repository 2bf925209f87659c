package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// awaitTarget records the waits it is asked for.
type awaitTarget struct {
	nopTarget
	mu     sync.Mutex
	awaits []string
}

func (a *awaitTarget) Await(instance, source string, within time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.awaits = append(a.awaits, fmt.Sprintf("%s %s %v", instance, source, within))
	return nil
}

func (a *awaitTarget) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.awaits
	a.awaits = nil
	return out
}

// An instance with tracked checks does not contend before their first
// results (keepalived runs a vrrp_script before its instances contend):
// Await, and Run as it starts each check, ask the Target to wait for each
// tracked check's first result, for at most its Timeout and a second.
// Checks that nothing tracks are not waited for.
func TestTrackerAwaitsFirstResults(t *testing.T) {
	target := &awaitTarget{}
	block := make(chan struct{})
	defer close(block)
	slow := health.CheckerFunc(func(ctx context.Context) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil
	})
	tr := &health.Tracker{Target: target,
		Checks: []health.Check{
			{Name: "a", Checker: slow, Interval: 2 * time.Second, Timeout: 500 * time.Millisecond},
			{Name: "b", Checker: slow, Interval: time.Second},
			{Name: "untracked", Checker: slow},
		},
		Tracks: map[string][]health.Track{"VI_1": {{Check: "a", Weight: -10}, {Check: "b"}}, "VI_2": {{Check: "a"}}},
	}
	want := []string{"VI_1 check:a 1.5s", "VI_1 check:b 2s", "VI_2 check:a 1.5s"}
	if err := tr.Await(); err != nil {
		t.Fatal(err)
	}
	if got := target.take(); !slices.Equal(got, want) {
		t.Errorf("Await asked for %q, want %q", got, want)
	}
	stop := runTracker(t, tr)
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for len(got) < len(want) && time.Now().Before(deadline) {
		got = append(got, target.take()...)
		time.Sleep(time.Millisecond)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Run asked for %q, want %q", got, want)
	}
}

// A Tracker whose tracks name an instance the Router does not have is
// refused by Validate (and so by Run), naming it.
func TestTrackerValidateInstances(t *testing.T) {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	r, err := vrrp.NewRouter(vrrp.Config{Transport: seg.NewHost("a", netip.MustParseAddr("198.18.0.1")),
		Instances: []vrrp.InstanceConfig{{Name: "VI_1", Interface: "eth0", VRID: 51,
			VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ok := health.CheckerFunc(func(context.Context) error { return nil })
	tr := &health.Tracker{Target: r, Checks: []health.Check{{Name: "c", Checker: ok}},
		Tracks: map[string][]health.Track{"VI_1": {{Check: "c"}}, "VI_9": {{Check: "c"}}}}
	err = tr.Validate()
	if !errors.Is(err, health.ErrCheck) || !strings.Contains(err.Error(), "instance VI_9 is not one of the Target's") || strings.Contains(err.Error(), "VI_1") {
		t.Errorf("Validate: %v, want VI_9 refused and VI_1 accepted", err)
	}
	if err := tr.Run(context.Background()); err == nil {
		t.Error("Run accepted the unknown instance")
	}
}
