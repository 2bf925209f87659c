package vrrp

import (
	"fmt"
	"slices"
	"time"
)

// LinkChanged applies a new interface state to every instance that uses or
// tracks the interface.
func (n *Node) LinkChanged(now time.Time, ls LinkState) {
	n.links[ls.Interface] = ls
	for _, name := range n.Names() {
		inst := n.byName[name]
		n.followSource(inst, ls, now)
		if !n.trackLink(inst, ls, ls.Interface) {
			continue
		}
		n.priorityChanged(inst, now)
		// Also when inst stays faulted: its sync group counts its own
		// faults, not the group's.
		n.faultsChanged(inst, now)
	}
}

// trackLink records in inst's faults and priority deltas what the state of
// one interface means for it, and reports whether the interface concerns
// inst. It changes no Machine.
func (n *Node) trackLink(inst *nodeInst, ls LinkState, iface string) bool {
	n.markDirty(inst) // the list of faults shows in Status
	c := &inst.cfg
	concerns := false
	if iface == c.Interface && !c.DontTrackPrimary {
		concerns = true
		ok := ls.Exists && ls.Up && (c.SourceAddr.IsValid() || hasFamilyAddr(ls, c.Family()))
		setFaultCause(inst.faults, faultInterface, !ok, linkCause(ls, c.Family()))
	}
	for _, rt := range c.VirtualRoutes {
		// keepalived tracks the device of a virtual route: the Master
		// cannot route through a device that is down (measured: FAULT
		// while it is, BACKUP again once it is up).
		if rt.Dev == iface && !rt.NoTrack && iface != c.Interface {
			concerns = true
			up := ls.Exists && ls.Up
			setFaultCause(inst.faults, routePrefix+iface, !up, linkCause(ls, 0))
			break
		}
	}
	for _, t := range c.TrackInterfaces {
		if t.Name != iface {
			continue
		}
		concerns = true
		up := ls.Exists && ls.Up
		delta := 0
		if (t.Weight > 0) == up {
			delta = t.Weight
		}
		src := trackPrefix + t.Name
		d, fault := n.trackEffect(inst, TrackState{Source: src, Weight: t.Weight, Delta: delta, Down: !up})
		setDelta(inst.deltas, src, d)
		setFaultCause(inst.faults, src, fault, linkCause(ls, 0))
	}
	return concerns
}

// linkCause says why an interface cannot serve an instance of family f (0:
// any family).
func linkCause(ls LinkState, f Family) string {
	switch {
	case !ls.Exists:
		return fmt.Sprintf("interface %s does not exist", ls.Interface)
	case !ls.Up:
		return fmt.Sprintf("interface %s is down", ls.Interface)
	case f != 0 && !hasFamilyAddr(ls, f):
		return fmt.Sprintf("interface %s has no %v address to send from", ls.Interface, f)
	}
	return ""
}

// followSource keeps the source address of inst, when it is the
// interface's own (no SourceAddr), equal to the interface's current primary
// IPv4 or link-local IPv6 address, for instance after the interface was
// re-created with another address. A VMAC's IPv6 link-local address is its
// own, and does not follow.
func (n *Node) followSource(inst *nodeInst, ls LinkState, now time.Time) {
	c := &inst.cfg
	if c.SourceAddr.IsValid() || ls.Interface != c.Interface || (c.UseVMAC && !c.VMACXmitBase && c.Family() == IPv6) {
		return
	}
	if c.Family() == IPv6 && slices.Contains(ls.Addrs, inst.src) {
		// Keep a link-local address while it lasts, as the Conn does: a
		// newer one (a link-local VIP) comes first in the list.
		return
	}
	for _, a := range ls.Addrs {
		if (c.Family() == IPv4 && a.Is4()) || (c.Family() == IPv6 && a.Is6() && a.IsLinkLocalUnicast()) {
			if a != inst.src {
				n.log.Info("source address changed", "instance", c.Name, "from", inst.src, "to", a)
				inst.src = a
				n.reconfigureMachine(inst, now)
			}
			return
		}
	}
}

// hasFamilyAddr reports whether ls has an address the instance can send
// from: any IPv4 address, or an IPv6 link-local one.
func hasFamilyAddr(ls LinkState, f Family) bool {
	for _, a := range ls.Addrs {
		if f == IPv4 && a.Is4() {
			return true
		}
		if f == IPv6 && a.Is6() && a.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// setFaultCause sets or clears the fault of source in faults, with its cause.
func setFaultCause(faults map[string]string, source string, on bool, cause string) {
	if on {
		faults[source] = cause
	} else {
		delete(faults, source)
	}
}
