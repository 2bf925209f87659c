package vrrp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	local   = netip.MustParseAddr("198.18.0.1")
	peer    = netip.MustParseAddr("198.18.0.2")
	nodeVIP = vrrp.VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24")}
)

// nodeInst is an instance as the Node tests configure it, with defaults.
func nodeInst(name string, vrid, prio uint8) vrrp.InstanceConfig {
	return vrrp.InstanceConfig{Name: name, Interface: "eth0", VRID: vrid, Version: 3, Priority: prio,
		AdvertInterval: time.Second, VIPs: []vrrp.VIP{nodeVIP}, GARPMasterRepeat: 1, GARPMasterDelay: -1}
}

// testNode is a Node under test with its instances added and started at
// t0, and the effects it returned since the last look.
type testNode struct {
	t   *testing.T
	n   *vrrp.Node
	now time.Time
	log []string
	// binds are the pending bind sequence numbers by instance ID.
	binds map[int]uint64
}

func newTestNode(t *testing.T, opts vrrp.NodeOptions, insts ...vrrp.InstanceConfig) *testNode {
	t.Helper()
	tn := &testNode{t: t, n: vrrp.NewNode(opts), now: t0, binds: map[int]uint64{}}
	for _, c := range insts {
		tn.n.Add(c, vrrp.Addressing{Source: local, Group: vrrp.Group4})
	}
	return tn
}

func (tn *testNode) id(name string) int {
	id, ok := tn.n.ID(name)
	if !ok {
		tn.t.Fatalf("no instance %s", name)
	}
	return id
}

func (tn *testNode) startAll() {
	for _, name := range tn.n.Names() {
		tn.n.Start(tn.now, tn.id(name))
	}
	tn.collect()
}

// collect reads the Node's effects into log, one line each, and returns
// them.
func (tn *testNode) collect() []string {
	var out []string
	for _, e := range tn.n.Effects() {
		name := ""
		if e.ID >= 0 {
			name = tn.n.Config(e.ID).Name + " "
		}
		var s string
		switch e.Kind {
		case vrrp.EffectSend:
			s = fmt.Sprintf("%ssend %d", name, e.Priority)
		case vrrp.EffectBind:
			tn.binds[e.ID] = e.Seq
			s = name + "bind"
			if e.Filter {
				s += " filtered"
			}
		case vrrp.EffectUnbind:
			s = name + "unbind"
			if e.Filter {
				s += " filtered"
			}
		case vrrp.EffectTransition:
			tr := tn.n.Transition(e.Ref)
			s = fmt.Sprintf("%s%v->%v", name, tr.From, tr.To)
		case vrrp.EffectGroupTransition:
			g := tn.n.GroupTransition(e.Ref)
			s = fmt.Sprintf("group %s %v->%v", g.Group, g.From, g.To)
		default:
			s = name + e.Kind.String()
		}
		out = append(out, s)
	}
	tn.log = append(tn.log, out...)
	return out
}

