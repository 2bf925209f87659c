package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/health"

	"github.com/vishvananda/netns"
	"github.com/vrrpkit/vrrpkit/internal/nsthread"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// notifyTimeout bounds one notify script, as keepalived's
// script_timeout does for scripts that do not end.
const notifyTimeout = 30 * time.Second

// NotifyScripts are the notify scripts of one instance or sync group:
// keepalived's notify_master, notify_backup, notify_fault, notify_stop and
// notify. Each Script carries its own user, group and security.
type NotifyScripts struct {
	Master, Backup, Fault, Stop *health.Script
	// Any is keepalived's notify: run after the state's own script for
	// every transition with the arguments TYPE NAME STATE PRIORITY.
	Any *health.Script
	// MasterRxLowerPri is keepalived's notify_master_rx_lower_pri: run,
	// with its own arguments only, each time the Master hears a lower
	// priority.
	MasterRxLowerPri *health.Script
}

// notification is one state change to report.
type notification struct {
	kind     string // "INSTANCE" or "GROUP"
	name     string
	state    string // MASTER, BACKUP, FAULT or STOP
	priority int
	scripts  NotifyScripts
}

// notifier runs notify scripts in the order of the transitions, one at a
// time, on a scriptQueue: a slow script delays later scripts, never the
// protocol. It writes each transition's line to the notify FIFOs once its
// scripts are queued, as keepalived writes it once it has started them.
// close runs what is queued and waits, then closes the FIFOs.
type notifier struct {
	log     *slog.Logger
	timeout time.Duration
	ns      netns.NsHandle // net_namespace, where scripts run; none when closed
	q       *scriptQueue
	fifos   *fifos // nil for none
}

// newNotifier returns a running notifier whose scripts run in the network
// namespace ns (keepalived's net_namespace: its notify scripts run there
// too), or in vrrpd's own when ns is not open.
func newNotifier(log *slog.Logger, timeout time.Duration, ns netns.NsHandle) *notifier {
	return &notifier{log: log, timeout: timeout, ns: ns, q: newScriptQueue()}
}

// notify queues the scripts of one transition and writes its line to the
// notify FIFOs.
func (n *notifier) notify(note notification) {
	if note.scripts != (NotifyScripts{}) {
		n.q.push(func() { n.runOne(note) })
	}
	if n.fifos != nil {
		n.fifos.write(fifoLine(note))
	}
}

// runOne runs the state's own script, then notify with keepalived's four
// arguments.
func (n *notifier) runOne(note notification) {
	var own *health.Script
	switch note.state {
	case "MASTER":
		own = note.scripts.Master
	case "BACKUP":
		own = note.scripts.Backup
	case "FAULT":
		own = note.scripts.Fault
	case "STOP":
		own = note.scripts.Stop
	}
	if own != nil {
		n.exec(note, *own)
	}
	if any := note.scripts.Any; any != nil {
		s := *any
		s.Args = append(append([]string(nil), s.Args...), note.kind, note.name, note.state, strconv.Itoa(note.priority))
		n.exec(note, s)
	}
}

func (n *notifier) exec(note notification, s health.Script) {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	// Forked from a thread in the namespace, the script runs there.
	if err := nsthread.Do(n.ns, func() error { return s.Check(ctx) }); err != nil {
		n.log.Warn("notify script failed", "script", s.String(), "name", note.name, "state", note.state, "err", err)
		return
	}
	n.log.Debug("notify script ran", "script", s.String(), "name", note.name, "state", note.state)
}

// lowerPriority queues the notify_master_rx_lower_pri script s of
// instance name.
func (n *notifier) lowerPriority(name string, s health.Script) {
	n.q.push(func() { n.exec(notification{kind: "INSTANCE", name: name, state: "MASTER_RX_LOWER_PRI"}, s) })
}

// close runs what is queued and waits for it, then closes the FIFOs and
// stops their scripts.
func (n *notifier) close() {
	n.q.close()
	if n.fifos != nil {
		n.fifos.close()
	}
}

// notifyOrder puts the notifications of instances and sync groups in
// keepalived 2.2.7's order, for the notify scripts and the FIFOs alike
// (measured on its vrrp_notify_fifo, see TestE2ENotifyFIFO):
//
//   - at start, a sync group's state comes before its members' first;
//   - when a group becomes MASTER, the members that followed come first,
//     then the one whose timer made it Master, then the group;
//   - at shutdown, every instance's STOP comes first, then the groups'
//     STOP, and a group passes through no other state.
//
// The vrrp Router reports the member that moved first, then the group
// once its state follows from its members'. notifyOrder is used from one
// goroutine at a time (the Router's callbacks, then close).
type notifyOrder struct {
	mu sync.Mutex
	// groupState is the last state notified for each group.
	groupState map[string]string
	// held are MASTER transitions waiting for their followers; stops the
	// groups' STOP, waiting for the last instance's.
	held, stops []notification
	// stopping are the groups a member of which has stopped: vrrpd is
	// stopping, or a reload removed the member.
	stopping map[string]bool
}

// instance returns what to notify for the transition t of an instance
// (note), in order; group is its sync group ("" for none).
func (o *notifyOrder) instance(t vrrp.Transition, group string, note notification) []notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.groupState == nil {
		o.groupState, o.stopping = map[string]string{}, map[string]bool{}
	}
	var out []notification
	if t.Reason != vrrp.ReasonShutdown {
		// Not stopping after all (a reload removed members): the held
		// STOPs of groups go out now.
		out, o.stops = o.stops, nil
	}
	switch {
	case t.Reason == vrrp.ReasonShutdown:
		if group != "" {
			o.stopping[group] = true
		}
	case group != "" && t.From == vrrp.Init && o.groupState[group] == "":
		o.groupState[group] = note.state
		out = append(out, notification{kind: "GROUP", name: group, state: note.state})
	case group != "" && t.To == vrrp.Master && t.Reason != vrrp.ReasonSync && o.groupState[group] != "MASTER":
		o.held = append(o.held, note)
		return nil
	case t.Reason == vrrp.ReasonSync:
		return append(out, note)
	}
	out = append(append(out, o.held...), note)
	o.held = nil
	return out
}

// group returns what to notify for a transition of a sync group (note),
// in order.
func (o *notifyOrder) group(note notification) []notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.groupState == nil {
		o.groupState, o.stopping = map[string]string{}, map[string]bool{}
	}
	if o.stopping[note.name] {
		if note.state == "STOP" {
			o.stops = append(o.stops, note)
		}
		return nil
	}
	if o.groupState[note.name] == note.state {
		return nil
	}
	o.groupState[note.name] = note.state
	out := append(o.held, note)
	o.held = nil
	return out
}

// flush returns what is still held, at close.
func (o *notifyOrder) flush() []notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append(o.held, o.stops...)
	o.held, o.stops = nil, nil
	return out
}
