package vrrptest_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrptest"
)

// A service whose work follows mastership, tested in a few lines: the
// higher priority serves; when it crashes the other takes over within
// Master_Down_Interval of its last advert; restarted, it preempts back.
func TestClusterFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vip := netip.MustParsePrefix("198.18.0.100/24")
		var mu sync.Mutex
		serving := map[string]bool{}
		set := func(name string, on bool) {
			mu.Lock()
			defer mu.Unlock()
			serving[name] = on
		}
		c := vrrptest.Start(t, vrrptest.Config{
			Instances:  []vrrp.InstanceConfig{{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []vrrp.VIP{{Prefix: vip}}}},
			Priorities: []uint8{150, 100},
			Configure: func(i int, rc *vrrp.Config) {
				name := []string{"n1", "n2"}[i]
				rc.OnMaster = func(ctx context.Context, _ string) {
					set(name, true) // one call at a time per node
					<-ctx.Done()
					set(name, false)
				}
			},
		})
		ctx := context.Background()
		if m, err := c.WaitMaster(ctx, "VI_1", vip); err != nil || m.Name != "n1" {
			t.Fatalf("first Master %v %v", m, err)
		}
		synctest.Wait()
		mu.Lock()
		if !serving["n1"] || serving["n2"] {
			t.Errorf("serving %v", serving)
		}
		mu.Unlock()
		c.Nodes[0].Crash()
		start := time.Now()
		if m, err := c.WaitMaster(ctx, "VI_1", vip); err != nil || m.Name != "n2" {
			t.Fatalf("after the crash %v %v", m, err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("takeover after %v", d)
		}
		c.Nodes[0].Restart()
		if _, err := c.Nodes[0].Router.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
			t.Fatal(err)
		}
		if m, err := c.WaitMaster(ctx, "VI_1", vip); err != nil || m.Name != "n1" {
			t.Fatalf("after the restart %v %v", m, err)
		}
		if h := c.Holders(vip); len(h) != 1 || h[0].Name != "n1" {
			t.Errorf("holders %v", h)
		}
	})
}
