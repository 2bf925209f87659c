package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// faults are the kinds of fault injected during the fault phase, with
// their weights.
var faults = []struct {
	weight int
	inject func(*sim)
}{
	{3, (*sim).netFaults},
	{2, (*sim).partition},
	{1, (*sim).healPartition},
	{2, (*sim).toggleLink},
	{1, (*sim).toggleAddr},
	{1, (*sim).toggleTracked},
	{2, (*sim).crashOrRestart},
	{2, (*sim).stopOrStart},
	{2, (*sim).setPriority},
	{2, (*sim).adjustPriority},
	{3, (*sim).flapCheck},
	{1, (*sim).toggleFault},
	{2, (*sim).reload},
	{1, (*sim).regroup},
	{2, (*sim).binderTrouble},
	{1, (*sim).toggleCorrupt},
}

// fault injects one random fault.
func (s *sim) fault() {
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	n := s.rng.IntN(total)
	for _, f := range faults {
		if n -= f.weight; n < 0 {
			s.stats.Faults++
			f.inject(s)
			return
		}
	}
}

// netFaults sets new random loss, duplication, delay, jitter and
// reordering, or clears them.
func (s *sim) netFaults() {
	var f fake.Faults
	if s.rng.IntN(4) > 0 {
		f = fake.Faults{
			Loss:      s.rng.Float64() * maxLoss,
			Duplicate: s.rng.Float64() * maxDuplicate,
			Delay:     time.Duration(s.rng.Int64N(int64(maxDelay) + 1)).Round(100 * time.Microsecond),
			Jitter:    time.Duration(s.rng.Int64N(int64(maxJitter) + 1)).Round(100 * time.Microsecond),
			Reorder:   s.rng.Float64() * maxReorder,
		}
	}
	s.seg.SetFaults(f)
	s.logf("network loss %.0f%% duplicate %.0f%% delay %v jitter %v reorder %.0f%%",
		100*f.Loss, 100*f.Duplicate, f.Delay, f.Jitter, 100*f.Reorder)
}

// partition splits the routers into two or three groups.
func (s *sim) partition() {
	n := len(s.routers)
	if n < 2 {
		return
	}
	k := min(n, 2+s.rng.IntN(2))
	group := make([]int, n)
	for i, r := range s.rng.Perm(n) {
		group[r] = i
		if i >= k {
			group[r] = s.rng.IntN(k)
		}
	}
	hosts := make([][]*fake.Host, k)
	members := make([][]string, k)
	for _, r := range s.routers { // in index order
		g := group[r.idx]
		hosts[g] = append(hosts[g], r.host)
		members[g] = append(members[g], r.name)
	}
	// Name the groups in the order of their first member.
	slices.SortFunc(members, func(a, b []string) int { return s.nameIndex(a[0]) - s.nameIndex(b[0]) })
	var text strings.Builder
	for _, m := range members {
		fmt.Fprintf(&text, " [%s]", strings.Join(m, " "))
	}
	s.seg.Partition(hosts...)
	s.logf("partition%s", text.String())
}

func (s *sim) nameIndex(name string) int {
	for _, r := range s.routers {
		if r.name == name {
			return r.idx
		}
	}
	return -1
}

func (s *sim) healPartition() {
	s.seg.Heal()
	s.logf("partition healed")
}

// randomRouter returns a random router.
func (s *sim) randomRouter() *router { return s.routers[s.rng.IntN(len(s.routers))] }

// toggleLink pulls or plugs a router's cable: eth0 loses or regains its
// carrier, and the Node is told.
func (s *sim) toggleLink() {
	r := s.randomRouter()
	s.setEth0(r, !r.eth0Up, r.eth0Addr)
}

// toggleAddr removes eth0's address, which adverts leave from, or puts it
// back.
func (s *sim) toggleAddr() {
	r := s.randomRouter()
	s.setEth0(r, r.eth0Up, !r.eth0Addr)
}