// advance runs the Node's timers up to d from now, as an owner loop does.
func (tn *testNode) advance(d time.Duration) []string {
	end := tn.now.Add(d)
	var out []string
	for i := 0; i < 10000; i++ {
		next := tn.n.Next()
		if next.IsZero() || next.After(end) {
			break
		}
		tn.now = later(tn.now, next)
		tn.n.Tick(tn.now)
		out = append(out, tn.collect()...)
	}
	tn.now = end
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// bindDone reports the pending bind of name as done with err.
func (tn *testNode) bindDone(name string, err error) []string {
	id := tn.id(name)
	tn.n.BindDone(tn.now, id, tn.binds[id], err)
	return tn.collect()
}

// advert delivers an advert of prio from src to name.
func (tn *testNode) advert(name string, src netip.Addr, prio uint8) (vrrp.ReceiveResult, []string) {
	id := tn.id(name)
	c := tn.n.Config(id)
	a := &vrrp.Advertisement{Version: 3, Type: vrrp.TypeAdvertisement, VRID: c.VRID, Priority: prio, Interval: 100,
		Addresses: []netip.Addr{nodeVIP.Prefix.Addr()}}
	res := tn.n.Receive(tn.now, id, &vrrp.Received{Adv: a, Info: vrrp.PacketInfo{Src: src, TTL: 255}, Form: vrrp.ChecksumOK})
	return res, tn.collect()
}

func (tn *testNode) state(name string) vrrp.State { return tn.n.State(tn.id(name)) }

func has(effects []string, want string) bool { return slices.Contains(effects, want) }

// The effective priority is the configured one, or SetPriority's, plus
// every delta, clamped to 1-254; an address owner keeps 255 (keepalived's
// track weights; RFC 5798 section 6.1 reserves 255 for the owner).
func TestNodeEffectivePriority(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prio     uint8
		override uint8
		deltas   []int
		want     uint8
	}{
		{"configured", 100, 0, nil, 100},
		{"deltas add", 100, 0, []int{-20, 5}, 85},
		{"override replaces the configured", 100, 150, []int{-20}, 130},
		{"clamped at 1", 50, 0, []int{-100}, 1},
		{"clamped at 254", 200, 0, []int{100}, 254},
		{"owner keeps 255", 255, 0, []int{-100}, 255},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, tc.prio))
			tn.startAll()
			id := tn.id("VI_1")
			if tc.override != 0 {
				tn.n.SetPriority(tn.now, id, tc.override)
			}
			for i, d := range tc.deltas {
				tn.n.AdjustPriority(tn.now, id, fmt.Sprint("src", i), d)
			}
			if got := tn.n.Status(id).EffectivePriority; got != tc.want {
				t.Errorf("effective priority %d, want %d", got, tc.want)
			}
		})
	}
}

// A reload of a Master hands its Machine the effective priority with the
// new configuration: 110 configured with a tracked -20 advertises 90, never
// 110 first.
func TestNodeReconfigureEffectivePriority(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{NoBinds: true}, nodeInst("VI_1", 1, 100))
	tn.startAll()
	id := tn.id("VI_1")
	tn.n.SetTrack(tn.now, id, vrrp.TrackState{Source: "check:chk", Weight: -20, Delta: -20, Down: true})
	tn.advance(5 * time.Second)
	if tn.state("VI_1") != vrrp.Master {
		t.Fatalf("state %v, want MASTER", tn.state("VI_1"))
	}
	tn.collect()
	tn.n.Reconfigure(tn.now, id, nodeInst("VI_1", 1, 110), vrrp.Addressing{Source: local, Group: vrrp.Group4})
	got := tn.collect()
	if !slices.Equal(got, []string{"VI_1 send 90"}) {
		t.Errorf("effects of the reload %q, want one advert of priority 90", got)
	}
	if s := tn.n.Status(id); s.Priority != 110 || s.EffectivePriority != 90 {
		t.Errorf("priority %d effective %d, want 110 and 90", s.Priority, s.EffectivePriority)
	}
}

// A weighted track moves the priority; weight 0 puts the instance in
// FAULT while down; in a sync group without TrackingWeight every track
// acts as weight 0, as keepalived's do.
func TestNodeTrackRule(t *testing.T) {
	for _, tc := range []struct {
		name      string
		group     *vrrp.SyncGroup
		weight    int
		down      bool
		wantPrio  uint8
		wantFault bool
	}{
		{"weighted, down", nil, -30, true, 70, false},
		{"weighted, up", nil, -30, false, 100, false},
		{"weight 0, down", nil, 0, true, 100, true},
		{"weight 0, up", nil, 0, false, 100, false},
		{"sync group member, weighted, down", &vrrp.SyncGroup{Name: "G", Members: []string{"VI_1"}}, -30, true, 100, true},
		{"sync group with TrackingWeight", &vrrp.SyncGroup{Name: "G", Members: []string{"VI_1"}, TrackingWeight: true}, -30, true, 70, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts vrrp.NodeOptions
			if tc.group != nil {
				opts.SyncGroups = []vrrp.SyncGroup{*tc.group}
			}
			tn := newTestNode(t, opts, nodeInst("VI_1", 1, 100))
			tn.startAll()
			id := tn.id("VI_1")
			delta := 0
			if tc.down {
				delta = tc.weight
			}
			tn.n.SetTrack(tn.now, id, vrrp.TrackState{Source: "check:chk", Weight: tc.weight, Delta: delta, Down: tc.down})
			s := tn.n.Status(id)
			if s.EffectivePriority != tc.wantPrio || (s.State == vrrp.Fault) != tc.wantFault {
				t.Errorf("priority %d state %v, want %d fault %v", s.EffectivePriority, s.State, tc.wantPrio, tc.wantFault)
			}
		})
	}
}

