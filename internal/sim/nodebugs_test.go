package sim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// The tests below reproduce, on a bare vrrp.Node, the bugs the simulation
// found, one input sequence each, so that they stay fixed.

// nodeCase is a Node with instances "a" (VRID 1) and "b" (VRID 2) on eth0,
// started at t0.
type nodeCase struct {
	t    *testing.T
	n    *vrrp.Node
	now  time.Time
	ids  map[string]int
	cfgs map[string]vrrp.InstanceConfig
	addr vrrp.Addressing
}

func newNodeCase(t *testing.T, opts vrrp.NodeOptions, edit func(*vrrp.InstanceConfig)) *nodeCase {
	return newNodeCaseLink(t, opts, edit, true)
}

// newNodeCaseLink is newNodeCase with eth0 up or down at the start.
func newNodeCaseLink(t *testing.T, opts vrrp.NodeOptions, edit func(*vrrp.InstanceConfig), up bool) *nodeCase {
	c := &nodeCase{t: t, n: vrrp.NewNode(opts), now: epoch, ids: map[string]int{}, cfgs: map[string]vrrp.InstanceConfig{},
		addr: vrrp.Addressing{Source: netip.MustParseAddr("198.18.0.1"), Group: vrrp.Group4}}
	c.n.LinkChanged(c.now, vrrp.LinkState{Interface: iface, Exists: true, Up: up, Addrs: []netip.Addr{c.addr.Source}})
	c.n.LinkChanged(c.now, vrrp.LinkState{Interface: trackedIface, Exists: true, Up: true})
	for i, name := range []string{"a", "b"} {
		ic := vrrp.InstanceConfig{Name: name, Interface: iface, VRID: uint8(i + 1), Version: 3, Priority: 100,
			AdvertInterval: time.Second, VIPs: vipsOf([]netip.Addr{vipAddr(vrrp.IPv4, uint8(i+1), 1), vipAddr(vrrp.IPv4, uint8(i+1), 2)}),
			GARPMasterRepeat: 1, GARPMasterDelay: 5 * time.Second, GARPMasterRefreshRepeat: 1}
		if edit != nil {
			edit(&ic)
		}
		c.cfgs[name] = ic
		c.ids[name] = c.n.Add(ic, c.addr)
	}
	for _, name := range []string{"a", "b"} {
		c.n.Start(c.now, c.ids[name])
	}
	c.n.Effects()
	return c
}

// at advances the time by d and ticks.
func (c *nodeCase) at(d time.Duration) []vrrp.Effect {
	c.now = c.now.Add(d)
	c.n.Tick(c.now)
	return c.n.Effects()
}

func (c *nodeCase) state(name string) vrrp.State { return c.n.State(c.ids[name]) }

// bindOf returns the bind asked of instance name in es, or fails.
func (c *nodeCase) bindOf(name string, es []vrrp.Effect) vrrp.Effect {
	c.t.Helper()
	for _, e := range es {
		if e.Kind == vrrp.EffectBind && e.ID == c.ids[name] {
			return e
		}
	}
	c.t.Fatalf("no bind of %s in %v", name, es)
	return vrrp.Effect{}
}

// TestNodeLinkUpClearsGroupFault: both members of a sync group start with
// eth0 down (a process restarted while the cable is out): each is in
// FAULT with its own interface fault and, from the other, the group's.
// When eth0 comes back both must leave FAULT. LinkChanged hands the faults
// to the group only when an instance's faulted state flips, and neither
// flips (each still holds the other's group fault), so both stay in FAULT
// with nothing but "sync:g", for ever. Simulation: seed 2, 15, 19, ...
// (the most common failure: "rN is not running (FAULT)", then "Stop gave
// FAULT -> BACKUP (fault-cleared)" when the stale fault is recomputed as
// a member is removed).
func TestNodeLinkUpClearsGroupFault(t *testing.T) {
	c := newNodeCaseLink(t, vrrp.NodeOptions{SyncGroups: []vrrp.SyncGroup{{Name: "g", Members: []string{"a", "b"}}}}, nil, false)
	if c.state("a") != vrrp.Fault || c.state("b") != vrrp.Fault {
		t.Fatalf("link down: a %v, b %v, want FAULT", c.state("a"), c.state("b"))
	}
	c.now = c.now.Add(time.Second)
	c.n.LinkChanged(c.now, vrrp.LinkState{Interface: iface, Exists: true, Up: true, Addrs: []netip.Addr{c.addr.Source}})
	c.n.Effects()
	for _, name := range []string{"a", "b"} {
		if st := c.state(name); st != vrrp.Backup {
			t.Errorf("link up: %s is %v with faults %v, want BACKUP", name, st, c.n.Faults(c.ids[name]))
		}
	}
}

