//go:build linux

package health_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// fakeLinks is a LinkMonitor fed by the test.
type fakeLinks struct {
	mu      sync.Mutex
	state   map[string]vrrp.LinkState
	watches int
	subs    map[chan vrrp.LinkState]bool
	delay   time.Duration // before the initial report
}

func newFakeLinks(states ...vrrp.LinkState) *fakeLinks {
	f := &fakeLinks{state: map[string]vrrp.LinkState{}, subs: map[chan vrrp.LinkState]bool{}}
	for _, s := range states {
		f.state[s.Interface] = s
	}
	return f
}

func (f *fakeLinks) Watch(ctx context.Context, fn func(vrrp.LinkState)) error {
	ch := make(chan vrrp.LinkState, 16)
	f.mu.Lock()
	f.watches++
	f.subs[ch] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil
		}
	}
	f.mu.Lock()
	var initial []vrrp.LinkState
	for _, s := range f.state {
		initial = append(initial, s)
	}
	f.mu.Unlock()
	for _, s := range initial {
		fn(s)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-ch:
			fn(s)
		}
	}
}

func (f *fakeLinks) set(s vrrp.LinkState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[s.Interface] = s
	for ch := range f.subs {
		ch <- s
	}
}

func (f *fakeLinks) watchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches
}

func checkIn(c health.Checker, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Check(ctx)
}

func TestInterfaceCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks(
			vrrp.LinkState{Interface: "eth0", Exists: true, Up: true},
			vrrp.LinkState{Interface: "eth1", Exists: true, Up: true},
		)
		it := &health.Interface{Name: "eth0", Monitor: links}

		// Nobody watches: Check says so once its context ends.
		start := time.Now()
		if err := checkIn(it, time.Second); !errors.Is(err, health.ErrNotWatching) {
			t.Fatalf("before Run: %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Check waited %v", d)
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- it.Run(ctx) }()
		synctest.Wait()
		if err := it.Run(ctx); !errors.Is(err, health.ErrCheck) {
			t.Errorf("a second Run: %v", err)
		}
		for range 100 {
			if err := checkIn(it, time.Second); err != nil {
				t.Fatalf("up: %v", err)
			}
		}
		// Other interfaces do not matter.
		links.set(vrrp.LinkState{Interface: "eth1", Exists: true})
		synctest.Wait()
		if err := checkIn(it, time.Second); err != nil {
			t.Fatalf("eth1 down: %v", err)
		}
		links.set(vrrp.LinkState{Interface: "eth0", Exists: true})
		synctest.Wait()
		err := checkIn(it, time.Second)
		if !errors.Is(err, health.ErrInterfaceDown) || !strings.Contains(err.Error(), "down or has no carrier") {
			t.Errorf("down: %v", err)
		}
		links.set(vrrp.LinkState{Interface: "eth0"})
		synctest.Wait()
		if err := checkIn(it, time.Second); !errors.Is(err, health.ErrInterfaceDown) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("deleted: %v", err)
		}
		links.set(vrrp.LinkState{Interface: "eth0", Exists: true, Up: true})
		synctest.Wait()
		if err := checkIn(it, time.Second); err != nil {
			t.Errorf("up again: %v", err)
		}
		if n := links.watchCount(); n != 1 {
			t.Errorf("%d subscriptions for 100 probes and more", n)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		// The state is forgotten with the Run.
		if err := checkIn(it, time.Second); !errors.Is(err, health.ErrNotWatching) {
			t.Errorf("after Run: %v", err)
		}
		if err := (&health.Interface{Name: "x"}).Run(context.Background()); !errors.Is(err, health.ErrCheck) {
			t.Errorf("Run without a Monitor: %v", err)
		}
	})
}

