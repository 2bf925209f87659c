package sim

import (
	"fmt"
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
	{2, (*sim).crashOrRestart},
	{2, (*sim).stopOrStart},
	{3, (*sim).changePriority},
	{2, (*sim).toggleFault},
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

// toggleLink pulls or plugs a router's cable.
func (s *sim) toggleLink() {
	r := s.routers[s.rng.IntN(len(s.routers))]
	up := !r.host.LinkUp()
	r.host.SetLink(up)
	s.logf("%s link %s", r.name, choose(up, "up", "down"))
}

// crashOrRestart crashes a running router or brings a down or stopped one
// back.
func (s *sim) crashOrRestart() {
	r := s.routers[s.rng.IntN(len(s.routers))]
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
	r := s.routers[s.rng.IntN(len(s.routers))]
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

// changePriority sets a random effective priority, 1 to 254, on a VRID of
// a router that is not its owner, sometimes equal to another router's.
func (s *sim) changePriority() {
	r := s.routers[s.rng.IntN(len(s.routers))]
	v := s.rng.IntN(len(r.vrs))
	vr := &r.vrs[v]
	if vr.m == nil || vr.cfg.Priority == 255 {
		return
	}
	prio := uint8(1 + s.rng.IntN(254))
	if o := s.routers[s.rng.IntN(len(s.routers))]; s.rng.IntN(3) == 0 && o.vrs[v].m != nil {
		if p := o.vrs[v].m.Priority(); p < 255 {
			prio = p // a tie
		}
	}
	s.logf("%s vrid %d priority %d", r.name, vr.cfg.VRID, prio)
	s.step(r, v, input{kind: inPriority}, func(now time.Time) vrrp.Effects { return vr.m.SetPriority(now, prio) })
}

// toggleFault raises or clears the fault of a VRID of a router.
func (s *sim) toggleFault() {
	r := s.routers[s.rng.IntN(len(s.routers))]
	v := s.rng.IntN(len(r.vrs))
	if r.vrs[v].m == nil {
		return
	}
	s.setFault(r, v, !r.vrs[v].m.Faulted())
}

func (s *sim) setFault(r *router, v int, on bool) {
	vr := &r.vrs[v]
	s.logf("%s vrid %d fault %s", r.name, vr.cfg.VRID, choose(on, "raised", "cleared"))
	s.step(r, v, input{kind: inFault, on: on}, func(now time.Time) vrrp.Effects { return vr.m.SetFault(now, on) })
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
// links brought up, faults cleared and routers started again. Priorities
// stay as they are.
func (s *sim) heal() {
	s.logf("fault phase ends: network cleared, partition healed, links up")
	s.corrupt = 0
	s.seg.SetFaults(fake.Faults{})
	s.seg.Heal()
	for _, r := range s.routers {
		r.host.SetLink(true)
	}
	for _, r := range s.routers {
		for v := range r.vrs {
			if m := r.vrs[v].m; m != nil && m.Faulted() {
				s.setFault(r, v, false)
			}
		}
	}
	for _, r := range s.routers {
		if r.state != running {
			s.revive(r)
		}
	}
}

func choose(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
