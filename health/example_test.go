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
