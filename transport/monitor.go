//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Watch calls fn with the state of every interface of the namespace, then
// with the new state of an interface each time it changes (created,
// deleted, renamed, up or down, an address added or removed), until ctx is
// done; then it returns nil once its goroutines have ended. fn is called
// from Watch's goroutine, one call at a time, and only for real changes.
//
// An interface is Up when it is administratively up and has carrier
// (IFF_UP and IFF_RUNNING, that is operational state up, or unknown for
// devices that do not report it). Its Addrs are its IPv4 addresses, primary
// ones first, then its IPv6 addresses; IPv6 addresses in duplicate address
// detection, which cannot be sent from yet, are left out until they pass
// it.
//
// When the netlink subscription fails (as when the kernel drops
// notifications under load), Watch subscribes again with a bounded
// backoff, reads the whole state again and reports what changed meanwhile.
// Watch returns an error only when it cannot start: the namespace cannot be
// opened or entered.
func (m Monitor) Watch(ctx context.Context, fn func(vrrp.LinkState)) error {
	ns, err := openNamespace(m.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := newHandle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	w := &watcher{
		ns:       ns,
		h:        h,
		fn:       fn,
		log:      logger(m.Logger),
		links:    map[int]*linkEntry{},
		reported: map[string]vrrp.LinkState{},
	}
	delay := minBackoff
	for {
		subscribed, err := w.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			delay = minBackoff
		}
		w.log.Warn("link monitor: netlink subscription failed; subscribing again", "err", err, "in", delay)
		if !sleep(ctx.Done(), delay) {
			return nil
		}
		delay = min(2*delay, maxBackoff)
	}
}

// watcher is the state of one Watch call.
type watcher struct {
	ns  netns.NsHandle
	h   *netlink.Handle
	fn  func(vrrp.LinkState)
	log *slog.Logger

	links    map[int]*linkEntry        // by index, as last read
	reported map[string]vrrp.LinkState // by name, as last passed to fn
}

// linkEntry is what the watcher knows of one interface.
type linkEntry struct {
	name  string
	up    bool
	addrs []netlink.Addr
}

// run subscribes, reads the whole state, reports it and then follows
// changes, until ctx is done or the subscription fails.
func (w *watcher) run(ctx context.Context) (subscribed bool, err error) {
	links := make(chan netlink.LinkUpdate, 256)
	addrs := make(chan netlink.AddrUpdate, 256)
	stop := make(chan struct{})
	var linksOn, addrsOn bool
	defer func() { stopSubscriptions(stop, links, addrs, linksOn, addrsOn) }()
	subErr := make(chan error, 1)
	onErr := func(err error) {
		select {
		case <-stop:
		case subErr <- err:
		default:
		}
	}
	var nsOpt *netns.NsHandle
	if w.ns.IsOpen() {
		ns := w.ns
		nsOpt = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(links, stop, netlink.LinkSubscribeOptions{Namespace: nsOpt, ErrorCallback: onErr}); err != nil {
		return false, fmt.Errorf("subscribe to link changes: %w", err)
	}
	linksOn = true
	if err := netlink.AddrSubscribeWithOptions(addrs, stop, netlink.AddrSubscribeOptions{Namespace: nsOpt, ErrorCallback: onErr}); err != nil {
		return false, fmt.Errorf("subscribe to address changes: %w", err)
	}
	addrsOn = true
	// Read the state after subscribing, so that no change falls between.
	if err := w.sync(); err != nil {
		return true, err
	}
	pend := pending{links: map[int]bool{}, addrs: map[int]bool{}}
	for {
		// Wait for a change, then take every change already queued, so
		// that a burst (many addresses added at once) costs one dump.
		var ended error
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-subErr:
			// The subscription goes on; say so.
			w.log.Warn("link monitor: netlink", "err", err)
			continue
		case u, ok := <-links:
			if !ok {
				linksOn = false
				ended = lastErr(subErr, "link")
			}
			pend.link(u)
		case u, ok := <-addrs:
			if !ok {
				addrsOn = false
				ended = lastErr(subErr, "address")
			}
			pend.addrs[u.LinkIndex] = ok
		}
	burst:
		for range maxBurst {
			if ended != nil {
				break
			}
			select {
			case u, ok := <-links:
				if !ok {
					linksOn = false
					ended = lastErr(subErr, "link")
				}
				pend.link(u)
			case u, ok := <-addrs:
				if !ok {
					addrsOn = false
					ended = lastErr(subErr, "address")
				}
				pend.addrs[u.LinkIndex] = ok
			default:
				break burst
			}
		}
		if err := w.flush(&pend); err != nil {
			// Start again, with a full read of the state.
			return true, err
		}
		if ended != nil {
			return true, ended
		}
	}
}

// maxBurst bounds the changes taken from the subscriptions before they are
// applied.
const maxBurst = 4096

// pending are the interfaces whose link or addresses changed.
type pending struct {
	links map[int]bool
	addrs map[int]bool
}

// link notes a link update (the zero update of a closed channel is none).
func (p *pending) link(u netlink.LinkUpdate) {
	if u.Link == nil || u.Family == unix.AF_BRIDGE {
		// Bridge port events (PF_BRIDGE) say nothing of the link.
		return
	}
	p.links[int(u.Index)] = true
}