// A Master whose addresses cannot be bound must not stay Master: it goes
// to FAULT with the bind as the cause, sends priority 0 so that a Backup
// takes over at once, makes no OnMaster call, and contends again a second
// later.
func TestNodeBindFailure(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{MasterCalls: true}, nodeInst("VI_1", 1, 200))
	tn.startAll()
	got := tn.advance(4 * time.Second)
	if !has(got, "VI_1 BACKUP->MASTER") || !has(got, "VI_1 bind") || has(got, "VI_1 start-master") {
		t.Fatalf("takeover effects %q: want the transition and a bind, no OnMaster before the bind", got)
	}
	got = tn.bindDone("VI_1", errors.New("operation not permitted"))
	want := []string{"VI_1 send 0", "VI_1 unbind", "VI_1 MASTER->FAULT"}
	if !slices.Equal(got, want) {
		t.Errorf("effects of the failed bind %q, want %q", got, want)
	}
	s := tn.n.Status(tn.id("VI_1"))
	if s.State != vrrp.Fault || !slices.Equal(s.Faults, []string{"bind"}) {
		t.Errorf("state %v faults %v, want FAULT [bind]", s.State, s.Faults)
	}
	if c := tn.n.Faults(tn.id("VI_1"))["bind"]; !strings.Contains(c, "operation not permitted") {
		t.Errorf("fault cause %q does not say why", c)
	}
	got = tn.advance(time.Second)
	if !has(got, "VI_1 FAULT->BACKUP") {
		t.Errorf("after a second %q, want BACKUP again", got)
	}
	// Alone, it takes over again; this time the bind works.
	got = tn.advance(4 * time.Second)
	if !has(got, "VI_1 BACKUP->MASTER") {
		t.Fatalf("no second takeover: %q", got)
	}
	got = tn.bindDone("VI_1", nil)
	if !has(got, "VI_1 start-master") || !has(got, "VI_1 announce") {
		t.Errorf("after the bind %q, want OnMaster and announcements", got)
	}
}

// After a failed bind, a Backup preempts a live lower-priority Master
// only after twice its backoff (it would take the addresses from a node
// that holds them, likely to fail again), but takes over at once when no
// Master is heard.
func TestNodeBindFailureNoPreempt(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 200))
	tn.startAll()
	// Four failures alone: backoffs of 1, 2, 4 and 8 s, each followed
	// by a takeover as soon as the Master_Down_Timer expires.
	for i := range 4 {
		for j := 0; tn.state("VI_1") != vrrp.Master; j++ {
			if j == 200 {
				t.Fatalf("no takeover %d: %q", i+1, tn.log)
			}
			tn.advance(100 * time.Millisecond)
		}
		tn.bindDone("VI_1", errors.New("no"))
	}
	failed := tn.now
	// A live Master of lower priority is heard from now on: no
	// preemption for 16 s after the failure.
	for tn.now.Before(failed.Add(16 * time.Second)) {
		tn.advert("VI_1", peer, 100)
		if got := tn.advance(500 * time.Millisecond); has(got, "VI_1 BACKUP->MASTER") {
			t.Fatalf("preempted a live Master %v after a failed bind: %q", tn.now.Sub(failed), got)
		}
	}
	if tn.state("VI_1") != vrrp.Backup {
		t.Fatalf("state %v, want BACKUP", tn.state("VI_1"))
	}
	var got []string
	for range 10 {
		tn.advert("VI_1", peer, 100)
		got = append(got, tn.advance(500*time.Millisecond)...)
	}
	if !has(got, "VI_1 BACKUP->MASTER") {
		t.Errorf("did not try again after the hold: %q", got)
	}
}

// A new Master's bind that brings no result within an advert interval (at
// least a second) counts as failed.
func TestNodeBindTimeout(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 200))
	tn.startAll()
	tn.advance(4 * time.Second)
	s := tn.n.Status(tn.id("VI_1"))
	if s.State != vrrp.Master {
		t.Fatal("no takeover")
	}
	got := tn.advance(s.Since.Add(999 * time.Millisecond).Sub(tn.now))
	if tn.state("VI_1") != vrrp.Master {
		t.Fatalf("gave up before the interval: %q", got)
	}
	got = tn.advance(time.Millisecond)
	if !has(got, "VI_1 MASTER->FAULT") {
		t.Errorf("effects at the interval %q, want FAULT", got)
	}
	// A late result changes nothing.
	if got := tn.bindDone("VI_1", nil); len(got) != 0 {
		t.Errorf("late bind result gave %q", got)
	}
}

