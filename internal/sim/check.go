package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

type inputKind uint8

const (
	inStart inputKind = iota
	inStop
	inTick
	inReceive
	inFault
	inPriority
	inAdjust
	inTrack
	inLink
	inBind
	inReload
	inGroups
	inReturned
)

var inputNames = [...]string{"Start", "Stop", "Tick", "Receive", "SetFault", "SetPriority", "AdjustPriority",
	"SetTrack", "LinkChanged", "BindDone", "Reconfigure", "SetGroups", "MasterReturned"}

func (k inputKind) String() string { return inputNames[k] }

// input describes one input given to a Node, for the cause check.
type input struct {
	kind inputKind
	// v is the VRID index the input is for; -1 for all or none.
	v int
	// on is SetFault's argument; for BindDone, that the bind failed.
	on bool
	// The effective priority of v before the input, and the router's
	// address.
	prio  uint8
	local netip.Addr
	// The advert's priority and source, and what became of it, for
	// Receive.
	advPrio uint8
	src     netip.Addr
	drop    vrrp.DropReason
}

// better reports whether a received advert beats the local router: a
// higher priority, or an equal one from a greater address (RFC 5798
// section 6.4.3 (725)).
func (in input) better() bool {
	return in.advPrio > in.prio || in.advPrio == in.prio && in.src.Compare(in.local) > 0
}

// causes are the inputs that may start an instance (its Machine starts
// once it awaits nothing) or raise or clear a fault.
var (
	starts   = []inputKind{inStart, inTick, inTrack, inAdjust, inFault}
	faulting = []inputKind{inFault, inTrack, inLink, inBind, inGroups, inTick}
)

// cause checks that t, a transition of router r's VRID index v reported
// among the effects of in (b holding those before it), has a cause, and
// describes the problem if not:
//
//   - master-down: a Tick, Backup to Master;
//   - preempted: a Receive for v of a better advert, Master to Backup;
//   - sync: another member of v's sync group made the same move earlier in
//     the same effects (Backup to Master, or Master to Backup), or a change
//     of sync groups brought v's group together;
//   - startup or owner (priority 255, to Master): from Init, on Start, or
//     on the first report of a source it awaited, or when the wait ends;
//   - fault: to Fault, on a fault, a track, a link state, a failed bind, a
//     change of sync groups, a start, or a Tick that ends a bind (a
//     takeover's or a reload's) not confirmed in time, of v or of a member
//     of its group;
//   - fault-cleared: from Fault to Backup (or Master for an owner), on a
//     fault, a track, a link state, a change of sync groups, or a Tick
//     (the retry after a failed bind);
//   - shutdown: Stop, to Init.
//
// A Master binds its VIPs, and one leaving Master unbinds them, in the
// same effects.
func (s *sim) cause(r *router, v int, in input, t vrrp.Transition, b *batch) string {
	vr := &r.vrs[v]
	switch {
	case t.From == t.To:
		return fmt.Sprintf("%v: transition from %v to itself (%v)", in.kind, t.From, t.Reason)
	case t.From != vr.state:
		return fmt.Sprintf("%v: transition from %v but the instance was %v", in.kind, t.From, vr.state)
	case t.To == vrrp.Master && !b.bind[v]:
		return fmt.Sprintf("%v: became Master (%v) without binding the VIPs", in.kind, t.Reason)
	case t.From == vrrp.Master && !b.unbind[v]:
		return fmt.Sprintf("%v: left Master (%v) without unbinding the VIPs", in.kind, t.Reason)
	}
	owner := s.effective(r, v) == 255
	ok := false
	switch t.Reason {
	case vrrp.ReasonMasterDown:
		ok = in.kind == inTick && t.From == vrrp.Backup && t.To == vrrp.Master
	case vrrp.ReasonPreempted:
		ok = in.kind == inReceive && in.v == v && t.From == vrrp.Master && t.To == vrrp.Backup && in.better()
	case vrrp.ReasonSync:
		// A group formed over members in different states brings them
		// together.
		ok = in.kind == inGroups && slices.Contains(s.members(r), v)
		for i, u := range b.vs {
			o := b.trans[i]
			ok = ok || u != v && slices.Contains(s.members(r), u) && slices.Contains(s.members(r), v) &&
				(t.From == vrrp.Backup && t.To == vrrp.Master && o.To == vrrp.Master ||
					t.From == vrrp.Master && t.To == vrrp.Backup && o.From == vrrp.Master && o.To == vrrp.Backup)
		}
	case vrrp.ReasonStartup:
		ok = slices.Contains(starts, in.kind) && t.From == vrrp.Init && t.To == vrrp.Backup
	case vrrp.ReasonOwner:
		ok = slices.Contains(starts, in.kind) && t.From == vrrp.Init && t.To == vrrp.Master && owner
	case vrrp.ReasonFault:
		ok = t.To == vrrp.Fault
		switch {
		case t.From == vrrp.Init:
			ok = ok && (slices.Contains(starts, in.kind) || slices.Contains(faulting, in.kind))
		case in.kind == inTick:
			timedOut := b.timedOut[v]
			for _, u := range s.members(r) {
				timedOut = timedOut || b.timedOut[u] && slices.Contains(s.members(r), v)
			}
			ok = ok && timedOut
		case in.kind == inBind:
			ok = ok && in.on
		default:
			ok = ok && slices.Contains(faulting, in.kind)
		}
	case vrrp.ReasonFaultCleared:
		ok = slices.Contains(faulting, in.kind) && in.kind != inBind && t.From == vrrp.Fault &&
			(t.To == vrrp.Backup || t.To == vrrp.Master && owner)
	case vrrp.ReasonShutdown:
		ok = in.kind == inStop && t.To == vrrp.Init
	}
	if ok {
		return ""
	}
	detail := ""
	if in.kind == inReceive {
		detail = fmt.Sprintf(" (advert prio %d from %v, local prio %d at %v)", in.advPrio, in.src, in.prio, in.local)
	}
	return fmt.Sprintf("transition without a cause: %v gave %v -> %v (%v)%s", in.kind, t.From, t.To, t.Reason, detail)
}

