package sim

import (
	"fmt"
	"net/netip"
	"strings"

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
)

var inputNames = [...]string{"Start", "Stop", "Tick", "Receive", "SetFault", "SetPriority"}

func (k inputKind) String() string { return inputNames[k] }

// input describes one input given to a Machine, for the cause check.
type input struct {
	kind inputKind
	on   bool // SetFault's argument
	// The Machine's state and priority before the input, and its address.
	from  vrrp.State
	prio  uint8
	local netip.Addr
	// The advert's priority and source, for Receive.
	advPrio uint8
	src     netip.Addr
}

// better reports whether a received advert beats the local router: a
// higher priority, or an equal one from a greater address (RFC 5798
// section 6.4.3 (725)).
func (in input) better() bool {
	return in.advPrio > in.prio || in.advPrio == in.prio && in.src.Compare(in.local) > 0
}

// cause checks that e, returned by m for in, is a transition with a cause,
// or no transition where none is due, and describes the problem if not.
func cause(in input, e vrrp.Effects, m *vrrp.Machine) string {
	if !e.Transitioned() {
		switch {
		case m.State() != in.from:
			return fmt.Sprintf("%v moved %v -> %v without a transition", in.kind, in.from, m.State())
		case in.kind == inReceive && in.from == vrrp.Master && e.Drop == vrrp.DropNone && in.better():
			return fmt.Sprintf("Master at prio %d stays Master after accepting an advert of prio %d from greater %v",
				in.prio, in.advPrio, in.src)
		}
		return ""
	}
	switch {
	case e.From == e.To:
		return fmt.Sprintf("%v: transition from %v to itself (%v)", in.kind, e.From, e.Reason)
	case e.From != in.from:
		return fmt.Sprintf("%v: transition from %v but the Machine was %v", in.kind, e.From, in.from)
	case e.To != m.State():
		return fmt.Sprintf("%v: transition to %v but the Machine is %v", in.kind, e.To, m.State())
	case e.To == vrrp.Master && !e.Bind:
		return fmt.Sprintf("%v: became Master (%v) without binding the VIPs", in.kind, e.Reason)
	case e.From == vrrp.Master && !e.Unbind:
		return fmt.Sprintf("%v: left Master (%v) without unbinding the VIPs", in.kind, e.Reason)
	}
	var ok bool
	switch in.kind {
	case inTick:
		ok = e.Reason == vrrp.ReasonMasterDown && e.From == vrrp.Backup && e.To == vrrp.Master
	case inReceive:
		ok = e.Reason == vrrp.ReasonPreempted && e.From == vrrp.Master && e.To == vrrp.Backup && in.better()
	case inStart:
		ok = e.From == vrrp.Init && (e.Reason == vrrp.ReasonStartup && e.To == vrrp.Backup ||
			e.Reason == vrrp.ReasonOwner && e.To == vrrp.Master && in.prio == 255 ||
			e.Reason == vrrp.ReasonFault && e.To == vrrp.Fault && m.Faulted())
	case inStop:
		ok = e.Reason == vrrp.ReasonShutdown && e.To == vrrp.Init
	case inFault:
		ok = in.on && e.Reason == vrrp.ReasonFault && e.To == vrrp.Fault ||
			!in.on && e.Reason == vrrp.ReasonFaultCleared && e.From == vrrp.Fault &&
				(e.To == vrrp.Backup || e.To == vrrp.Master && in.prio == 255)
	}
	if ok {
		return ""
	}
	detail := ""
	if in.kind == inReceive {
		detail = fmt.Sprintf(" (advert prio %d from %v, local prio %d at %v)", in.advPrio, in.src, in.prio, in.local)
	}
	return fmt.Sprintf("transition without a cause: %v gave %v -> %v (%v)%s", in.kind, e.From, e.To, e.Reason, detail)
}

// checkSettled checks the settled state: every Machine runs, each VRID
// has exactly one Master, the best router by (priority, address), and its
// VIPs are bound on it alone.
func (s *sim) checkSettled() {
	for v, id := range s.cfg.IDs {
		var masters []*router
		var best *router
		for _, r := range s.routers {
			m := r.vrs[v].m
			if m == nil || m.State() != vrrp.Master && m.State() != vrrp.Backup {
				s.violate("vrid %d: %s is not running (%s)", id, r.name, stateOf(m))
				continue
			}
			if m.State() == vrrp.Master {
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
			mp, bp := masters[0].vrs[v].m.Priority(), best.vrs[v].m.Priority()
			if mp < bp || s.cfg.StrictTies {
				s.violate("vrid %d: Master %s (prio %d, %v) but %s (prio %d, %v) is better",
					id, masters[0].name, mp, masters[0].addr, best.name, bp, best.addr)
			}
		}
		for _, r := range s.routers {
			s.checkBinder(r, v)
		}
	}
}

// checkBinder checks that r has the VIPs of VRID index v bound exactly when
// it is Master there. Only a crashed router may differ, until it restarts.
func (s *sim) checkBinder(r *router, v int) {
	master := r.vrs[v].m != nil && r.vrs[v].m.State() == vrrp.Master
	for _, vip := range r.vrs[v].vips {
		if bound := r.binder.Has(vip.Prefix); bound != master {
			s.violate("vrid %d: VIP %v bound=%v on %s (%s)", r.vrs[v].cfg.VRID, vip.Prefix, bound, r.name, stateOf(r.vrs[v].m))
		}
	}
}

// beats reports whether router a ranks above b for VRID index v: a higher
// effective priority, or an equal one and a greater address.
func (s *sim) beats(a, b *router, v int) bool {
	pa, pb := a.vrs[v].m.Priority(), b.vrs[v].m.Priority()
	return pa > pb || pa == pb && a.addr.Compare(b.addr) > 0
}

func stateOf(m *vrrp.Machine) string {
	if m == nil {
		return "down"
	}
	return m.State().String()
}

func names(rs []*router) string {
	n := make([]string, len(rs))
	for i, r := range rs {
		n[i] = r.name
	}
	return "[" + strings.Join(n, " ") + "]"
}