func (s *sim) setEth0(r *router, up, addr bool) {
	if up != r.eth0Up {
		s.logf("%s link %s", r.name, choose(up, "up", "down"))
	}
	if addr != r.eth0Addr {
		s.logf("%s eth0 address %s", r.name, choose(addr, "back", "lost"))
	}
	r.eth0Up, r.eth0Addr = up, addr
	r.host.SetLink(up)
	if r.node != nil {
		ls := s.eth0(r)
		s.feed(r, input{kind: inLink, v: -1}, func(now time.Time) { r.node.LinkChanged(now, ls) })
	}
}

// toggleTracked brings the tracked interface eth1 down or up.
func (s *sim) toggleTracked() {
	s.setEth1(s.randomRouter(), s.rng.IntN(2) == 0)
}

func (s *sim) setEth1(r *router, up bool) {
	if up == r.eth1Up {
		return
	}
	s.logf("%s eth1 %s", r.name, choose(up, "up", "down"))
	r.eth1Up = up
	if r.node == nil {
		return
	}
	for i, t := range s.cfg.Tracks[r.idx] {
		if t.Link {
			for _, v := range t.VRIDs {
				r.vrs[v].views[i] = view{reported: true, down: !up}
			}
		}
	}
	ls := vrrp.LinkState{Interface: trackedIface, Exists: true, Up: up}
	s.feed(r, input{kind: inLink, v: -1}, func(now time.Time) { r.node.LinkChanged(now, ls) })
}

// crashOrRestart crashes a running router or brings a down or stopped one
// back.
func (s *sim) crashOrRestart() {
	r := s.randomRouter()
	if r.state == running {
		s.logf("%s crash", r.name)
		s.crash(r)
		return
	}
	s.revive(r)
}

// stopOrStart stops a running router gracefully or brings a down or
// stopped one back.
func (s *sim) stopOrStart() {
	r := s.randomRouter()
	if r.state == running {
		s.logf("%s stop", r.name)
		s.stop(r)
		return
	}
	s.revive(r)
}

// revive restarts a crashed router or starts a stopped one.
func (s *sim) revive(r *router) {
	if r.state == down {
		s.logf("%s restart", r.name)
	} else {
		s.logf("%s start", r.name)
	}
	s.start(r)
}

// setPriority sets a priority in place of the configured one (1 to 254,
// sometimes another router's effective one) on a VRID of a running router,
// or returns to the configured one.
func (s *sim) setPriority() {
	r := s.randomRouter()
	v := s.rng.IntN(len(r.vrs))
	if r.node == nil {
		return
	}
	prio := uint8(0)
	if s.rng.IntN(4) > 0 {
		prio = uint8(1 + s.rng.IntN(254))
		if o := s.randomRouter(); s.rng.IntN(3) == 0 && o.node != nil {
			if p := s.effective(o, v); p < 255 {
				prio = p // a tie
			}
		}
	}
	fed := prio
	if s.broken&brokenPriority != 0 && prio != 0 && prio < 254 {
		fed++
	}
	for _, u := range s.together(v) {
		vr := &r.vrs[u]
		if prio == 0 {
			s.logf("%s vrid %d priority reset", r.name, vr.cfg.VRID)
		} else {
			s.logf("%s vrid %d priority %d", r.name, vr.cfg.VRID, prio)
		}
		vr.override = prio
		s.feed(r, input{kind: inPriority, v: u}, func(now time.Time) { r.node.SetPriority(now, vr.id, fed) })
	}
}

// adjustPriority sets the delta of source "adjust" on a VRID of a running
// router; 0 removes it.
func (s *sim) adjustPriority() {
	r := s.randomRouter()
	v := s.rng.IntN(len(r.vrs))
	if r.node == nil {
		return
	}
	delta := s.rng.IntN(121) - 60
	if s.rng.IntN(4) == 0 {
		delta = 0
	}
	for _, u := range s.together(v) {
		vr := &r.vrs[u]
		s.logf("%s vrid %d adjust %+d", r.name, vr.cfg.VRID, delta)
		vr.adjust = delta
		s.feed(r, input{kind: inAdjust, v: u}, func(now time.Time) { r.node.AdjustPriority(now, vr.id, "adjust", delta) })
	}
}

