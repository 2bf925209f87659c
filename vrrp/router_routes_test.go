package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Virtual routes and rules follow the Master, as its addresses do
// (keepalived's virtual_routes / virtual_rules): held by the Master only,
// moved at failover, released at stop. Static ones are held for as long
// as Run runs, whatever the state.
func TestRouterVirtualRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		route := vrrp.Route{Dst: netip.MustParsePrefix("198.18.30.0/24"), Via: netip.MustParseAddr("198.18.0.254"), Dev: "eth0"}
		rule := vrrp.Rule{From: netip.MustParsePrefix("198.18.0.100/32"), Table: 100, Priority: 100}
		static := vrrp.Route{Dst: netip.MustParsePrefix("198.18.20.0/24"), Via: netip.MustParseAddr("198.18.0.254")}
		inst := func(prio uint8) vrrp.InstanceConfig {
			c := v3inst(prio)
			c.VirtualRoutes, c.VirtualRules = []vrrp.Route{route}, []vrrp.Rule{rule}
			return c
		}
		r1 := newNodeWith(t, seg, "r1", []netip.Addr{addr4(1)}, vrrp.Static{Routes: []vrrp.Route{static}}, inst(150))
		r2 := newNodeWith(t, seg, "r2", []netip.Addr{addr4(2)}, vrrp.Static{Routes: []vrrp.Route{static}}, inst(100))
		r1.start()
		r2.start()
		time.Sleep(time.Second)
		synctest.Wait()
		for _, n := range []*node{r1, r2} {
			if !n.binder.HasRoute(static) || n.binder.HasRoute(route) || n.binder.HasRule(rule) {
				t.Errorf("%s as Backup: static %v, virtual %v %v; want the static route alone", n.name,
					n.binder.HasRoute(static), n.binder.HasRoute(route), n.binder.HasRule(rule))
			}
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if !r1.binder.HasRoute(route) || !r1.binder.HasRule(rule) || r2.binder.HasRoute(route) || r2.binder.HasRule(rule) {
			t.Fatalf("after the election: r1 %v %v, r2 %v %v; want the Master alone to hold them",
				r1.binder.HasRoute(route), r1.binder.HasRule(rule), r2.binder.HasRoute(route), r2.binder.HasRule(rule))
		}
		r1.stop()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if r1.binder.HasRoute(route) || r1.binder.HasRule(rule) || r1.binder.HasRoute(static) {
			t.Errorf("r1 stopped still holds %v %v %v", r1.binder.HasRoute(route), r1.binder.HasRule(rule), r1.binder.HasRoute(static))
		}
		if !r2.binder.HasRoute(route) || !r2.binder.HasRule(rule) {
			t.Errorf("r2 took over without the routes: %v %v", r2.binder.HasRoute(route), r2.binder.HasRule(rule))
		}
		r2.stop()
	})
}

// OnLowerPriority reports each lower priority advert a Master hears
// (keepalived's notify_master_rx_lower_pri), after the Master answered it.
func TestRouterOnLowerPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		host := seg.NewHost("r1", addr4(1))
		var got []vrrp.LowerPriority
		r, err := vrrp.NewRouter(vrrp.Config{Transport: host, Instances: []vrrp.InstanceConfig{v3inst(150)},
			OnLowerPriority: func(l vrrp.LowerPriority) { got = append(got, l) }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		adv := vrrp.Advertisement{Version: 3, VRID: 51, Priority: 100, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
		msg, err := adv.Append(nil, addr4(9), vrrp.Group4)
		if err != nil {
			t.Fatal(err)
		}
		seg.Inject(host, vrrp.PacketInfo{Src: addr4(9), Dst: vrrp.Group4, TTL: 255}, msg)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if len(got) != 1 || got[0].Instance != "VI_1" || got[0].From != addr4(9) || got[0].Priority != 100 {
			t.Errorf("OnLowerPriority calls %+v, want one for VI_1 from %v priority 100", got, addr4(9))
		}
	})
}

// plainBinder binds addresses only: it hides the fake's RouteBinder and
// FilterBinder.
type plainBinder struct{ vrrp.Binder }

// A Binder that cannot hold routes, filter or make VMACs is refused for
// instances that need it, whether the Router runs on the real host (no
// Transport) or not, at start and at reload; never a panic later.
func TestBinderCapabilities(t *testing.T) {
	inst := v3inst(100)
	inst.VirtualRoutes = []vrrp.Route{{Dst: netip.MustParsePrefix("198.19.30.0/24"), Dev: "eth0"}}
	for _, tc := range []struct {
		name string
		cfg  vrrp.Config
	}{
		{"real host, own binder", vrrp.Config{Binder: plainBinder{&vipfake.Binder{}}, Instances: []vrrp.InstanceConfig{inst}}},
		{"fake transport", vrrp.Config{Transport: fake.NewSegment(fake.SegmentConfig{}).NewHost("a", addr4(1)),
			Binder: plainBinder{&vipfake.Binder{}}, Instances: []vrrp.InstanceConfig{inst}}},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), "VirtualRoutes: the Binder does not manage routes") {
			t.Errorf("%s: Validate = %v, want the VirtualRoutes refused", tc.name, err)
		}
	}
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	r, err := vrrp.NewRouter(vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: plainBinder{&vipfake.Binder{}},
		Instances: []vrrp.InstanceConfig{v3inst(100)}})
	if err != nil {
		t.Fatal(err)
	}
	err = r.ReloadGroups(t.Context(), []vrrp.InstanceConfig{inst}, nil)
	if !errors.Is(err, vrrp.ErrConfig) || !strings.Contains(err.Error(), "VirtualRoutes") {
		t.Errorf("reload adding routes with a plain Binder: %v, want ErrConfig", err)
	}
	// A rule needs a priority: the kernel would number each add anew.
	inst = v3inst(100)
	inst.VirtualRules = []vrrp.Rule{{Table: 100}}
	cfg := vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Binder: &vipfake.Binder{}, Instances: []vrrp.InstanceConfig{inst}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "VirtualRules[0]: a priority is required") {
		t.Errorf("a rule without priority: %v", err)
	}
}

// leasingFake is the fake with a lease: its addresses must be renewed.
type leasingFake struct{ *vipfake.Binder }

func (leasingFake) Lease() time.Duration { return 3 * time.Second }

// Static addresses are held whatever the state: with a leasing Binder the
// Router renews them every third of the lease until it stops.
func TestRouterRenewsStaticAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		b := leasingFake{&vipfake.Binder{}}
		static := vrrp.VIP{Prefix: netip.MustParsePrefix("198.18.7.1/24"), Device: "eth0"}
		r, err := vrrp.NewRouter(vrrp.Config{Transport: seg.NewHost("r1", addr4(1)), Binder: b,
			Instances: []vrrp.InstanceConfig{v3inst(100)}, Static: vrrp.Static{Addresses: []vrrp.VIP{static}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		binds := 0
		for _, c := range b.Calls() {
			if c.Op == vipfake.OpBind && len(c.VIPs) == 1 && c.VIPs[0] == static {
				binds++
			}
		}
		if binds < 10 {
			t.Errorf("static address bound %d times in 10 s with a 3 s lease, want the first bind and a renewal every second", binds)
		}
		cancel()
		<-done
		if b.Has(static.Prefix) {
			t.Error("static address left after Run returned")
		}
	})
}