// OnMaster calls of an instance never overlap: Master -> Backup -> Master
// while the first call has not returned starts the second only once it
// has.
func TestNodeOnMasterOneAtATime(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{NoBinds: true, MasterCalls: true}, nodeInst("VI_1", 1, 200))
	tn.startAll()
	got := tn.advance(4 * time.Second)
	if !has(got, "VI_1 start-master") {
		t.Fatalf("no OnMaster call: %q", got)
	}
	_, got = tn.advert("VI_1", peer, 250)
	if !has(got, "VI_1 stop-master") || !has(got, "VI_1 MASTER->BACKUP") {
		t.Fatalf("preemption effects %q", got)
	}
	_, got = tn.advert("VI_1", peer, 0)
	got = append(got, tn.advance(time.Second)...)
	if !has(got, "VI_1 BACKUP->MASTER") || has(got, "VI_1 start-master") {
		t.Fatalf("second term %q: want Master with no call while the first runs", got)
	}
	tn.n.MasterReturned(tn.now, tn.id("VI_1"))
	if got := tn.collect(); !slices.Equal(got, []string{"VI_1 start-master"}) {
		t.Errorf("after the first call returned %q, want the second call", got)
	}
	// A call that returns on its own is not made again in the same term.
	tn.n.MasterReturned(tn.now, tn.id("VI_1"))
	if got := tn.collect(); len(got) != 0 {
		t.Errorf("call made again in the same term: %q", got)
	}
}

// An instance that awaits a source's first report does not start before
// it (bounded by the wait), and a Backup that still awaits one does not
// take over.
func TestNodeAwait(t *testing.T) {
	t.Run("start waits for the report", func(t *testing.T) {
		tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 255))
		id := tn.id("VI_1")
		tn.n.Await(tn.now, id, "check:chk", 5*time.Second)
		tn.startAll()
		if tn.state("VI_1") != vrrp.Init {
			t.Fatalf("owner started before its check reported: %v", tn.state("VI_1"))
		}
		tn.advance(100 * time.Millisecond)
		tn.n.SetTrack(tn.now, id, vrrp.TrackState{Source: "check:chk", Weight: 0, Down: true})
		if got := tn.collect(); !slices.Equal(got, []string{"VI_1 INIT->FAULT"}) {
			t.Errorf("effects of a failing first result %q, want FAULT and no Master", got)
		}
	})
	t.Run("the wait is bounded", func(t *testing.T) {
		tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 100))
		tn.n.Await(tn.now, tn.id("VI_1"), "check:chk", 2*time.Second)
		tn.startAll()
		if got := tn.advance(1999 * time.Millisecond); len(got) != 0 {
			t.Errorf("effects before the bound %q", got)
		}
		if got := tn.advance(time.Millisecond); !has(got, "VI_1 INIT->BACKUP") {
			t.Errorf("effects at the bound %q, want BACKUP", got)
		}
	})
	t.Run("a Backup awaiting does not take over", func(t *testing.T) {
		tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 100))
		tn.startAll()
		tn.n.Await(tn.now, tn.id("VI_1"), "check:chk", 10*time.Second)
		if got := tn.advance(9 * time.Second); has(got, "VI_1 BACKUP->MASTER") {
			t.Errorf("took over while awaiting: %q", got)
		}
		if got := tn.advance(5 * time.Second); !has(got, "VI_1 BACKUP->MASTER") {
			t.Errorf("no takeover after the wait: %q", got)
		}
	})
}