// TestNodeSetGroupsDissolvedClearsGroupFault: a member's own fault puts the
// other member in FAULT through the group; when SetGroups dissolves the
// group, the other member no longer has a cause for FAULT. SetGroups
// recomputes the group faults of the new groups only, so "sync:g" stays.
func TestNodeSetGroupsDissolvedClearsGroupFault(t *testing.T) {
	c := newNodeCase(t, vrrp.NodeOptions{SyncGroups: []vrrp.SyncGroup{{Name: "g", Members: []string{"a", "b"}}}}, nil)
	c.n.SetFault(c.now, c.ids["a"], "admin", true)
	c.n.Effects()
	if c.state("b") != vrrp.Fault {
		t.Fatalf("b is %v, want FAULT through the group", c.state("b"))
	}
	c.n.SetGroups(c.now, nil)
	c.n.Effects()
	if st := c.state("b"); st != vrrp.Backup {
		t.Errorf("group dissolved: b is %v with faults %v, want BACKUP", st, c.n.Faults(c.ids["b"]))
	}
}

// TestNodeSetGroupsReappliesWeightRule: a is a member of a group without
// TrackingWeight and tracks eth1 with weight +10 (up, so +10 while weights
// apply). Without TrackingWeight the track counts as weight 0: priority
// 100. SetGroups turns TrackingWeight on: the priority must become 110.
// The Node applies the weight rule when a track is reported (SetTrack,
// LinkChanged, Add) and keeps the result, so a's priority stays 100 (and,
// the other way round, a weighted delta stays where the track should now
// fault). Simulation: seed 86, 281, ... ("advert with priority N,
// effective priority N").
func TestNodeSetGroupsReappliesWeightRule(t *testing.T) {
	group := vrrp.SyncGroup{Name: "g", Members: []string{"a", "b"}}
	c := newNodeCase(t, vrrp.NodeOptions{SyncGroups: []vrrp.SyncGroup{group}}, func(ic *vrrp.InstanceConfig) {
		ic.TrackInterfaces = []vrrp.TrackInterface{{Name: trackedIface, Weight: 10}}
	})
	c.n.SetTrack(c.now, c.ids["a"], vrrp.TrackState{Source: "check:chk", Weight: 5, Delta: 5})
	c.n.Effects()
	if p := c.n.Machine(c.ids["a"]).Priority(); p != 100 {
		t.Fatalf("without TrackingWeight: priority %d, want 100", p)
	}
	group.TrackingWeight = true
	c.n.SetGroups(c.now, []vrrp.SyncGroup{group})
	c.n.Effects()
	if p := c.n.Machine(c.ids["a"]).Priority(); p != 115 {
		t.Errorf("with TrackingWeight: priority %d, want 115 (100, eth1 +10, chk +5)", p)
	}
}

// TestNodeReloadDuringTakeoverBind: a becomes Master and asks for its bind;
// before the result, a reload removes one of its VIPs. The bind succeeds
// and is reported with its Seq; a holds its (remaining) VIPs. But the
// unbind of the removed VIP gave the instance a new Seq, so BindDone is
// taken as stale, and at the bind timeout a goes to FAULT ("no result
// within 1s") though its bind succeeded. Simulation: seed 249, 285, ...
// ("Tick gave MASTER -> FAULT (fault)").
func TestNodeReloadDuringTakeoverBind(t *testing.T) {
	c := newNodeCase(t, vrrp.NodeOptions{}, nil)
	bind := c.bindOf("a", c.at(time.Hour))
	if c.state("a") != vrrp.Master {
		t.Fatalf("a is %v, want MASTER", c.state("a"))
	}
	ic := c.cfgs["a"]
	ic.VIPs = ic.VIPs[:1]
	c.n.Reconfigure(c.now, c.ids["a"], ic, c.addr)
	c.n.Effects()
	c.now = c.now.Add(10 * time.Millisecond)
	c.n.BindDone(c.now, c.ids["a"], bind.Seq, nil)
	c.n.Effects()
	c.at(2 * time.Second)
	if st := c.state("a"); st != vrrp.Master {
		t.Errorf("a is %v with faults %v, want MASTER: its bind succeeded", st, c.n.Faults(c.ids["a"]))
	}
}