// checkStep checks, after every event, the invariants that bound a time:
// no Master stays Master past its bind timeout (max(advert interval,
// 1 s)) with its VIPs unbound, nor with VIPs a reload added; and the
// members of a sync group do not sit as Master and Backup past
// splitBound. When something changed, it also checks where VIPs are bound.
func (s *sim) checkStep() {
	for _, r := range s.routers {
		if r.node == nil {
			continue
		}
		for v := range r.vrs {
			vr := &r.vrs[v]
			if vr.state != vrrp.Master || vr.late {
				continue
			}
			if !vr.bound && !vr.bindAt.IsZero() && s.now > r.global(vr.bindAt.Add(vr.floor)) {
				s.violate("%s vrid %d: Master with its VIPs unbound for more than %v", r.name, vr.cfg.VRID, vr.floor)
				vr.late = true
			}
			if vr.bound && !vr.addAt.IsZero() && s.now > r.global(vr.addAt.Add(vr.floor)) {
				s.violate("%s vrid %d: Master with VIPs added by a reload unbound for more than %v", r.name, vr.cfg.VRID, vr.floor)
				vr.late = true
			}
		}
		s.checkSplit(r)
	}
	if s.dirty {
		for _, r := range s.routers {
			s.checkBinder(r)
		}
	}
}

// splitBound is how long the members of a sync group may sit in
// different states, Master and Backup: twice the settle time, that is
// twice the largest Master_Down_Interval plus advert interval, stretched
// by the slowest clock, plus packet delays and the wait for checks. A
// member that starts late (it awaited a check) or is held takes over or
// follows within one Master_Down_Interval; the second one covers adverts
// lost in the fault phase. Members in Init or Fault are not compared: a
// member's fault faults the others, and one awaiting its first reports
// stays in Init.
func (s *sim) splitBound() int64 { return 2 * int64(s.cfg.settle()) }

// checkSplit checks that r's sync group does not sit split.
func (s *sim) checkSplit(r *router) {
	masters, backups := 0, 0
	for _, v := range s.members(r) {
		switch r.vrs[v].state {
		case vrrp.Master:
			masters++
		case vrrp.Backup:
			backups++
		}
	}
	if masters == 0 || backups == 0 {
		r.splitFrom, r.splitSaid = -1, false
		return
	}
	if r.splitFrom < 0 {
		r.splitFrom = s.now
	}
	if !r.splitSaid && s.now-r.splitFrom > s.splitBound() {
		var states []string
		for _, v := range s.members(r) {
			states = append(states, fmt.Sprintf("vrid %d %v", r.vrs[v].cfg.VRID, r.vrs[v].state))
		}
		s.violate("%s: sync group split since %v: %s", r.name, time.Duration(r.splitFrom).Round(time.Millisecond), strings.Join(states, ", "))
		r.splitSaid = true
	}
}