// A held advert read after a newer one (a priority 0 advert read at once)
// is stale: from the same Master it is superseded and no drop, from
// another it is dropped (DropStale).
func TestNodeStaleAdverts(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 100))
	tn.startAll()
	id := tn.id("VI_1")
	c := tn.n.Config(id)
	recv := func(src netip.Addr, prio uint8, arrived time.Time) vrrp.ReceiveResult {
		a := &vrrp.Advertisement{Version: 3, Type: vrrp.TypeAdvertisement, VRID: c.VRID, Priority: prio, Interval: 100,
			Addresses: []netip.Addr{nodeVIP.Prefix.Addr()}}
		res := tn.n.Receive(tn.now, id, &vrrp.Received{Adv: a, Info: vrrp.PacketInfo{Src: src, TTL: 255, Time: arrived}, Form: vrrp.ChecksumOK})
		tn.collect()
		return res
	}
	tn.now = tn.now.Add(time.Second)
	if res := recv(peer, 0, tn.now.Add(-10*time.Millisecond)); res.Drop != vrrp.DropNone || !res.Counted {
		t.Fatalf("priority 0 advert: %+v", res)
	}
	if res := recv(peer, 200, tn.now.Add(-500*time.Millisecond)); res.Drop != vrrp.DropNone || res.Counted {
		t.Errorf("superseded advert of the same Master: %+v, want neither dropped nor counted", res)
	}
	other := netip.MustParseAddr("198.18.0.3")
	if res := recv(other, 200, tn.now.Add(-500*time.Millisecond)); res.Drop != vrrp.DropStale {
		t.Errorf("older advert of another router: %+v, want DropStale", res)
	}
}

// A reload that adds an address to a Master binds it and announces it once
// bound, without a failover; a removed one is released.
func TestNodeReconfigureVIPs(t *testing.T) {
	tn := newTestNode(t, vrrp.NodeOptions{}, nodeInst("VI_1", 1, 200))
	tn.startAll()
	tn.advance(4 * time.Second)
	tn.bindDone("VI_1", nil)
	tn.advance(time.Second)
	c := nodeInst("VI_1", 1, 200)
	c.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/24")}}
	tn.n.Reconfigure(tn.now, tn.id("VI_1"), c, vrrp.Addressing{Source: local, Group: vrrp.Group4})
	got := tn.collect()
	if !slices.Equal(got, []string{"VI_1 unbind", "VI_1 bind"}) {
		t.Fatalf("effects of the reload %q", got)
	}
	if got := tn.bindDone("VI_1", nil); !slices.Equal(got, []string{"VI_1 announce"}) {
		t.Errorf("after the bind %q, want the announcement", got)
	}
	if tn.state("VI_1") != vrrp.Master {
		t.Errorf("state %v after the reload", tn.state("VI_1"))
	}
}

// NoAccept: a Master that is not the address owner filters its addresses
// before it binds them and until it has removed them; its filter is
// removed at its start (what a killed process left); an owner, or an
// instance without NoAccept, filters nothing.
func TestNodeNoAccept(t *testing.T) {
	a, owner, plain := nodeInst("A", 1, 200), nodeInst("B", 2, 255), nodeInst("C", 3, 100)
	a.NoAccept, owner.NoAccept = true, true
	tn := newTestNode(t, vrrp.NodeOptions{}, a, owner, plain)
	tn.collect()
	tn.startAll()
	if got := strings.Join(tn.log, ", "); !strings.Contains(got, "A unbind filtered") || strings.Contains(got, "B unbind filtered") ||
		strings.Contains(got, "C unbind filtered") || !strings.Contains(got, "B bind") || strings.Contains(got, "B bind filtered") {
		t.Errorf("effects at the start %q; want A's addresses and filter removed, and B (the owner) bound unfiltered", got)
	}
	got := tn.advance(4 * time.Second)
	if !has(got, "A bind filtered") || !has(got, "C bind") {
		t.Errorf("effects of the takeover %q; want A bound filtered and C bound", got)
	}
	tn.bindDone("A", nil)
	c := a
	c.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/24")}}
	tn.n.Reconfigure(tn.now, tn.id("A"), c, vrrp.Addressing{Source: local, Group: vrrp.Group4})
	if got := tn.collect(); !slices.Equal(got, []string{"A unbind filtered", "A bind filtered"}) {
		t.Errorf("effects of the reload %q", got)
	}
	tn.bindDone("A", nil)
	tn.n.Remove(tn.now, tn.id("A"))
	if got := tn.collect(); !has(got, "A unbind filtered") {
		t.Errorf("effects of the removal %q; want the addresses unbound and unfiltered", got)
	}
}

