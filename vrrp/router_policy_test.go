package vrrp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// A node that cannot bind its VIP (EPERM: only CAP_NET_RAW) must not stay
// Master: it goes to FAULT with the bind as its cause, never runs
// OnMaster, and its lower-priority peer takes over and holds the VIP.
func TestRouterBindFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		ba, bb := &vipfake.Binder{}, &vipfake.Binder{}
		ba.SetError(errors.New("operation not permitted"))
		var calls sync.Map
		onMaster := func(name string) func(context.Context, string) {
			return func(ctx context.Context, inst string) {
				calls.Store(name, true)
				<-ctx.Done()
			}
		}
		a, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: ba,
			Instances: []vrrp.InstanceConfig{v3inst(200)}, OnMaster: onMaster("a")})
		t.Cleanup(stopA)
		b, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Binder: bb,
			Instances: []vrrp.InstanceConfig{v3inst(100)}, OnMaster: onMaster("b")})
		t.Cleanup(stopB)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		sa, _ := a.InstanceStatus("VI_1")
		if sa.State == vrrp.Master || stateOf(t, b, "VI_1") != vrrp.Master || !bb.Has(vip4) || ba.Has(vip4) {
			t.Fatalf("a %v (faults %v), b %v, b holds the VIP %v: want a not Master, b Master with the VIP",
				sa.State, sa.Faults, stateOf(t, b, "VI_1"), bb.Has(vip4))
		}
		if _, ok := calls.Load("a"); ok {
			t.Error("OnMaster ran on a, whose VIP was never bound")
		}
		if sa.Stats.BindErrors == 0 {
			t.Error("no bind error counted")
		}
		// Once binding works, a takes over again (after a retry), now
		// with the VIP.
		ba.SetError(nil)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if stateOf(t, a, "VI_1") != vrrp.Master || !ba.Has(vip4) || bb.Has(vip4) {
			t.Errorf("after the binder recovered: a %v holds %v, b %v", stateOf(t, a, "VI_1"), ba.Has(vip4), stateOf(t, b, "VI_1"))
		}
		if _, ok := calls.Load("a"); !ok {
			t.Error("OnMaster did not run on a once its VIP was bound")
		}
	})
}

// Reloading a Master from priority 100 to 110 while a tracked check holds
// -20 advertises 90: never 110 first.
func TestRouterReloadPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		a, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		t.Cleanup(stopA)
		if err := a.AdjustPriority("VI_1", "check:chk", -20); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if stateOf(t, a, "VI_1") != vrrp.Master {
			t.Fatal("no Master")
		}
		var mu sync.Mutex
		var prios []uint8
		untap := seg.Tap(func(f fake.Frame) {
			var adv vrrp.Advertisement
			if f.From == "a" && adv.Unmarshal(f.Msg, false) == nil {
				mu.Lock()
				prios = append(prios, adv.Priority)
				mu.Unlock()
			}
		})
		defer untap()
		if err := a.Reload(context.Background(), []vrrp.InstanceConfig{v3inst(110)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(prios) == 0 {
			t.Fatal("no adverts after the reload")
		}
		for _, p := range prios {
			if p != 90 {
				t.Fatalf("adverts after the reload %v: want priority 90 only", prios)
			}
		}
	})
}

// OnMaster calls of one instance never overlap: Master -> Backup -> Master
// while the first call is still draining after its context ended starts
// the second only once the first has returned.
func TestRouterOnMasterNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		var (
			mu            sync.Mutex
			running, most int
			calls         int
		)
		a, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: &vipfake.Binder{},
			Instances: []vrrp.InstanceConfig{v3inst(150)},
			OnMaster: func(ctx context.Context, inst string) {
				mu.Lock()
				running++
				calls++
				most = max(most, running)
				mu.Unlock()
				<-ctx.Done()
				time.Sleep(5 * time.Second) // draining connections
				mu.Lock()
				running--
				mu.Unlock()
			}})
		t.Cleanup(stopA)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		// Higher priority for a moment, then gone: a steps down and
		// takes over again within a second.
		if err := a.SetPriority("VI_1", 10); err != nil {
			t.Fatal(err)
		}
		b, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		t.Cleanup(stopB)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if stateOf(t, b, "VI_1") != vrrp.Master || stateOf(t, a, "VI_1") != vrrp.Backup {
			t.Fatalf("b %v a %v, want b Master", stateOf(t, b, "VI_1"), stateOf(t, a, "VI_1"))
		}
		if err := a.ResetPriority("VI_1"); err != nil {
			t.Fatal(err)
		}
		stopB()
		time.Sleep(time.Second)
		synctest.Wait()
		if stateOf(t, a, "VI_1") != vrrp.Master {
			t.Fatal("a did not take over again")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if most != 1 || calls != 2 {
			t.Errorf("%d calls, at most %d at once; want 2 calls, one at a time", calls, most)
		}
	})
}

// stuckBinder is a vipfake.Binder whose Bind on one interface hangs until
// its context ends.
type stuckBinder struct {
	vipfake.Binder
	stuck string
}

func (b *stuckBinder) Bind(ctx context.Context, iface string, vips []vrrp.VIP) error {
	if iface == b.stuck {
		<-ctx.Done()
		return ctx.Err()
	}
	return b.Binder.Bind(ctx, iface, vips)
}

