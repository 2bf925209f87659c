package vrrptest_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrptest"
)

// exampleT stands in for the *testing.T a test passes.
type exampleT struct{ cleanups []func() }

func (e *exampleT) Helper()                        {}
func (e *exampleT) Errorf(format string, a ...any) { fmt.Printf(format+"\n", a...) }
func (e *exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (e *exampleT) Cleanup(f func())               { e.cleanups = append(e.cleanups, f) }

func (e *exampleT) done() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// Two nodes in one call; the Master crashes and the VIP moves (in real
// time here, with intervals long enough for a loaded machine). In a test,
// pass t, inside testing/synctest.Test so that it takes no real time.
func ExampleStart() {
	t := &exampleT{}
	defer t.done()
	vip := netip.MustParsePrefix("198.18.0.100/24")
	c := vrrptest.Start(t, vrrptest.Config{
		Instances: []vrrp.InstanceConfig{{Name: "VI_1", Interface: "eth0", VRID: 51,
			AdvertInterval: 100 * time.Millisecond, VIPs: []vrrp.VIP{{Prefix: vip}}}},
		Priorities: []uint8{150, 100},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, _ := c.WaitMaster(ctx, "VI_1", vip)
	fmt.Println(m.Name, "holds the VIP")
	m.Crash()
	m, _ = c.WaitMaster(ctx, "VI_1", vip)
	fmt.Println(m.Name, "holds the VIP")
	// Restarted, n1 preempts: one Master, one holder.
	c.Nodes[0].Restart()
	if _, err := c.Nodes[0].Router.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
		fmt.Println(err)
	}
	m, _ = c.WaitMaster(ctx, "VI_1", vip)
	for _, h := range c.Holders(vip) {
		fmt.Println(h.Name, "alone holds the VIP:", h == m)
	}
	// Output:
	// n1 holds the VIP
	// n2 holds the VIP
	// n1 alone holds the VIP: true
}
