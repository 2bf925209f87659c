// Command simulate runs three VRRP routers in one process, on the in-memory
// segment of transport/fake and a clock that runs twenty times faster than
// real time, and prints a timeline a person can follow: the election, a
// crash of the Master, the failover, its return with preemption, and a
// graceful stop with priority 0.
//
// It needs no root and touches no network:
//
//	go run ./examples/simulate
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/clock"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

func main() {
	speed := flag.Float64("speed", 20, "how many times faster than real time the clock runs")
	adverts := flag.Bool("adverts", false, "print every advertisement on the wire")
	flag.Parse()
	if err := run(os.Stdout, *speed, *adverts); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

var vip = netip.MustParsePrefix("198.18.0.100/24")

// node is one simulated host running a Router.
type node struct {
	name   string
	prio   uint8
	host   *fake.Host
	binder *vipfake.Binder
	cancel context.CancelFunc
	done   chan error
}

// timeline prints events with the simulated time since the start.
type timeline struct {
	mu    sync.Mutex
	w     io.Writer
	clock vrrp.Clock
	start time.Time
}

func (tl *timeline) printf(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	d := tl.clock.Now().Sub(tl.start)
	fmt.Fprintf(tl.w, "%8.3fs  %s\n", d.Seconds(), fmt.Sprintf(format, args...))
}

// linkUp reports whether the named host's link is up.
func linkUp(seg *fake.Segment, name string) bool {
	for _, h := range seg.Hosts() {
		if h.Name() == name {
			return h.LinkUp()
		}
	}
	return false
}

func run(w io.Writer, speed float64, adverts bool) error {
	clk := clock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), speed)
	tl := &timeline{w: w, clock: clk, start: clk.Now()}
	seg := fake.NewSegment(fake.SegmentConfig{Clock: clk, Seed: 1})
	defer seg.Close()

	if adverts {
		remove := seg.Tap(func(f fake.Frame) {
			var a vrrp.Advertisement
			if err := a.Unmarshal(f.Msg, f.Info.Src.Is6()); err == nil {
				tl.printf("    advert from %s: vrid %d prio %d", f.From, a.VRID, a.Priority)
			}
		})
		defer remove()
	} else {
		remove := seg.Tap(func(f fake.Frame) {
			var a vrrp.Advertisement
			if err := a.Unmarshal(f.Msg, f.Info.Src.Is6()); err != nil || a.Priority != 0 {
				return
			}
			if linkUp(seg, f.From) {
				tl.printf("    %s sends priority 0: it is stopping, so Backups wait only Skew_Time, not Master_Down_Interval", f.From)
			} else {
				tl.printf("    %s's priority 0 advert is lost on the pulled cable", f.From)
			}
		})
		defer remove()
	}

	nodes := []*node{
		{name: "r1", prio: 150},
		{name: "r2", prio: 100},
		{name: "r3", prio: 50},
	}
	for i, n := range nodes {
		n.host = seg.NewHost(n.name, netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}))
		n.binder = &vipfake.Binder{}
	}
	start := func(n *node) error {
		r, err := vrrp.NewRouter(vrrp.Config{
			Transport: n.host,
			Clock:     clk,
			Binder:    n.binder,
			Instances: []vrrp.InstanceConfig{{
				Name: "VI_1", Interface: "eth0", VRID: 51, Priority: n.prio,
				AdvertInterval: time.Second,
				VIPs:           []vrrp.VIP{{Prefix: vip}},
			}},
			OnTransition: func(t vrrp.Transition) {
				tl.printf("%s %-6s -> %-6s (%s, priority %d)", n.name, t.From, t.To, t.Reason, t.Priority)
			},
		})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		n.cancel, n.done = cancel, make(chan error, 1)
		go func() { n.done <- r.Run(ctx) }()
		return nil
	}
	stop := func(n *node) error {
		n.cancel()
		return <-n.done
	}
	wait := func(d time.Duration) {
		t, ch := clk.NewTimer(d)
		defer t.Stop()
		<-ch
	}
	holder := func() string {
		var on []string
		for _, n := range nodes {
			if n.binder.Has(vip) {
				on = append(on, n.name)
			}
		}
		sort.Strings(on)
		if len(on) == 0 {
			return "nobody"
		}
		return strings.Join(on, ", ")
	}

	tl.printf("time is simulated: the clock runs %g times faster than real time, and the times are the simulated seconds", speed)
	tl.printf("start r1 (priority 150), r2 (100), r3 (50): VRRPv3, VRID 51, 1 s adverts, VIP %s", vip)
	tl.printf("each starts as Backup and waits Master_Down_Interval for a Master: 3 adverts plus Skew_Time,")
	tl.printf("  (256 - priority)/256 of an advert, so the highest priority runs out first and becomes Master")
	for _, n := range nodes {
		if err := start(n); err != nil {
			return err
		}
	}
	wait(6 * time.Second)
	tl.printf("VIP held by %s", holder())

	tl.printf("crash r1: its cable is pulled, then the process dies")
	tl.printf("r2 and r3 hear nothing more; r2, whose Master_Down_Interval is shorter, takes over when it runs out")
	nodes[0].host.SetLink(false)
	if err := stop(nodes[0]); err != nil {
		return err
	}
	nodes[0].binder = &vipfake.Binder{} // the host reboots: its addresses are gone
	wait(6 * time.Second)
	tl.printf("VIP held by %s", holder())

	tl.printf("r1 returns: it starts as Backup and hears r2's lower priority; preemption is on (the default),")
	tl.printf("  so r1 ignores r2's adverts and takes over when its own Master_Down_Interval runs out")
	nodes[0].host.SetLink(true)
	if err := start(nodes[0]); err != nil {
		return err
	}
	wait(6 * time.Second)
	tl.printf("VIP held by %s", holder())

	tl.printf("stop r1 gracefully")
	if err := stop(nodes[0]); err != nil {
		return err
	}
	wait(3 * time.Second)
	tl.printf("VIP held by %s", holder())

	tl.printf("stop r2 and r3")
	for _, n := range nodes[1:] {
		if err := stop(n); err != nil {
			return err
		}
	}
	tl.printf("VIP held by %s", holder())
	return nil
}
