package vrrp

import (
	"container/heap"
	"fmt"
	"time"
)

// announcing is the announcement schedule of a Master: rounds left in the
// current burst, when the next round is due, and when the second burst and
// the next refresh start.
type announcing struct {
	rounds  int
	next    time.Time
	burst   time.Time
	refresh time.Time
	// lowBurst is when the second burst after hearing a lower priority
	// starts.
	lowBurst time.Time
}

// startAnnouncing begins the takeover announcements of inst: a burst of
// GARPMasterRepeat rounds now, another GARPMasterDelay later, and refreshes
// every GARPMasterRefresh, as keepalived does. The first round goes out at
// once.
func (n *Node) startAnnouncing(inst *nodeInst, now time.Time) {
	c := &inst.cfg
	inst.ann = announcing{rounds: c.GARPMasterRepeat, next: now}
	if c.GARPMasterDelay > 0 {
		inst.ann.burst = now.Add(c.GARPMasterDelay)
	}
	if c.GARPMasterRefresh > 0 {
		inst.ann.refresh = now.Add(c.GARPMasterRefresh)
	}
	n.runSchedules(inst, now)
	n.timers.update(inst)
}

// reassert begins the announcements of a bound Master that heard a lower
// priority: GARPLowerPrioRepeat rounds now, as many GARPLowerPrioDelay
// later, as keepalived sends them (each such advert starts them again).
func (n *Node) reassert(inst *nodeInst, now time.Time) {
	c := &inst.cfg
	if inst.m.State() != Master || inst.bind != bound || c.GARPLowerPrioRepeat <= 0 {
		return
	}
	a := &inst.ann
	if a.rounds == 0 {
		a.next = now
	}
	a.rounds += c.GARPLowerPrioRepeat
	if c.GARPLowerPrioDelay > 0 {
		a.lowBurst = now.Add(c.GARPLowerPrioDelay)
	}
	n.runSchedules(inst, now)
}

// startLease schedules the refresh of leased addresses.
func (n *Node) startLease(inst *nodeInst, now time.Time) {
	if n.opts.Lease > 0 {
		inst.leaseAt = now.Add(n.opts.Lease / 3)
	}
}

// runSchedules runs what of inst is due at now besides its Machine's
// timer: the wait for first reports, the retry after a failed bind, a
// takeover bind not confirmed in time, the announcement rounds and lease
// refreshes of a Master. It reports whether it changed any of inst's
// times; it does not place inst in the timer heap.
func (n *Node) runSchedules(inst *nodeInst, now time.Time) bool {
	changed := false
	if due(inst.awaitBy, now) {
		n.awaitChanged(inst, now)
		changed = true
	}
	if due(inst.retryAt, now) {
		inst.retryAt = time.Time{}
		n.setFault(inst, faultBind, false, "", now)
		changed = true
	}
	if due(inst.bindBy, now) {
		n.bindFailed(inst, fmt.Sprintf("no result within %v", max(inst.cfg.AdvertInterval, bindTimeoutFloor)), now)
		changed = true
	}
	if inst.m.State() != Master || inst.bind != bound {
		changed = changed || inst.ann != announcing{} || !inst.leaseAt.IsZero()
		inst.ann, inst.leaseAt = announcing{}, time.Time{}
		return changed
	}
	a, c := &inst.ann, &inst.cfg
	if due(a.burst, now) {
		a.burst = time.Time{}
		a.rounds, a.next = c.GARPMasterRepeat, now
		changed = true
	}
	if due(a.lowBurst, now) {
		a.lowBurst = time.Time{}
		if a.rounds == 0 {
			a.next = now
		}
		a.rounds += c.GARPLowerPrioRepeat
		changed = true
	}
	if due(a.refresh, now) {
		a.refresh = now.Add(c.GARPMasterRefresh)
		if a.rounds == 0 {
			a.next = now
		}
		a.rounds += c.GARPMasterRefreshRepeat
		changed = true
	}
	for a.rounds > 0 && due(a.next, now) {
		n.emit(Effect{Kind: EffectAnnounce, ID: inst.id, Iface: inst.vipIface, Addrs: inst.vipAddrs})
		a.rounds--
		a.next = time.Time{}
		if a.rounds > 0 && c.GARPInterval > 0 {
			a.next = now.Add(c.GARPInterval)
		} else if a.rounds > 0 {
			a.next = now
		}
		changed = true
	}
	if due(inst.leaseAt, now) {
		n.bindVIPs(inst, now)
		n.startLease(inst, now)
		changed = true
	}
	return changed
}

// due reports whether the non-zero time t has come.
func due(t, now time.Time) bool { return !t.IsZero() && !t.After(now) }

// nextDue returns the earliest non-zero time of inst's machine deadline and
// schedules; zero if none.
func nextDue(inst *nodeInst) time.Time {
	d := inst.m.Deadline()
	a := &inst.ann
	if a.rounds == 0 && a.burst.IsZero() && a.refresh.IsZero() && a.lowBurst.IsZero() && inst.leaseAt.IsZero() &&
		inst.bindBy.IsZero() && inst.retryAt.IsZero() && inst.awaitBy.IsZero() {
		// A Master between announcements, or a Backup: the common case.
		return d
	}
	for _, t := range [...]time.Time{a.next, a.burst, a.refresh, a.lowBurst, inst.leaseAt, inst.bindBy, inst.retryAt, inst.awaitBy} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// timerHeap orders instances by their next due time.
type timerHeap []*nodeInst

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

// Push implements heap.Interface.
func (h *timerHeap) Push(x any) {
	inst := x.(*nodeInst)
	inst.hidx = len(*h)
	*h = append(*h, inst)
}

// Pop implements heap.Interface.
func (h *timerHeap) Pop() any {
	old := *h
	inst := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	inst.hidx = -1
	return inst
}

// update places inst after its due time may have changed.
func (h *timerHeap) update(inst *nodeInst) {
	inst.due = nextDue(inst)
	switch {
	case inst.due.IsZero():
		h.remove(inst)
	case inst.hidx >= 0:
		heap.Fix(h, inst.hidx)
	default:
		heap.Push(h, inst)
	}
}

func (h *timerHeap) remove(inst *nodeInst) {
	if inst.hidx >= 0 {
		heap.Remove(h, inst.hidx)
	}
}

func (h timerHeap) top() *nodeInst {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h timerHeap) next() time.Time {
	if len(h) == 0 {
		return time.Time{}
	}
	return h[0].due
}
