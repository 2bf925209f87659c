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
// time, on a goroutine of its own: a slow script delays later scripts,
// never the protocol. Close runs what is queued and waits.
type notifier struct {
	log     *slog.Logger
	timeout time.Duration
	ns      netns.NsHandle // net_namespace, where scripts run; none when closed

	mu     sync.Mutex
	queue  []notification
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// newNotifier returns a running notifier whose scripts run in the network
// namespace ns (keepalived's net_namespace: its notify scripts run there
// too), or in vrrpd's own when ns is not open.
func newNotifier(log *slog.Logger, timeout time.Duration, ns netns.NsHandle) *notifier {
	n := &notifier{log: log, timeout: timeout, ns: ns, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go n.run()
	return n
}

// notify queues the scripts of one transition.
func (n *notifier) notify(note notification) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.queue = append(n.queue, note)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		n.mu.Lock()
		batch := n.queue
		n.queue = nil
		closed := n.closed
		n.mu.Unlock()
		for _, note := range batch {
			n.runOne(note)
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-n.wake
		}
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

// close runs what is queued, then ends the goroutine and waits for it.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.done
}