// flapCheck turns a check of a router down or up, and reports it to the
// instances that track it.
func (s *sim) flapCheck() {
	r := s.randomRouter()
	var checks []int
	for i, t := range s.cfg.Tracks[r.idx] {
		if !t.Link {
			checks = append(checks, i)
		}
	}
	if len(checks) == 0 {
		return
	}
	i := checks[s.rng.IntN(len(checks))]
	r.checks[i] = !r.checks[i]
	s.logf("%s chk%d %s", r.name, i, choose(r.checks[i], "down", "up"))
	if r.node != nil {
		s.report(r, i)
	}
}

// toggleFault raises or clears the fault "admin" of a VRID of a router.
func (s *sim) toggleFault() {
	r := s.randomRouter()
	v := s.rng.IntN(len(r.vrs))
	if r.node == nil {
		return
	}
	s.setFault(r, v, !r.vrs[v].admin)
}

func (s *sim) setFault(r *router, v int, on bool) {
	vr := &r.vrs[v]
	s.logf("%s vrid %d fault %s", r.name, vr.cfg.VRID, choose(on, "raised", "cleared"))
	vr.admin = on
	s.feed(r, input{kind: inFault, v: v, on: on}, func(now time.Time) { r.node.SetFault(now, vr.id, "admin", on) })
}

// reload changes the configuration of a VRID of a router: its priority
// (and its sync group's, see Config.GroupVRIDs; an owner stays one), its
// advert interval (VRRPv3; up to the largest of the scenario), or its
// VIPs (1 to 3 of the VRID's; the other routers get them when the fault
// phase ends). A running router reconfigures in place. The VIPs of a
// router that does not run stay: a crashed one may have left some bound,
// which it removes when it starts, if they are still its own.
func (s *sim) reload() {
	r := s.randomRouter()
	v := s.rng.IntN(len(r.vrs))
	change := map[int]vrrp.InstanceConfig{}
	cfg := func(u int) vrrp.InstanceConfig {
		c, ok := change[u]
		if !ok {
			c = r.vrs[u].cfg
			c.VIPs = slices.Clone(c.VIPs)
		}
		return c
	}
	var what []string
	if s.rng.IntN(2) == 0 && r.vrs[v].cfg.Priority != 255 {
		prio := uint8(1 + s.rng.IntN(254))
		for _, u := range s.together(v) {
			c := cfg(u)
			c.Priority = prio
			change[u] = c
		}
		what = append(what, fmt.Sprintf("priority %d", prio))
	}
	if s.rng.IntN(2) == 0 && s.cfg.Version == 3 {
		c := cfg(v)
		c.AdvertInterval = time.Duration(10+s.rng.Int64N(int64(s.maxInt/(10*time.Millisecond))-9)) * 10 * time.Millisecond
		change[v] = c
		what = append(what, fmt.Sprintf("interval %v", c.AdvertInterval))
	}
	if r.node != nil && (len(what) == 0 || s.rng.IntN(2) == 0) {
		var addrs []netip.Addr
		for i := range maxVIPs {
			if s.rng.IntN(2) == 0 {
				addrs = append(addrs, vipAddr(s.cfg.Family, s.cfg.IDs[v], i+1))
			}
		}
		if len(addrs) == 0 {
			addrs = append(addrs, vipAddr(s.cfg.Family, s.cfg.IDs[v], 1+s.rng.IntN(maxVIPs)))
		}
		c := cfg(v)
		c.VIPs = vipsOf(addrs)
		change[v] = c
		s.vipSets[v] = addrs
		what = append(what, fmt.Sprintf("vips %v", addrs))
	}
	s.logf("%s vrid %d reload: %s", r.name, r.vrs[v].cfg.VRID, strings.Join(what, ", "))
	for u := range r.vrs {
		if c, ok := change[u]; ok {
			s.reconfigure(r, u, c)
		}
	}
}