// A bind that hangs holds up neither the owner loop (the other instance's
// adverts go on) nor the binds of other instances: it runs beside the loop,
// and the instance whose bind brings no result goes to FAULT.
func TestRouterStuckBind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		i1, i2 := v3inst(150), v3inst(150)
		i1.Interface = "eth1"
		i2.Name, i2.VRID = "VI_2", 52
		i2.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/24")}}
		b := &stuckBinder{stuck: "eth1"}
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: b, Instances: []vrrp.InstanceConfig{i1, i2}})
		t.Cleanup(stop)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s, _ := r.InstanceStatus("VI_1"); s.State == vrrp.Master {
			t.Errorf("VI_1 Master with its bind stuck (faults %v)", s.Faults)
		}
		s, _ := r.InstanceStatus("VI_2")
		if s.State != vrrp.Master || !b.Has(i2.VIPs[0].Prefix) || s.Stats.AdvertsSent < 5 {
			t.Errorf("VI_2 %v, VIP bound %v, %d adverts sent: want Master with its VIP, advertising", s.State, b.Has(i2.VIPs[0].Prefix), s.Stats.AdvertsSent)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Peers that cannot hear each other for the same VRID (another VRRP
// version, another address list) each stay Master of the same addresses:
// a warning names the sender and says what differs, rate-limited.
func TestRouterWarnsWho(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other func(c *vrrp.InstanceConfig)
		want  string
	}{
		{"version", func(c *vrrp.InstanceConfig) { c.Version = 2 }, "VRRPv2 advert for VRID 51 from 198.18.0.2, this instance runs VRRPv3"},
		{"address list", func(c *vrrp.InstanceConfig) {
			c.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/24")}}
		}, "advert for VRID 51 from 198.18.0.2 lists [198.18.0.101], this instance [198.18.0.100]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
				t.Cleanup(func() { seg.Close() })
				var logs syncBuffer
				log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
				_, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Logger: log, Instances: []vrrp.InstanceConfig{v3inst(150)}})
				t.Cleanup(stopA)
				other := v3inst(100)
				tc.other(&other)
				_, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Instances: []vrrp.InstanceConfig{other}})
				t.Cleanup(stopB)
				time.Sleep(30 * time.Second)
				synctest.Wait()
				out := logs.String()
				if n := strings.Count(out, tc.want); n < 1 || n > 3 {
					t.Errorf("%d warnings %q in 30 s, want 1 to 3 (one per 10 s):\n%s", n, tc.want, out)
				}
				if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "src=198.18.0.2") {
					t.Errorf("not a warning naming the sender:\n%s", out)
				}
			})
		})
	}
}

// A VIP that is the interface's own address would be deleted from it when
// the instance leaves Master: Run refuses it, naming it.
func TestRouterRefusesOwnAddressAsVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		c := v3inst(100)
		c.VIPs = []vrrp.VIP{{Prefix: netip.PrefixFrom(addr4(1), 24)}}
		r, err := vrrp.NewRouter(vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: &vipfake.Binder{}, Instances: []vrrp.InstanceConfig{c}})
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(context.Background())
		if !errors.Is(err, vrrp.ErrConfig) || !strings.Contains(err.Error(), "198.18.0.1/24 is the address of eth0") {
			t.Errorf("Run: %v, want a configuration error naming the VIP", err)
		}
	})
}

// WaitState returns once the instance is in the state, at the simulated
// time it got there, and says so when the instance is unknown or ctx ends.
func TestRouterWaitState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		a, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(150)}})
		t.Cleanup(stopA)
		b, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		t.Cleanup(stopB)
		ctx := context.Background()
		if _, err := a.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stopA()
		s, err := b.WaitState(ctx, "VI_1", vrrp.Master)
		if err != nil || s.State != vrrp.Master {
			t.Fatalf("b: %v %v", s.State, err)
		}
		// After a priority 0 advert: Skew_Time of priority 100.
		if got, want := time.Since(start), 156*time.Second/256; got != want {
			t.Errorf("b became Master %v after the stop, want Skew_Time %v", got, want)
		}
		if _, err := b.WaitState(ctx, "VI_9", vrrp.Master); !errors.Is(err, vrrp.ErrUnknownInstance) {
			t.Errorf("unknown instance: %v", err)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if s, err := b.WaitState(short, "VI_1", vrrp.Fault); !errors.Is(err, context.DeadlineExceeded) || s.State != vrrp.Master {
			t.Errorf("waiting for a state that does not come: %v %v", s.State, err)
		}
	})
}

// The README's PreciseClock copied into a synctest test fails at once,
// saying to leave Clock nil, instead of hanging until -timeout.
func TestRouterPreciseClockInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		r, err := vrrp.NewRouter(vrrp.Config{Clock: vrrp.PreciseClock{}, Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(context.Background())
		if !errors.Is(err, vrrp.ErrConfig) || !strings.Contains(err.Error(), "leave Clock nil in tests") {
			t.Errorf("Run: %v, want a configuration error saying to leave Clock nil", err)
		}
	})
}

// Stats.MasterTime adds up the Master terms that ended; the running one
// is the time since Status.Since.
func TestRouterMasterTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(150)}})
		t.Cleanup(stop)
		ctx := context.Background()
		if _, err := r.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if err := r.SetFault("VI_1", "test", true); err != nil {
			t.Fatal(err)
		}
		s, _ := r.WaitState(ctx, "VI_1", vrrp.Fault)
		if s.Stats.MasterTime != 3*time.Second {
			t.Errorf("after a 3 s term: %v", s.Stats.MasterTime)
		}
		time.Sleep(10 * time.Second)
		if err := r.SetFault("VI_1", "test", false); err != nil {
			t.Fatal(err)
		}
		if _, err := r.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s, _ = r.InstanceStatus("VI_1")
		if s.Stats.MasterTime != 3*time.Second || time.Since(s.Since) != 2*time.Second {
			t.Errorf("in a second term: MasterTime %v, since %v", s.Stats.MasterTime, time.Since(s.Since))
		}
	})
}
