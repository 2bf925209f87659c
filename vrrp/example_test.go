package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// A Router alone on a segment becomes Master after Master_Down_Interval,
// and on stop it sends priority 0 and releases its address.
func ExampleNewRouter() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	binder := &vipfake.Binder{}
	vip := netip.MustParsePrefix("198.18.0.100/24")
	master, printed := make(chan struct{}), make(chan struct{})
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", netip.MustParseAddr("198.18.0.1")),
		Binder:    binder,
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 200,
			AdvertInterval: 10 * time.Millisecond,
			VIPs:           []vrrp.VIP{{Prefix: vip}},
		}},
		OnTransition: func(t vrrp.Transition) {
			fmt.Printf("%s: %s -> %s (%s)\n", t.Instance, t.From, t.To, t.Reason)
			if t.To == vrrp.Master {
				close(printed)
			}
		},
		OnMaster: func(ctx context.Context, instance string) {
			// Called once the VIPs are bound.
			close(master)
			<-ctx.Done() // serve on the VIP while Master
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-master
	<-printed // the callbacks run in goroutines of their own
	fmt.Println("VIP bound:", binder.Has(vip))
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	fmt.Println("VIP bound:", binder.Has(vip))
	// Output:
	// VI_1: INIT -> BACKUP (startup)
	// VI_1: BACKUP -> MASTER (master-down)
	// VIP bound: true
	// VI_1: MASTER -> INIT (shutdown)
	// VIP bound: false
}

// A Machine is driven by hand: every input takes the time, and the returned
// Effects say what to do.
func ExampleMachine() {
	m := vrrp.NewMachine(vrrp.MachineConfig{
		VRID: 51, Version: 3, Priority: 100, AdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")},
		LocalAddr: netip.MustParseAddr("198.18.0.2"),
	})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := m.Start(t0)
	fmt.Println(e.From, "->", e.To, "Master_Down in", m.Deadline().Sub(t0))

	e = m.Tick(m.Deadline())
	fmt.Println(e.From, "->", e.To, e.Reason, "send:", e.Send, "bind:", e.Bind)

	// A higher priority Master appears.
	adv := vrrp.Advertisement{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
		Interval: 100, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	e = m.Receive(t0.Add(5*time.Second), &adv, vrrp.PacketInfo{
		Src: netip.MustParseAddr("198.18.0.1"), Dst: vrrp.Group4, TTL: 255})
	fmt.Println(e.From, "->", e.To, e.Reason, "unbind:", e.Unbind)
	// Output:
	// INIT -> BACKUP Master_Down in 3.609375s
	// BACKUP -> MASTER master-down send: true bind: true
	// MASTER -> BACKUP preempted unbind: true
}

// Encoding and decoding a VRRPv3 advertisement.
func ExampleAdvertisement() {
	src, group := netip.MustParseAddr("198.18.0.1"), vrrp.Group4
	a := vrrp.Advertisement{Version: 3, VRID: 51, Priority: 150, Interval: 100,
		Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	msg, err := a.Append(nil, src, group)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", msg)

	var b vrrp.Advertisement
	if err := b.Unmarshal(msg, false); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.VRID, b.Priority, b.IntervalDuration(), b.Addresses, vrrp.VerifyChecksum(msg, src, group, group))
	// Output:
	// 31 33 96 01 00 64 cb 4d c6 12 00 64
	// 51 150 1s [198.18.0.100] ok
}

// WaitState waits for a state without knowing the protocol's timers. In a
// testing/synctest bubble with the fake segment it returns as soon as the
// simulated time gets there; here it runs in real time.
func ExampleRouter_WaitState() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", netip.MustParseAddr("198.18.0.1")),
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 200,
			AdvertInterval: 10 * time.Millisecond,
			VIPs:           []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	wait, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	s, err := r.WaitState(wait, "VI_1", vrrp.Master)
	fmt.Println(s.State, err)
	cancel()
	<-done
	// Output:
	// MASTER <nil>
}

