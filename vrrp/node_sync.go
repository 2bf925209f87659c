package vrrp

import (
	"fmt"
	"strings"
	"time"
)

// SyncGroup is a set of instances that change state together (keepalived's
// vrrp_sync_group): when one member goes to FAULT the others go too; when
// one loses mastership the other Masters step down; when one becomes Master
// the others follow at once. A Backup member takes over on its own timer
// only while no other member follows a Master it yields to, so that a group
// never splits between two routers.
type SyncGroup struct {
	// Name identifies the group.
	Name string
	// Members are instance names; an instance belongs to one group at most.
	Members []string
	// TrackingWeight lets tracked interfaces and checks with weights move
	// the priorities of members (keepalived's sync_group_tracking_weight).
	// Without it, as in keepalived, a weighted track of a member acts as
	// weight 0: FAULT while down. A priority change of one member cannot
	// move a group whose other members still follow their Master, so give
	// every member the same weighted tracks when setting this.
	TrackingWeight bool
}

// GroupTransition is a state change of a sync group, as passed to
// OnGroupTransition. A group is FAULT when a member is, MASTER when every
// member is, INIT when every member is, and BACKUP otherwise.
type GroupTransition struct {
	Group    string
	From, To State
	Time     time.Time
}

const syncPrefix = "sync:"

// group is a sync group at run time.
type group struct {
	name    string
	members []string
	weights bool
	state   State
}

func validateGroups(groups []SyncGroup, insts []InstanceConfig) []error {
	var errs []error
	known := map[string]bool{}
	for _, c := range insts {
		known[c.Name] = true
	}
	names := map[string]bool{}
	owner := map[string]string{}
	for i, g := range groups {
		field := fmt.Sprintf("SyncGroups[%d] (%s)", i, g.Name)
		add := func(f, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %s", ErrConfig, field, f, fmt.Sprintf(format, args...)))
		}
		if g.Name == "" {
			add("Name", "required")
		} else if names[g.Name] {
			add("Name", "duplicate")
		}
		names[g.Name] = true
		if len(g.Members) == 0 {
			add("Members", "a group needs members")
		}
		for _, m := range g.Members {
			switch {
			case !known[m]:
				add("Members", "unknown instance %q", m)
			case owner[m] != "":
				add("Members", "instance %q is already in group %q", m, owner[m])
			default:
				owner[m] = g.Name
			}
		}
	}
	return errs
}

// groupOf returns the group of the named instance, or nil.
func (n *Node) groupOf(name string) *group {
	for _, g := range n.groups {
		for _, m := range g.members {
			if m == name {
				return g
			}
		}
	}
	return nil
}

// weights reports whether weighted tracks move the priority of inst: true
// unless it belongs to a sync group without TrackingWeight.
func (n *Node) weights(inst *nodeInst) bool {
	if g := n.groupOf(inst.cfg.Name); g != nil {
		return g.weights
	}
	return true
}

// others calls fn for every running member of g but inst.
func (n *Node) others(g *group, inst *nodeInst, fn func(*nodeInst)) {
	for _, name := range g.members {
		if o := n.byName[name]; o != nil && o != inst {
			fn(o)
		}
	}
}

// groupHolds reports whether a Backup member of a group whose timer
// expired must stay Backup: another member follows a Master it yields to.
func (n *Node) groupHolds(inst *nodeInst) bool {
	g := n.groupOf(inst.cfg.Name)
	if g == nil {
		return false
	}
	hold := false
	n.others(g, inst, func(o *nodeInst) { hold = hold || o.m.Yields() })
	return hold
}

// synced moves the other members of inst's group after inst transitioned,
// and reports the group's state changes.
func (n *Node) synced(inst *nodeInst, e Effects, now time.Time) {
	g := n.groupOf(inst.cfg.Name)
	if g == nil {
		return
	}
	if e.Reason != ReasonSync && !n.syncing {
		n.syncing = true
		switch {
		case e.To == Master:
			n.others(g, inst, func(o *nodeInst) { n.apply(o, o.m.Promote(now), now) })
		case e.From == Master && e.To == Backup:
			n.others(g, inst, func(o *nodeInst) { n.apply(o, o.m.Demote(now), now) })
		}
		n.syncFaults(g, now)
		n.syncing = false
	}
	n.groupState(g, now)
}

// reconcile brings together a group formed (SetGroups) over members in
// different states: with a Master among them, its Backups follow it unless
// one of them follows a better Master, in which case the Masters step
// down, as a member's own transitions would have made them.
func (n *Node) reconcile(g *group, now time.Time) {
	masters, yields := false, false
	for _, name := range g.members {
		if o := n.byName[name]; o != nil {
			masters = masters || o.m.State() == Master
			yields = yields || o.m.Yields()
		}
	}
	if !masters {
		return
	}
	n.syncing = true
	for _, name := range g.members {
		o := n.byName[name]
		switch {
		case o == nil:
		case yields:
			n.apply(o, o.m.Demote(now), now)
		default:
			n.apply(o, o.m.Promote(now), now)
		}
	}
	n.syncing = false
}

// groupFaultsChanged propagates a change of inst's faults to its sync
// group, whether or not inst changed state.
func (n *Node) groupFaultsChanged(inst *nodeInst, now time.Time) {
	g := n.groupOf(inst.cfg.Name)
	if g == nil || n.syncing {
		return
	}
	n.syncing = true
	n.syncFaults(g, now)
	n.syncing = false
	n.groupState(g, now)
}

// syncFaults raises the group fault on every member while another member
// has a fault of its own, and clears it otherwise.
func (n *Node) syncFaults(g *group, now time.Time) {
	source := syncPrefix + g.name
	own := map[*nodeInst]bool{}
	for _, name := range g.members {
		if o := n.byName[name]; o != nil {
			for f := range o.faults {
				if !strings.HasPrefix(f, syncPrefix) {
					own[o] = true
				}
			}
		}
	}
	for _, name := range g.members {
		o := n.byName[name]
		if o == nil {
			continue
		}
		want := false
		for other, f := range own {
			want = want || (f && other != o)
		}
		n.setFault(o, source, want, "", now)
	}
}

// groupState recomputes g's state and reports a change.
func (n *Node) groupState(g *group, now time.Time) {
	members, masters, inits, fault := 0, 0, 0, false
	for _, name := range g.members {
		o := n.byName[name]
		if o == nil {
			continue
		}
		members++
		switch o.m.State() {
		case Master:
			masters++
		case Init:
			inits++
		case Fault:
			fault = true
		}
	}
	st := Backup
	switch {
	case fault:
		st = Fault
	case members > 0 && masters == members:
		st = Master
	case inits == members:
		st = Init
	}
	if st == g.state {
		return
	}
	from := g.state
	g.state = st
	n.groupTrans = append(n.groupTrans, GroupTransition{Group: g.name, From: from, To: st, Time: now})
	n.emit(Effect{Kind: EffectGroupTransition, ID: -1, Ref: len(n.groupTrans) - 1})
}