// checkBinder checks where r's VIPs are bound: a VIP bound on r belongs to
// an instance that is Master and has it in its configuration, or whose
// unbind of it is queued; a Master whose bind was confirmed holds the
// VIPs it bound. A crashed router may hold any, until it restarts.
func (s *sim) checkBinder(r *router) {
	if r.state == down {
		return
	}
	for _, x := range r.binder.Bound(iface) {
		vr := &r.vrs[s.vrids[x.Prefix]]
		if r.node != nil && vr.state == vrrp.Master && slices.Contains(vr.cfg.VIPs, x) {
			continue
		}
		if slices.ContainsFunc(vr.ops, func(o op) bool { return !o.bind && slices.Contains(o.vips, x) }) {
			continue
		}
		s.violate("vrid %d: VIP %v bound on %s (%v), no unbind of it queued", vr.cfg.VRID, x.Prefix, r.name, stateOf(r, vr))
	}
	if r.node == nil {
		return
	}
	for v := range r.vrs {
		vr := &r.vrs[v]
		if vr.state != vrrp.Master || !vr.bound {
			continue
		}
		for _, p := range vr.held {
			if !r.binder.Has(p) {
				s.violate("vrid %d: VIP %v not bound on %s (MASTER), its bind confirmed", vr.cfg.VRID, p, r.name)
			}
		}
	}
}

// checkSettled checks the settled state: every instance runs, each VRID
// has exactly one Master, the best router by (priority, address), and its
// VIPs are bound on it alone. (The checks begin once a failed bind can no
// longer hold an instance in FAULT or keep it from preempting: see
// bindRetryMax.)
func (s *sim) checkSettled() {
	for v, id := range s.cfg.IDs {
		var masters []*router
		var best *router
		for _, r := range s.routers {
			vr := &r.vrs[v]
			if r.node == nil || vr.state != vrrp.Master && vr.state != vrrp.Backup {
				s.violate("vrid %d: %s is not running (%s)", id, r.name, stateOf(r, vr))
				continue
			}
			if vr.state == vrrp.Master {
				masters = append(masters, r)
			}
			if best == nil || s.beats(r, best, v) {
				best = r
			}
		}
		switch {
		case len(masters) != 1:
			s.violate("vrid %d: %d Masters %s, want 1", id, len(masters), names(masters))
		case best != nil && masters[0] != best:
			mp, bp := s.effective(masters[0], v), s.effective(best, v)
			if mp < bp || s.cfg.StrictTies {
				s.violate("vrid %d: Master %s (prio %d, %v) but %s (prio %d, %v) is better",
					id, masters[0].name, mp, masters[0].addr, best.name, bp, best.addr)
			}
		}
		for _, r := range s.routers {
			master := len(masters) == 1 && masters[0] == r
			for _, a := range s.vipSets[v] {
				p := hostPrefix(a)
				if bound := r.binder.Has(p); bound != master {
					s.violate("vrid %d: VIP %v bound=%v on %s (%s)", id, p, bound, r.name, stateOf(r, &r.vrs[v]))
				}
			}
			// The virtual routes and rules follow the Master as its VIPs
			// do: never held by two live routers.
			if held := r.binder.HasRoute(simRoute(v)); held != master {
				s.violate("vrid %d: route %v held=%v on %s (%s)", id, simRoute(v).Dst, held, r.name, stateOf(r, &r.vrs[v]))
			}
			if held := r.binder.HasRule(simRule(v)); held != master {
				s.violate("vrid %d: rule of table %d held=%v on %s (%s)", id, simRule(v).Table, held, r.name, stateOf(r, &r.vrs[v]))
			}
		}
	}
}

// beats reports whether router a ranks above b for VRID index v: a higher
// effective priority, or an equal one and a greater address.
func (s *sim) beats(a, b *router, v int) bool {
	pa, pb := s.effective(a, v), s.effective(b, v)
	return pa > pb || pa == pb && a.addr.Compare(b.addr) > 0
}

func stateOf(r *router, vr *vr) string {
	switch {
	case r.state == down:
		return "down"
	case r.state == stopped:
		return "stopped"
	}
	return vr.state.String()
}

func names(rs []*router) string {
	n := make([]string, len(rs))
	for i, r := range rs {
		n[i] = r.name
	}
	return "[" + strings.Join(n, " ") + "]"
}
