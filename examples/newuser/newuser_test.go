package newuser

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/vrrp"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrptest"
)

var (
	vip  = netip.MustParsePrefix("198.18.0.100/24")
	inst = vrrp.InstanceConfig{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []vrrp.VIP{{Prefix: vip}}}
)

// The service serves on the Master only, and moves with it.
func TestServiceFollowsMastership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := []*Service{{}, {}}
		c := vrrptest.Start(t, vrrptest.Config{Instances: []vrrp.InstanceConfig{inst}, Priorities: []uint8{150, 100},
			Configure: func(i int, rc *vrrp.Config) { rc.OnMaster = svc[i].OnMaster }})
		c.WaitMaster(context.Background(), "VI_1", vip)
		c.Nodes[0].Crash()
		c.WaitMaster(context.Background(), "VI_1", vip)
		synctest.Wait()
		if on, _ := svc[0].Serving(); on {
			t.Error("the crashed node still serves")
		}
		if on, runs := svc[1].Serving(); !on || runs != 1 {
			t.Errorf("the new Master serves %v (%d times)", on, runs)
		}
	})
}

// A custom health check moves mastership: failing, it lowers the
// Master's priority below its peer's.
func TestCustomCheckMovesMastership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		check := health.CheckerFunc(func(context.Context) error {
			if down.Load() {
				return errors.New("down")
			}
			return nil
		})
		c := vrrptest.Start(t, vrrptest.Config{Instances: []vrrp.InstanceConfig{inst}, Priorities: []uint8{150, 100}})
		tr := &health.Tracker{Target: c.Nodes[0].Router,
			Checks: []health.Check{{Name: "svc", Checker: check, Interval: time.Second}},
			Tracks: map[string][]health.Track{"VI_1": {{Check: "svc", Weight: -100}}}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go tr.Run(ctx)
		if m, _ := c.WaitMaster(ctx, "VI_1", vip); m.Name != "n1" {
			t.Fatalf("first Master %s", m.Name)
		}
		down.Store(true)
		if _, err := c.Nodes[1].Router.WaitState(ctx, "VI_1", vrrp.Master); err != nil {
			t.Fatal(err)
		}
		if m, _ := c.WaitMaster(ctx, "VI_1", vip); m.Name != "n2" {
			t.Errorf("Master after the check failed: %s", m.Name)
		}
	})
}