// flush reads the interfaces in p again, with one address dump for all of
// them, and reports those that changed.
func (w *watcher) flush(p *pending) error {
	delete(p.addrs, 0)
	if len(p.links) == 0 && len(p.addrs) == 0 {
		return nil
	}
	var byIndex map[int][]netlink.Addr
	if len(p.addrs) > 0 {
		all, err := addrList(w.h, 0, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		byIndex = map[int][]netlink.Addr{}
		for _, a := range all {
			byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], a)
		}
	}
	idx := make([]int, 0, len(p.links)+len(p.addrs))
	for i := range p.links {
		idx = append(idx, i)
	}
	for i := range p.addrs {
		if !p.links[i] {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	clear(p.links)
	defer clear(p.addrs)
	for _, i := range idx {
		if err := w.refresh(i, byIndex[i], p.addrs[i]); err != nil {
			return err
		}
	}
	return nil
}

func lastErr(errc chan error, what string) error {
	select {
	case err := <-errc:
		return fmt.Errorf("%s subscription ended: %w", what, err)
	default:
		return fmt.Errorf("%s subscription ended", what)
	}
}

// sync reads every interface and its addresses and reports what differs
// from what was reported, including interfaces that disappeared.
func (w *watcher) sync() error {
	var links []netlink.Link
	var err error
	for range 5 {
		if links, err = w.h.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	all, err := addrList(w.h, 0, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	byIndex := map[int][]netlink.Addr{}
	for _, a := range all {
		byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], a)
	}
	seen := map[int]bool{}
	for _, l := range links {
		a := l.Attrs()
		seen[a.Index] = true
		w.set(a.Index, a, byIndex[a.Index])
	}
	for _, idx := range sortedIndexes(w.links) {
		if !seen[idx] {
			w.gone(idx)
		}
	}
	return nil
}

func sortedIndexes(m map[int]*linkEntry) []int {
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// refresh reads interface idx again and reports it if it changed. With
// newAddrs, addrs are its new addresses; else it keeps the known ones.
func (w *watcher) refresh(idx int, addrs []netlink.Addr, newAddrs bool) error {
	l, err := w.h.LinkByIndex(idx)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			w.gone(idx)
			return nil
		}
		return fmt.Errorf("read interface %d: %w", idx, err)
	}
	if !newAddrs {
		if e := w.links[idx]; e != nil {
			addrs = e.addrs
		} else if addrs, err = addrList(w.h, idx, netlink.FAMILY_ALL); err != nil {
			return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
		}
	}
	w.set(idx, l.Attrs(), addrs)
	return nil
}

// set records the state of interface idx and reports it if it changed.
func (w *watcher) set(idx int, a *netlink.LinkAttrs, addrs []netlink.Addr) {
	e := w.links[idx]
	if e != nil && e.name != a.Name {
		// Renamed: the old name is gone.
		w.report(vrrp.LinkState{Interface: e.name})
	}
	if addrs == nil {
		addrs = []netlink.Addr{}
	}
	e = &linkEntry{name: a.Name, up: linkUp(a), addrs: addrs}
	w.links[idx] = e
	w.report(vrrp.LinkState{Interface: e.name, Exists: true, Up: e.up, Addrs: orderAddrs(e.addrs)})
}

// gone records that interface idx no longer exists.
func (w *watcher) gone(idx int) {
	e := w.links[idx]
	if e == nil {
		return
	}
	delete(w.links, idx)
	w.report(vrrp.LinkState{Interface: e.name})
}

// report calls fn with ls unless it was the last state reported for its
// interface.
func (w *watcher) report(ls vrrp.LinkState) {
	prev, ok := w.reported[ls.Interface]
	if ok && prev.Exists == ls.Exists && prev.Up == ls.Up && slices.Equal(prev.Addrs, ls.Addrs) {
		return
	}
	if !ok && !ls.Exists {
		return
	}
	if ls.Exists {
		w.reported[ls.Interface] = ls
	} else {
		delete(w.reported, ls.Interface)
	}
	w.fn(vrrp.LinkState{Interface: ls.Interface, Exists: ls.Exists, Up: ls.Up, Addrs: slices.Clone(ls.Addrs)})
}

// linkUp reports whether a link is administratively up and has carrier.
func linkUp(a *netlink.LinkAttrs) bool {
	if a.RawFlags&unix.IFF_UP == 0 {
		return false
	}
	if a.RawFlags&unix.IFF_RUNNING != 0 {
		return true
	}
	return a.OperState == netlink.OperUp ||
		a.OperState == netlink.OperUnknown && a.RawFlags&unix.IFF_LOWER_UP != 0
}

// orderAddrs returns the IPv4 primary addresses, then the IPv4 secondary
// ones, then the usable IPv6 ones, each in the kernel's order.
func orderAddrs(addrs []netlink.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for pass := range 3 {
		for _, na := range addrs {
			ip := ipAddr(na.IP)
			if !ip.IsValid() {
				continue
			}
			secondary := na.Flags&unix.IFA_F_SECONDARY != 0
			switch {
			case pass == 0 && ip.Is4() && !secondary,
				pass == 1 && ip.Is4() && secondary,
				pass == 2 && ip.Is6() && usable6(na.Flags):
				out = append(out, ip)
			}
		}
	}
	return out
}