// A sync group fails over together: one member becoming Master promotes
// the others, and each binds its own addresses.
func TestNodeSyncGroupPromotes(t *testing.T) {
	g := vrrp.SyncGroup{Name: "G", Members: []string{"VI_1", "VI_2"}}
	i2 := nodeInst("VI_2", 2, 100)
	i2.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/24")}}
	tn := newTestNode(t, vrrp.NodeOptions{SyncGroups: []vrrp.SyncGroup{g}}, nodeInst("VI_1", 1, 200), i2)
	tn.startAll()
	got := tn.advance(4 * time.Second)
	for _, w := range []string{"VI_1 BACKUP->MASTER", "VI_2 BACKUP->MASTER", "VI_1 bind", "VI_2 bind", "group G BACKUP->MASTER"} {
		if !has(got, w) {
			t.Errorf("effects %q lack %q", got, w)
		}
	}
}

// A reload that takes an instance out of its sync group clears the fault
// the group put on it.
func TestNodeSetGroupsClearsGroupFault(t *testing.T) {
	g := vrrp.SyncGroup{Name: "G", Members: []string{"VI_1", "VI_2"}}
	tn := newTestNode(t, vrrp.NodeOptions{SyncGroups: []vrrp.SyncGroup{g}}, nodeInst("VI_1", 1, 100), nodeInst("VI_2", 2, 100))
	tn.startAll()
	tn.n.SetFault(tn.now, tn.id("VI_1"), "test", true)
	if s := tn.n.Status(tn.id("VI_2")); s.State != vrrp.Fault || !slices.Equal(s.Faults, []string{"sync:G"}) {
		t.Fatalf("VI_2 %v %v, want FAULT [sync:G]", s.State, s.Faults)
	}
	tn.n.SetGroups(tn.now, nil)
	if s := tn.n.Status(tn.id("VI_2")); s.State != vrrp.Backup || len(s.Faults) != 0 {
		t.Errorf("VI_2 %v %v after the group went, want BACKUP and no fault", s.State, s.Faults)
	}
}

// count returns how many of effects are want.
func count(effects []string, want string) int {
	n := 0
	for _, e := range effects {
		if e == want {
			n++
		}
	}
	return n
}

// A bound Master that hears a lower priority sends its advert at once
// (RFC 9568 section 6.4.3) and GARPLowerPrioRepeat rounds of
// announcements, then as many GARPLowerPrioDelay later, as keepalived
// does (garp_lower_prio_repeat, garp_lower_prio_delay; measured: 5 rounds
// with the advert, 5 more after garp_master_delay). A Backup, or a Master
// whose addresses are not bound yet, announces nothing.
func TestNodeLowerPriorityReassert(t *testing.T) {
	for _, tc := range []struct {
		name          string
		repeat        int
		delay         time.Duration
		noAdvert      bool
		first, second int
	}{
		{"as the takeover's", 2, 2 * time.Second, false, 2, 2},
		{"repeat 3, delay 2 s", 3, 2 * time.Second, false, 3, 3},
		{"no second burst", 3, -1, false, 3, 0},
		{"none", -1, 2 * time.Second, false, 0, 0},
		{"lower_prio_no_advert keeps the announcements", 3, 2 * time.Second, true, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := nodeInst("VI_1", 1, 200)
			c.GARPMasterRepeat, c.GARPMasterDelay = 2, 2*time.Second
			c.GARPLowerPrioRepeat, c.GARPLowerPrioDelay, c.NoLowerPrioAdvert = tc.repeat, tc.delay, tc.noAdvert
			tn := newTestNode(t, vrrp.NodeOptions{}, c)
			tn.startAll()
			_, got := tn.advert("VI_1", peer, 50)
			if count(got, "VI_1 announce") != 0 {
				t.Errorf("a Backup announced on a lower priority: %q", got)
			}
			tn.advance(4 * time.Second)
			_, got = tn.advert("VI_1", peer, 50)
			if tn.state("VI_1") != vrrp.Master || count(got, "VI_1 announce") != 0 {
				t.Errorf("a Master not yet bound: state %v, effects %q; want no announcement", tn.state("VI_1"), got)
			}
			tn.bindDone("VI_1", nil)
			tn.advance(3 * time.Second) // the takeover's two bursts
			_, got = tn.advert("VI_1", peer, 50)
			wantSend := 1
			if tc.noAdvert {
				wantSend = 0
			}
			if count(got, "VI_1 send 200") != wantSend || count(got, "VI_1 announce") != tc.first {
				t.Errorf("on a lower priority: %q; want %d adverts and %d announcements", got, wantSend, tc.first)
			}
			got = tn.advance(2*time.Second + time.Millisecond)
			if n := count(got, "VI_1 announce"); n != tc.second {
				t.Errorf("%d announcements in the next 2 s (%q), want %d", n, got, tc.second)
			}
		})
	}
}