// reconfigure gives router r's VRID index v configuration c, in place if
// it runs.
func (s *sim) reconfigure(r *router, v int, c vrrp.InstanceConfig) {
	vr := &r.vrs[v]
	old := vr.cfg.VIPs
	vr.cfg = c
	if !slices.Equal(old, c.VIPs) {
		// The VIPs confirmed and still configured are still held.
		vr.held = slices.DeleteFunc(vr.held, func(p netip.Prefix) bool { return !slices.Contains(c.VIPs, vrrp.VIP{Prefix: p}) })
	}
	if r.node != nil {
		s.feed(r, input{kind: inReload, v: v}, func(now time.Time) {
			r.node.Reconfigure(now, vr.id, c, vrrp.Addressing{Source: r.addr, Group: s.group})
		})
	}
}

// regroup reloads a router's sync groups: the group formed or dissolved,
// or its TrackingWeight turned on or off.
func (s *sim) regroup() {
	if len(s.cfg.GroupVRIDs) == 0 {
		return
	}
	r := s.randomRouter()
	if s.rng.IntN(2) == 0 {
		r.grouped = !r.grouped
	} else {
		r.weights = !r.weights
	}
	s.logf("%s sync group %v tracking weight %v", r.name, r.grouped, r.weights)
	r.splitFrom, r.splitSaid = -1, false
	if r.node != nil {
		groups := s.syncGroups(r)
		s.feed(r, input{kind: inGroups, v: -1}, func(now time.Time) { r.node.SetGroups(now, groups) })
	}
}

// binderTrouble makes a router's binder fail some binds or answer some
// slowly or late, or heals it.
func (s *sim) binderTrouble() {
	if !s.cfg.BindFaults {
		return
	}
	r := s.randomRouter()
	r.bindFail, r.bindSlow = 0, 0
	switch s.rng.IntN(3) {
	case 0:
		r.bindFail = 0.2 + 0.8*s.rng.Float64()
	case 1:
		r.bindSlow = 0.2 + 0.8*s.rng.Float64()
	}
	s.logf("%s binder fails %.0f%% slow %.0f%%", r.name, 100*r.bindFail, 100*r.bindSlow)
}

// toggleCorrupt starts or stops corrupting packets in flight.
func (s *sim) toggleCorrupt() {
	if s.corrupt > 0 {
		s.corrupt = 0
	} else {
		s.corrupt = s.rng.Float64() * maxCorrupt
	}
	s.logf("corrupt %.1f%% of packets", 100*s.corrupt)
}

// heal ends the fault phase: the network is cleared, the partition healed,
// links, addresses, checks and binders brought back, faults cleared, every
// router started again and given the VIPs of the last reload. Priorities
// and sync groups stay as they are.
func (s *sim) heal() {
	s.logf("fault phase ends: network cleared, partition healed, links up")
	s.corrupt = 0
	s.seg.SetFaults(fake.Faults{})
	s.seg.Heal()
	for _, r := range s.routers {
		r.bindFail, r.bindSlow = 0, 0
		if !r.eth0Up || !r.eth0Addr {
			s.setEth0(r, true, true)
		}
		s.setEth1(r, true)
		for i := range r.checks {
			if r.checks[i] {
				r.checks[i] = false
				s.logf("%s chk%d up", r.name, i)
				if r.node != nil {
					s.report(r, i)
				}
			}
		}
		for v := range r.vrs {
			if r.node != nil && r.vrs[v].admin {
				s.setFault(r, v, false)
			}
		}
	}
	for _, r := range s.routers {
		if r.state != running {
			s.revive(r)
		}
		for v := range r.vrs {
			if want := vipsOf(s.vipSets[v]); !slices.Equal(r.vrs[v].cfg.VIPs, want) {
				c := r.vrs[v].cfg
				c.VIPs = want
				s.logf("%s vrid %d reload: vips %v", r.name, c.VRID, s.vipSets[v])
				s.reconfigure(r, v, c)
			}
		}
	}
}

func choose(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