// TestNodeReloadAddedVIPsTimeout: a, a Master with its VIPs bound, is
// reloaded with a VIP it did not have; the bind of it gets no result. A
// takeover's bind not confirmed within max(advert interval, 1 s) fails;
// this one has no such bound: a stays Master, advertising an address it
// does not hold, for as long as the binder takes. Simulation: seed 142,
// 155 ("Master with VIPs added by a reload unbound for more than 1s").
func TestNodeReloadAddedVIPsTimeout(t *testing.T) {
	c := newNodeCase(t, vrrp.NodeOptions{}, nil)
	bind := c.bindOf("a", c.at(time.Hour))
	c.n.BindDone(c.now, c.ids["a"], bind.Seq, nil)
	c.n.Effects()
	ic := c.cfgs["a"]
	ic.VIPs = vipsOf([]netip.Addr{vipAddr(vrrp.IPv4, 1, 3)})
	c.n.Reconfigure(c.now, c.ids["a"], ic, c.addr)
	c.bindOf("a", c.n.Effects())
	c.at(1500 * time.Millisecond)
	c.at(1500 * time.Millisecond)
	if st := c.state("a"); st == vrrp.Master {
		t.Errorf("a is still MASTER 3s after asking to bind its new VIPs, with no result")
	}
}

// TestNodeReloadToEffectiveBefore: a, configured at 33, has a delta of
// -38 (priority 1). A reload to 71 makes its effective priority 33, as
// its Machine's configuration was at Add: Machine.Reconfigure compares the
// new configured priority with the old configured one, not with the
// priority in force, so the Machine keeps 1 and advertises it.
// Simulation: seed 4705 ("advert with priority 1, effective priority 33").
func TestNodeReloadToEffectiveBefore(t *testing.T) {
	c := newNodeCase(t, vrrp.NodeOptions{}, func(ic *vrrp.InstanceConfig) { ic.Priority = 33 })
	c.n.AdjustPriority(c.now, c.ids["a"], "adjust", -38)
	c.n.Effects()
	ic := c.cfgs["a"]
	ic.Priority = 71
	c.n.Reconfigure(c.now, c.ids["a"], ic, c.addr)
	c.n.Effects()
	if p := c.n.Machine(c.ids["a"]).Priority(); p != 33 {
		t.Errorf("priority %d after the reload, want 33 (71 - 38)", p)
	}
}

// TestNodeReloadKeepsTakeoverTimeout: a becomes Master and asks for its
// bind; 300 ms later, before any result, a reload adds a VIP, which asks
// for a bind of all its VIPs with a new timeout. The takeover's own
// timeout (1 s after it) must stand: a Master may not stay unbound for
// longer. bindNew sets the timeout anew, so a stays Master without its
// VIPs until 1.3 s after the takeover. Simulation: seed 65 ("Master with
// its VIPs unbound for more than 1s").
func TestNodeReloadKeepsTakeoverTimeout(t *testing.T) {
	c := newNodeCase(t, vrrp.NodeOptions{}, nil)
	c.bindOf("a", c.at(time.Hour))
	c.now = c.now.Add(300 * time.Millisecond)
	ic := c.cfgs["a"]
	ic.VIPs = append(ic.VIPs, vipsOf([]netip.Addr{vipAddr(vrrp.IPv4, 1, 3)})...)
	c.n.Reconfigure(c.now, c.ids["a"], ic, c.addr)
	c.bindOf("a", c.n.Effects())
	c.at(750 * time.Millisecond) // 1.05 s after the takeover
	if st := c.state("a"); st == vrrp.Master {
		t.Errorf("a is still MASTER 1.05 s after its takeover, with no bind confirmed")
	}
}