// keepalived's higher_prio_send_advert: a Master that hears a higher
// priority sends one last advert with its own priority, then steps down.
func TestNodeHigherPrioSendAdvert(t *testing.T) {
	for _, on := range []bool{false, true} {
		c := nodeInst("VI_1", 1, 100)
		c.HigherPrioSendAdvert = on
		tn := newTestNode(t, vrrp.NodeOptions{}, c)
		tn.startAll()
		tn.advance(4 * time.Second)
		tn.bindDone("VI_1", nil)
		_, got := tn.advert("VI_1", peer, 200)
		want := []string{"VI_1 unbind", "VI_1 MASTER->BACKUP"}
		if on {
			want = append([]string{"VI_1 send 100"}, want...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("HigherPrioSendAdvert %v: effects %q, want %q", on, got, want)
		}
	}
}

// keepalived tracks the device of a virtual route (measured: FAULT while
// it is down, BACKUP once it is up), unless no_track; the instance's own
// interface is tracked anyway.
func TestNodeVirtualRouteTracked(t *testing.T) {
	c := nodeInst("VI_1", 1, 200)
	c.VirtualRoutes = []vrrp.Route{
		{Dst: netip.MustParsePrefix("198.19.30.0/24"), Dev: "eth2"},
		{Dst: netip.MustParsePrefix("198.19.31.0/24"), Dev: "eth3", NoTrack: true},
	}
	tn := newTestNode(t, vrrp.NodeOptions{}, c)
	tn.startAll()
	tn.n.LinkChanged(tn.now, vrrp.LinkState{Interface: "eth3", Exists: true})
	if tn.state("VI_1") == vrrp.Fault {
		t.Fatalf("a no_track route's device down put the instance in FAULT")
	}
	tn.n.LinkChanged(tn.now, vrrp.LinkState{Interface: "eth2", Exists: true})
	s := tn.n.Status(tn.id("VI_1"))
	if s.State != vrrp.Fault || !slices.Equal(s.Faults, []string{"route:eth2"}) {
		t.Errorf("eth2 down: %v %v, want FAULT [route:eth2]", s.State, s.Faults)
	}
	tn.n.LinkChanged(tn.now, vrrp.LinkState{Interface: "eth2", Exists: true, Up: true})
	if got := tn.state("VI_1"); got != vrrp.Backup {
		t.Errorf("eth2 up again: %v, want BACKUP", got)
	}
	// A reload that drops the route, or makes it no_track, while its
	// device is down leaves no fault behind.
	for _, change := range []func(*vrrp.InstanceConfig){
		func(c *vrrp.InstanceConfig) { c.VirtualRoutes = c.VirtualRoutes[1:] },
		func(c *vrrp.InstanceConfig) { c.VirtualRoutes[0].NoTrack = true },
	} {
		tn.n.LinkChanged(tn.now, vrrp.LinkState{Interface: "eth2", Exists: true})
		if got := tn.state("VI_1"); got != vrrp.Fault {
			t.Fatalf("eth2 down: %v, want FAULT", got)
		}
		r := c
		r.VirtualRoutes = slices.Clone(c.VirtualRoutes)
		change(&r)
		tn.n.Reconfigure(tn.now, tn.id("VI_1"), r, vrrp.Addressing{Source: local, Group: vrrp.Group4})
		if s := tn.n.Status(tn.id("VI_1")); s.State != vrrp.Backup || len(s.Faults) != 0 {
			t.Errorf("after the reload: %v %v, want BACKUP without faults", s.State, s.Faults)
		}
		tn.n.Reconfigure(tn.now, tn.id("VI_1"), c, vrrp.Addressing{Source: local, Group: vrrp.Group4})
	}
}