// A gateway that fails over: the Master holds the default route of table
// 100 and the rule that sends its VIP's traffic there (keepalived's
// virtual_routes and virtual_rules), and releases both when it stops being
// Master. Here a fake binder shows what is held.
func ExampleInstanceConfig_virtualRoutes() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	binder := &vipfake.Binder{}
	vip := netip.MustParsePrefix("198.18.0.100/24")
	route := vrrp.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("198.18.0.254"), Dev: "eth0", Table: 100}
	rule := vrrp.Rule{From: netip.PrefixFrom(vip.Addr(), 32), Table: 100, Priority: 100}
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", netip.MustParseAddr("198.18.0.1")),
		Binder:    binder,
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 200,
			AdvertInterval: 10 * time.Millisecond,
			VIPs:           []vrrp.VIP{{Prefix: vip}},
			VirtualRoutes:  []vrrp.Route{route},
			VirtualRules:   []vrrp.Rule{rule},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	wait, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	if _, err := r.WaitState(wait, "VI_1", vrrp.Master); err != nil {
		fmt.Println(err)
	}
	for !binder.HasRule(rule) && wait.Err() == nil {
		time.Sleep(time.Millisecond) // the bind runs beside the Router's loop
	}
	fmt.Println("as Master:", binder.HasRoute(route), binder.HasRule(rule))
	cancel()
	<-done
	fmt.Println("stopped:", binder.HasRoute(route), binder.HasRule(rule))
	// Output:
	// as Master: true true
	// stopped: false false
}

// An instance that interoperates with keepalived's auth_type AH: VRRPv2
// over IPv4, AuthPass as the key. Its adverts are whole IPv4 datagrams of
// protocol 51, which AppendAH builds and ParseAH and VerifyAH check; the
// transport.Linux Conn sends them with IP_HDRINCL.
func ExampleInstanceConfig_authAH() {
	c := vrrp.InstanceConfig{
		Name: "VI_CS", Interface: "eth0", VRID: 51, Version: 2, Priority: 100,
		AuthPass: "secret", AuthAH: true,
		VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
	}
	fmt.Println((&vrrp.Config{Instances: []vrrp.InstanceConfig{c}}).Validate())

	// The ICV covers the IP header: a datagram built for one source does
	// not verify once the source changes.
	a := vrrp.Advertisement{Version: 2, VRID: 51, Priority: 100, Interval: 1, AuthType: vrrp.AuthAH,
		Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	msg, _ := a.Append(nil, netip.Addr{}, netip.Addr{})
	key := vrrp.PasswordData(c.AuthPass)
	pkt, _ := vrrp.AppendAH(nil, vrrp.AHFields{Src: netip.MustParseAddr("198.18.0.1"), Dst: vrrp.Group4, ID: 1, Seq: 1}, msg, key)
	fmt.Println(vrrp.VerifyAH(pkt, key, false))
	pkt[15] = 2 // 198.18.0.2
	fmt.Println(vrrp.VerifyAH(pkt, key, false))
	// Output:
	// <nil>
	// true
	// false
}

// NoAccept is RFC 5798's Accept_Mode False (keepalived's no_accept, the
// default of its strict mode): a Master that does not own its addresses
// (priority below 255) binds them, so that it answers ARP for them and
// routes for them, but drops the packets addressed to them. The Binder
// filters the addresses before it binds them and until it has removed
// them: on a real host (a Config with no Transport, or vip.Netlink),
// with nftables rules in a table of its own, inet vrrpkit, replaced at
// the start and deleted on stop.
func ExampleInstanceConfig_noAccept() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	binder := &vipfake.Binder{} // a vrrp.FilterBinder, as vip.Netlink
	vip := netip.MustParsePrefix("198.18.0.100/24")
	master := make(chan struct{})
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", netip.MustParseAddr("198.18.0.1")),
		Binder:    binder,
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 200,
			AdvertInterval: 10 * time.Millisecond,
			VIPs:           []vrrp.VIP{{Prefix: vip}},
			NoAccept:       true,
		}},
		// OnMaster runs once the addresses are bound (and filtered).
		OnMaster: func(ctx context.Context, _ string) {
			fmt.Println("Master; bound:", binder.Has(vip), "filtered:", binder.Filtered(vip.Addr()))
			close(master)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-master:
	case <-time.After(5 * time.Second):
		fmt.Println("no Master")
	}
	cancel()
	<-done
	fmt.Println("stopped; bound:", binder.Has(vip), "filtered:", binder.Filtered(vip.Addr()))
	// Output:
	// Master; bound: true filtered: true
	// stopped; bound: false filtered: false
}
