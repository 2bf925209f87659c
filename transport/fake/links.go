package fake

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Links is a vrrp.LinkMonitor whose interface states the test sets, so
// that FAULT on a link going down, tracked interfaces and source address
// changes can be tested with the fakes. The zero value has no interfaces;
// a Router takes an interface it hears nothing of to be up.
type Links struct {
	mu      sync.Mutex
	states  map[string]vrrp.LinkState
	seq     map[string]uint64 // when each state was set
	next    uint64
	changed chan struct{} // closed at the next Set
}

// NewLinks returns Links that report states.
func NewLinks(states ...vrrp.LinkState) *Links {
	l := &Links{}
	for _, ls := range states {
		l.Set(ls)
	}
	return l
}

// Up returns the state of an interface that exists, is up and has addrs.
func Up(iface string, addrs ...netip.Addr) vrrp.LinkState {
	return vrrp.LinkState{Interface: iface, Exists: true, Up: true, Addrs: slices.Clone(addrs)}
}

// Set reports ls to every Watch.
func (l *Links) Set(ls vrrp.LinkState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.states == nil {
		l.states, l.seq = map[string]vrrp.LinkState{}, map[string]uint64{}
	}
	ls.Addrs = slices.Clone(ls.Addrs)
	l.next++
	l.states[ls.Interface], l.seq[ls.Interface] = ls, l.next
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// SetUp sets whether iface is up, keeping its addresses; an interface not
// set before exists, with none.
func (l *Links) SetUp(iface string, up bool) {
	l.mu.Lock()
	ls, ok := l.states[iface]
	l.mu.Unlock()
	if !ok {
		ls = vrrp.LinkState{Interface: iface, Exists: true}
	}
	ls.Up = up
	l.Set(ls)
}

// Watch implements vrrp.LinkMonitor: it calls fn with every state set so
// far, then with each new one, until ctx is done.
func (l *Links) Watch(ctx context.Context, fn func(vrrp.LinkState)) error {
	var seen uint64
	for {
		l.mu.Lock()
		var out []vrrp.LinkState
		for name, ls := range l.states {
			if l.seq[name] > seen {
				out = append(out, ls)
			}
		}
		seen = l.next
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].Interface < out[j].Interface })
		for _, ls := range out {
			fn(ls)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
}
