package fake_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Two routers on one segment: r1 multicasts a VRRPv3 advertisement and r2
// reads and decodes it.
func Example() {
	seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
	defer seg.Close()
	r1 := seg.NewHost("r1", netip.MustParseAddr("192.0.2.1"))
	r2 := seg.NewHost("r2", netip.MustParseAddr("192.0.2.2"))

	ctx := context.Background()
	ep := vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4}
	c1, err := r1.Open(ctx, ep)
	if err != nil {
		panic(err)
	}
	defer c1.Close()
	c2, err := r2.Open(ctx, ep)
	if err != nil {
		panic(err)
	}
	defer c2.Close()

	adv := vrrp.Advertisement{
		Version:   3,
		VRID:      51,
		Priority:  150,
		Interval:  100, // centiseconds
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
	}
	msg, err := adv.Append(nil, c1.LocalAddr(), vrrp.Group4)
	if err != nil {
		panic(err)
	}
	if err := c1.WriteTo(msg, netip.Addr{}, vrrp.Group4); err != nil {
		panic(err)
	}

	buf := make([]byte, 1500)
	n, info, err := c2.ReadFrom(buf)
	if err != nil {
		panic(err)
	}
	var got vrrp.Advertisement
	if err := got.Unmarshal(buf[:n], false); err != nil {
		panic(err)
	}
	fmt.Printf("%v > %v ttl %d\n", info.Src, info.Dst, info.TTL)
	fmt.Printf("vrid %d priority %d interval %v addresses %v\n", got.VRID, got.Priority, got.IntervalDuration(), got.Addresses)
	fmt.Println("checksum", vrrp.VerifyChecksum(buf[:n], info.Src, info.Dst, vrrp.Group4))
	// Output:
	// 192.0.2.1 > 224.0.0.18 ttl 255
	// vrid 51 priority 150 interval 1s addresses [192.0.2.100]
	// checksum ok
}

// Links stands in for the link monitor: an interface that goes down puts
// the instances on it in FAULT, and back up they contend again.
func ExampleLinks() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	addr := netip.MustParseAddr("198.18.0.1")
	links := fake.NewLinks(fake.Up("eth0", addr))
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", addr),
		Links:     links,
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
	s, _ := r.WaitState(wait, "VI_1", vrrp.Master)
	fmt.Println(s.State)
	links.SetUp("eth0", false)
	s, _ = r.WaitState(wait, "VI_1", vrrp.Fault)
	fmt.Println(s.State, s.Faults)
	links.SetUp("eth0", true)
	s, _ = r.WaitState(wait, "VI_1", vrrp.Master)
	fmt.Println(s.State)
	cancel()
	<-done
	// Output:
	// MASTER
	// FAULT [interface]
	// MASTER
}
