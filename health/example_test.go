package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// A Tracker moves a Router's priority with a check, as keepalived's
// track_script with a weight: when the service behind r1 fails, r1 drops
// from 150 to 90, below r2's 100, and r2 takes the address over.
func ExampleTracker() {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	masters, left := make(chan string, 4), make(chan string, 4)
	router := func(host string, prio uint8) *vrrp.Router {
		r, err := vrrp.NewRouter(vrrp.Config{
			Transport: seg.NewHost(host, netip.MustParseAddr("198.18.0."+host[1:])),
			Binder:    &vipfake.Binder{},
			Instances: []vrrp.InstanceConfig{{
				Name: "VI_1", Interface: "eth0", VRID: 51, Priority: prio,
				AdvertInterval: 10 * time.Millisecond,
				VIPs:           []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
			}},
			OnTransition: func(t vrrp.Transition) {
				switch {
				case t.To == vrrp.Master:
					masters <- host
				case t.From == vrrp.Master:
					left <- host
				}
			},
		})
		if err != nil {
			panic(err)
		}
		return r
	}
	r1, r2 := router("r1", 150), router("r2", 100)

	// The service r1 serves: healthy until it is not.
	var healthy atomic.Bool
	healthy.Store(true)
	service := health.CheckerFunc(func(context.Context) error {
		if !healthy.Load() {
			return errors.New("service down")
		}
		return nil
	})
	tracker := &health.Tracker{
		Target: r1,
		Checks: []health.Check{{Name: "service", Checker: service, Interval: 10 * time.Millisecond, Fall: 2, Rise: 2}},
		Tracks: map[string][]health.Track{"VI_1": {{Check: "service", Weight: -60}}},
	}
	if err := tracker.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{r1.Run, tracker.Run} {
		wg.Go(func() { _ = run(ctx) })
	}
	fmt.Println(<-masters, "is Master")
	wg.Go(func() { _ = r2.Run(ctx) }) // joins as Backup
	healthy.Store(false)
	fmt.Println(<-masters, "is Master")
	fmt.Println(<-left, "left Master")
	s, _ := r1.InstanceStatus("VI_1")
	fmt.Println("r1:", s.State, "at priority", s.EffectivePriority)
	cancel()
	wg.Wait()
	// Output:
	// r1 is Master
	// r2 is Master
	// r1 left Master
	// r1: BACKUP at priority 90
}

// A Pool checks real servers and reports who should receive traffic, as
// keepalived's virtual_server does: here b's service fails and the next
// membership leaves it out. OnChange is where a BalancerSync (IPVS) or
// any other balancer would apply it.
func ExamplePool() {
	var bDown atomic.Bool
	check := func(down *atomic.Bool) health.Check {
		return health.Check{Checker: health.CheckerFunc(func(context.Context) error {
			if down != nil && down.Load() {
				return errors.New("connection refused")
			}
			return nil
		})}
	}
	changes := make(chan health.Membership, 16)
	p, err := health.NewPool(health.PoolConfig{
		Name:     "web",
		Interval: 10 * time.Millisecond,
		Backends: []health.Backend{
			{Name: "a", Addr: netip.MustParseAddrPort("198.18.0.11:80"), Weight: 2, Checks: []health.Check{check(nil)}},
			{Name: "b", Addr: netip.MustParseAddrPort("198.18.0.12:80"), Weight: 1, Checks: []health.Check{check(&bDown)}},
		},
		OnChange: func(_ context.Context, m health.Membership) error {
			changes <- m
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	show := func(m health.Membership) {
		fmt.Printf("weight %d, quorum %v:", m.Weight, m.Quorum)
		for _, mb := range m.Members {
			fmt.Printf(" %s=%d", mb.Addr, mb.Weight)
		}
		for _, e := range m.Events {
			fmt.Printf(" [%s %s]", e.Kind, e.Backend)
		}
		fmt.Println()
	}
	show(<-changes)
	bDown.Store(true)
	show(<-changes)
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	// Output:
	// weight 3, quorum true: 198.18.0.11:80=2 198.18.0.12:80=1
	// weight 2, quorum true: 198.18.0.11:80=2 [backend-down b]
}
