package vrrp

import (
	"context"
	"slices"
	"time"
)

// Fault and priority sources the Router itself raises.
const (
	faultInterface = "interface"
	trackPrefix    = "track:"
)

// startLinks runs the LinkMonitor, if any, on a goroutine owned by Run. Its
// reports are kept latest-wins per interface and applied by the owner loop.
func (r *Router) startLinks(ctx context.Context) {
	r.linkDone = nil
	if r.cfg.Links == nil {
		return
	}
	ctx, r.linkCancel = context.WithCancel(ctx)
	r.linkDone = make(chan struct{})
	go func() {
		defer close(r.linkDone)
		err := r.cfg.Links.Watch(ctx, func(ls LinkState) {
			r.mu.Lock()
			if r.links == nil {
				r.links = map[string]LinkState{}
			}
			r.links[ls.Interface] = ls
			r.mu.Unlock()
			r.signal()
		})
		if err != nil && ctx.Err() == nil {
			r.log.Error("link monitor stopped", "err", err)
		}
	}()
}

// stopLinks stops the LinkMonitor goroutine and waits for it.
func (r *Router) stopLinks() {
	if r.linkDone == nil {
		return
	}
	r.linkCancel()
	<-r.linkDone
	r.mu.Lock()
	r.links = nil
	r.mu.Unlock()
}

// linkChanged applies a new interface state to every instance that uses or
// tracks the interface.
func (r *Router) linkChanged(ls LinkState, now time.Time) {
	r.linkState[ls.Interface] = ls
	for _, name := range sortedKeys(r.insts) {
		inst := r.insts[name]
		r.followSource(inst, ls, now)
		prio, faulted := inst.m.Priority(), len(inst.faults) > 0
		if !r.trackLink(inst, ls, ls.Interface) {
			continue
		}
		if p := r.effective(inst); p != prio {
			r.apply(inst, inst.m.SetPriority(now, p), now)
		}
		if f := len(inst.faults) > 0; f != faulted {
			r.apply(inst, inst.m.SetFault(now, f), now)
			r.faultsChanged(inst, now)
		}
	}
}

// trackLink records in inst's faults and priority deltas what the state of
// one interface means for it, and reports whether the interface concerns
// inst. It changes no Machine.
func (r *Router) trackLink(inst *instance, ls LinkState, iface string) bool {
	r.markDirty(inst) // the list of faults shows in Status
	c := &inst.cfg
	concerns := false
	if iface == c.Interface && !c.DontTrackPrimary {
		concerns = true
		ok := ls.Exists && ls.Up && (c.SourceAddr.IsValid() || hasFamilyAddr(ls, c.Family()))
		setFlag(inst.faults, faultInterface, !ok)
	}
	weights := r.TracksWeights(c.Name)
	for _, t := range c.TrackInterfaces {
		if t.Name != iface {
			continue
		}
		concerns = true
		up := ls.Exists && ls.Up
		src := trackPrefix + t.Name
		switch {
		case t.Weight == 0 || !weights:
			setFlag(inst.faults, src, !up)
		case (t.Weight > 0) == up:
			inst.deltas[src] = t.Weight
		default:
			delete(inst.deltas, src)
		}
	}
	return concerns
}

// followSource keeps the source address of inst, when it is the
// interface's own (no SourceAddr), equal to the interface's current primary
// IPv4 or link-local IPv6 address, for instance after the interface was
// re-created with another address.
func (r *Router) followSource(inst *instance, ls LinkState, now time.Time) {
	c := &inst.cfg
	if c.SourceAddr.IsValid() || ls.Interface != c.Interface || (inst.vmacConn != nil && c.Family() == IPv6) {
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
				r.log.Info("source address changed", "instance", c.Name, "from", inst.src, "to", a)
				inst.src = a
				r.apply(inst, inst.m.Reconfigure(now, c.machineConfig(a)), now)
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

func setFlag(m map[string]bool, k string, on bool) {
	if on {
		m[k] = true
	} else {
		delete(m, k)
	}
}
