package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/vrrpkit/vrrpkit/health"

	"github.com/vishvananda/netns"
	"github.com/vrrpkit/vrrpkit/internal/nsthread"
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
// protocol. close runs what is queued and waits.
type notifier struct {
	log     *slog.Logger
	timeout time.Duration
	ns      netns.NsHandle // net_namespace, where scripts run; none when closed
	q       *scriptQueue
}

// newNotifier returns a running notifier whose scripts run in the network
// namespace ns (keepalived's net_namespace: its notify scripts run there
// too), or in vrrpd's own when ns is not open.
func newNotifier(log *slog.Logger, timeout time.Duration, ns netns.NsHandle) *notifier {
	return &notifier{log: log, timeout: timeout, ns: ns, q: newScriptQueue()}
}

// notify queues the scripts of one transition.
func (n *notifier) notify(note notification) {
	n.q.push(func() { n.runOne(note) })
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

// close runs what is queued, then waits for it.
func (n *notifier) close() { n.q.close() }