// Check waits for the first report; an interface never reported is taken
// not to exist once one Check has waited in vain.
func TestInterfaceFirstReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks(vrrp.LinkState{Interface: "eth0", Exists: true, Up: true})
		links.delay = 300 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		eth0 := &health.Interface{Name: "eth0", Monitor: links}
		none := &health.Interface{Name: "none0", Monitor: links}
		var wg sync.WaitGroup
		for _, it := range []*health.Interface{eth0, none} {
			wg.Go(func() { _ = it.Run(ctx) })
		}
		start := time.Now()
		if err := checkIn(eth0, time.Second); err != nil {
			t.Errorf("eth0: %v", err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("the first Check took %v, want the monitor's 300ms", d)
		}
		start = time.Now()
		if err := checkIn(none, time.Second); !errors.Is(err, health.ErrInterfaceDown) {
			t.Errorf("none0: %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("the first Check of none0 took %v, want its timeout", d)
		}
		start = time.Now()
		if err := checkIn(none, time.Second); !errors.Is(err, health.ErrInterfaceDown) || time.Since(start) != 0 {
			t.Errorf("the second Check of none0: %v after %v", err, time.Since(start))
		}
		// It appears.
		links.set(vrrp.LinkState{Interface: "none0", Exists: true, Up: true})
		synctest.Wait()
		if err := checkIn(none, time.Second); err != nil {
			t.Errorf("none0 created: %v", err)
		}
		cancel()
		wg.Wait()
	})
}

// A Tracker runs the Interface's subscription (it is a Runner) for as long
// as it runs, once however many checks use it.
func TestTrackerRunsInterface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		links := newFakeLinks(vrrp.LinkState{Interface: "eth1", Exists: true, Up: true})
		it := &health.Interface{Name: "eth1", Monitor: links}
		target := newRecordingTarget()
		tr := &health.Tracker{
			Target: target,
			Checks: []health.Check{
				{Name: "eth1", Checker: it, Interval: time.Second},
				{Name: "eth1-again", Checker: it, Interval: 2 * time.Second},
			},
			Tracks: map[string][]health.Track{
				"VI_1": {{Check: "eth1"}},
				"VI_2": {{Check: "eth1-again", Weight: -20}},
			},
		}
		stop := runTracker(t, tr)
		time.Sleep(1500 * time.Millisecond)
		target.take()
		links.set(vrrp.LinkState{Interface: "eth1", Exists: true})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		calls := strings.Join(target.take(), "\n")
		for _, want := range []string{"+2s VI_1 check:eth1 fault=true", "+2s VI_2 check:eth1-again delta=-20"} {
			if !strings.Contains(calls, want) {
				t.Errorf("no %q in:\n%s", want, calls)
			}
		}
		if n := links.watchCount(); n != 1 {
			t.Errorf("%d subscriptions", n)
		}
		stop()
		if err := checkIn(it, time.Second); !errors.Is(err, health.ErrNotWatching) {
			t.Errorf("after the Tracker: %v", err)
		}
	})
}

// waitCheck probes c every 50 ms until cond holds for its result, for at
// most 10 s.
func waitCheck(t *testing.T, c health.Checker, what string, cond func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := checkIn(c, time.Second)
		if cond(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after 10s", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// On a real interface in a namespace, through transport.Monitor's netlink
// subscription.
func TestInterfaceNetns(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	mon := transport.Monitor{Namespace: h.Path()}
	it := &health.Interface{Name: h.Iface, Monitor: mon}
	missing := &health.Interface{Name: "vrrpkit-none", Monitor: mon}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for _, i := range []*health.Interface{it, missing} {
		wg.Go(func() {
			if err := i.Run(ctx); err != nil {
				t.Errorf("Run(%s): %v", i.Name, err)
			}
		})
	}
	up := func(err error) bool { return err == nil }
	down := func(err error) bool { return errors.Is(err, health.ErrInterfaceDown) }
	waitCheck(t, it, "eth0 up", up)
	waitCheck(t, missing, "a missing interface", down)

	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, it, "eth0 set down", down)
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, it, "eth0 set up", up)

	// Carrier lost at the other end of the cable.
	if err := lab.SetCable(h, false); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, it, "cable pulled", down)
	if err := lab.SetCable(h, true); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, it, "cable back", up)
}
