package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ErrInterfaceDown is returned (wrapped) by Interface.Check when the
// interface does not exist, is administratively down or has no carrier.
var ErrInterfaceDown = errors.New("health: interface down")

// ErrNotWatching is returned (wrapped) by Interface.Check when no
// Interface.Run is watching the interface, so its state is unknown.
var ErrNotWatching = errors.New("health: interface not watched")

// Interface is a Checker of a network interface, as keepalived's
// track_interface: it is healthy while the interface exists, is
// administratively up and has carrier.
//
// It follows a LinkMonitor subscription and answers Check from the latest
// state it reported, so a probe costs no system call. The subscription
// runs in Run, whose caller owns it: Tracker.Run runs it for as long as it
// runs, as for any tracked checker that is a Runner; used alone, run it
// yourself:
//
//	it := &health.Interface{Name: "eth1", Monitor: transport.Monitor{}}
//	go it.Run(ctx)
//
// Until the monitor has reported the interface, Check waits (within its
// context) for it to do so. Once one Check has waited in vain during a
// Run, an interface that was never reported is taken not to exist, and
// Check says so at once.
//
// An Interface must not be copied after first use.
type Interface struct {
	// Name is the interface.
	Name string
	// Monitor reports interface state: transport.Monitor on Linux.
	Monitor vrrp.LinkMonitor
	// Logger receives the interface's changes; nil discards them.
	Logger *slog.Logger

	mu      sync.Mutex
	run     uint64         // counts the Runs begun; odd while one runs
	state   vrrp.LinkState // the last state reported in this Run
	known   bool           // state holds a report of this Run
	settled bool           // a Check waited in vain during this Run
	changed chan struct{}  // closed and replaced at every change
}

var (
	_ Checker = (*Interface)(nil)
	_ Runner  = (*Interface)(nil)
)

// broadcast wakes the Checks waiting for a change. i.mu must be held.
func (i *Interface) broadcast() {
	if i.changed != nil {
		close(i.changed)
	}
	i.changed = make(chan struct{})
}

// Run watches the interface through Monitor until ctx is done. It
// returns an error wrapping ErrCheck when Name or Monitor is missing or
// another Run is already watching, and the Monitor's error if it cannot
// start; otherwise nil once ctx is done. When it returns, Check no longer
// knows the interface's state.
func (i *Interface) Run(ctx context.Context) error {
	if i.Name == "" || i.Monitor == nil {
		return fmt.Errorf("%w: Interface needs a Name and a Monitor", ErrCheck)
	}
	log := i.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("interface", i.Name)
	i.mu.Lock()
	if i.run%2 == 1 {
		i.mu.Unlock()
		return fmt.Errorf("%w: interface %s is already watched by another Run", ErrCheck, i.Name)
	}
	i.run++
	i.known, i.settled = false, false
	i.broadcast()
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		i.run++
		i.known, i.settled = false, false
		i.broadcast()
		i.mu.Unlock()
	}()
	err := i.Monitor.Watch(ctx, func(ls vrrp.LinkState) {
		if ls.Interface != i.Name {
			return
		}
		i.mu.Lock()
		prev, had := i.state, i.known
		i.state, i.known = ls, true
		i.broadcast()
		i.mu.Unlock()
		switch {
		case had && prev.Exists == ls.Exists && prev.Up == ls.Up:
		case ls.Exists && ls.Up:
			log.Info(fmt.Sprintf("Interface %s is up", i.Name))
		case had || ls.Exists:
			log.Warn(fmt.Sprintf("Interface %s: %v", i.Name, linkErr(i.Name, ls)))
		}
	})
	if err != nil {
		return fmt.Errorf("health: interface %s: %w", i.Name, err)
	}
	return nil
}

// linkErr returns why ls is not healthy, or nil.
func linkErr(name string, ls vrrp.LinkState) error {
	switch {
	case !ls.Exists:
		return fmt.Errorf("%w: %s does not exist", ErrInterfaceDown, name)
	case !ls.Up:
		return fmt.Errorf("%w: %s is administratively down or has no carrier", ErrInterfaceDown, name)
	}
	return nil
}

// Check returns nil when the interface is up, an error wrapping
// ErrInterfaceDown when it is not, and one wrapping ErrNotWatching when no
// Run is watching it. See Interface.
func (i *Interface) Check(ctx context.Context) error {
	for {
		i.mu.Lock()
		if i.changed == nil {
			i.broadcast()
		}
		run, known, settled, ls, changed := i.run, i.known, i.settled, i.state, i.changed
		i.mu.Unlock()
		switch {
		case known:
			return linkErr(i.Name, ls)
		case run%2 == 1 && settled:
			return fmt.Errorf("%w: %s does not exist (never reported)", ErrInterfaceDown, i.Name)
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		}
		i.mu.Lock()
		defer i.mu.Unlock()
		if i.known {
			return linkErr(i.Name, i.state)
		}
		if i.run%2 == 1 {
			if i.run == run {
				i.settled = true
			}
			return fmt.Errorf("%w: %s does not exist (not reported by the link monitor: %w)", ErrInterfaceDown, i.Name, ctx.Err())
		}
		return fmt.Errorf("%w: %s: no Run is watching it: %w", ErrNotWatching, i.Name, ctx.Err())
	}
}
