//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
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
func (m Monitor) Watch(ctx context.Context, fn func(vrrpio.LinkState)) error {
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
		reported: map[string]vrrpio.LinkState{},
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
	fn  func(vrrpio.LinkState)
	log *slog.Logger

	links    map[int]*linkEntry          // by index, as last read
	reported map[string]vrrpio.LinkState // by name, as last passed to fn
}

// linkEntry is what the watcher knows of one interface.
type linkEntry struct {
	name  string
	up    bool
	addrs []ifAddr // in the kernel's order: IPv4 ones, then IPv6 ones
}

// ifAddr is one address of an interface.
type ifAddr struct {
	ip    netip.Addr // as the kernel gives it: 4 bytes for IPv4, 16 for IPv6
	bits  int        // the prefix length
	flags int        // IFA_F_*
	scope int        // RT_SCOPE_*
}

// newIfAddr returns the ifAddr of a netlink address; ok is false when it
// has none.
func newIfAddr(n *net.IPNet, flags, scope int) (a ifAddr, ok bool) {
	if n == nil {
		return ifAddr{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return ifAddr{}, false
	}
	bits, _ := n.Mask.Size()
	return ifAddr{ip: ip, bits: bits, flags: flags, scope: scope}, true
}

// byIndex groups addresses by interface index, keeping their order.
func byIndex(all []netlink.Addr) map[int][]ifAddr {
	m := map[int][]ifAddr{}
	for _, na := range all {
		if a, ok := newIfAddr(na.IPNet, na.Flags, na.Scope); ok {
			m[na.LinkIndex] = append(m[na.LinkIndex], a)
		}
	}
	return m
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
	pend := pending{links: map[int]bool{}, list: map[int]bool{}, addrs: map[int]bool{}}
	// ended is the error that closed a subscription channel, if one did.
	var ended error
	onLink := func(u netlink.LinkUpdate, ok bool) {
		if !ok {
			linksOn = false
			ended = lastErr(subErr, "link")
		}
		pend.link(u)
	}
	onAddr := func(u netlink.AddrUpdate, ok bool) {
		if !ok {
			addrsOn = false
			ended = lastErr(subErr, "address")
			return
		}
		w.addr(&pend, u)
	}
	for {
		// Wait for a change, then take every change already queued, so
		// that a burst (many addresses added at once) costs one report
		// per interface, and at most one address dump.
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-subErr:
			// The subscription goes on; say so.
			w.log.Warn("link monitor: netlink", "err", err)
			continue
		case u, ok := <-links:
			onLink(u, ok)
		case u, ok := <-addrs:
			onAddr(u, ok)
		}
	burst:
		for range maxBurst {
			if ended != nil {
				break
			}
			select {
			case u, ok := <-links:
				onLink(u, ok)
			case u, ok := <-addrs:
				onAddr(u, ok)
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

// pending are the interfaces whose link or addresses changed, by index.
type pending struct {
	links map[int]bool // link changed: read the interface again
	list  map[int]bool // addresses not followed: list them again
	addrs map[int]bool // addresses changed, and followed: report them
}

// link notes a link update (the zero update of a closed channel is none).
func (p *pending) link(u netlink.LinkUpdate) {
	if u.Link == nil || u.Family == unix.AF_BRIDGE {
		// Bridge port events (PF_BRIDGE) say nothing of the link.
		return
	}
	p.links[int(u.Index)] = true
}

// addr follows the address change u in what w knows, from u alone (see
// linkEntry.apply), or notes in p that the addresses of its interface
// must be listed again.
func (w *watcher) addr(p *pending, u netlink.AddrUpdate) {
	idx := u.LinkIndex
	if idx <= 0 || p.list[idx] {
		return // the listing covers u
	}
	e := w.links[idx]
	if e == nil {
		if u.NewAddr {
			// An interface not known yet (its link change may come
			// later, on the other subscription): read it all.
			p.links[idx] = true
			p.list[idx] = true
		}
		return
	}
	switch changed, ok := e.apply(u); {
	case !ok:
		p.list[idx] = true
	case changed:
		p.addrs[idx] = true
	}
}

// flush reads the interfaces in p again, listing the addresses of those
// that need it with one address dump for all of them, and reports those
// that changed.
func (w *watcher) flush(p *pending) error {
	if len(p.links) == 0 && len(p.list) == 0 && len(p.addrs) == 0 {
		return nil
	}
	defer func() {
		clear(p.links)
		clear(p.list)
		clear(p.addrs)
	}()
	for i := range p.links {
		if w.links[i] == nil {
			// A new interface: its addresses are not known.
			p.list[i] = true
		}
	}
	var listed map[int][]ifAddr
	if len(p.list) > 0 {
		all, err := addrList(w.h, 0, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		listed = byIndex(all)
	}
	idx := make([]int, 0, len(p.links)+len(p.list)+len(p.addrs))
	for _, m := range []map[int]bool{p.links, p.list, p.addrs} {
		for i := range m {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		e := w.links[i]
		if p.links[i] || e == nil {
			if err := w.refresh(i, listed[i], p.list[i]); err != nil {
				return err
			}
			continue
		}
		if p.list[i] {
			e.addrs = listed[i]
		}
		w.report(e.state())
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
	listed := byIndex(all)
	seen := map[int]bool{}
	for _, l := range links {
		a := l.Attrs()
		seen[a.Index] = true
		w.set(a.Index, a, listed[a.Index])
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
func (w *watcher) refresh(idx int, addrs []ifAddr, newAddrs bool) error {
	l, err := w.h.LinkByIndex(idx)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			w.gone(idx)
			return nil
		}
		return fmt.Errorf("read interface %d: %w", idx, err)
	}
	if e := w.links[idx]; !newAddrs && e != nil {
		addrs = e.addrs
	}
	w.set(idx, l.Attrs(), addrs)
	return nil
}

// set records the state of interface idx and reports it if it changed.
func (w *watcher) set(idx int, a *netlink.LinkAttrs, addrs []ifAddr) {
	e := w.links[idx]
	if e != nil && e.name != a.Name {
		// Renamed: the old name is gone.
		w.report(vrrpio.LinkState{Interface: e.name})
	}
	e = &linkEntry{name: a.Name, up: linkUp(a), addrs: addrs}
	w.links[idx] = e
	w.report(e.state())
}

// state returns the state of e to report.
func (e *linkEntry) state() vrrpio.LinkState {
	return vrrpio.LinkState{Interface: e.name, Exists: true, Up: e.up, Addrs: orderAddrs(e.addrs)}
}

// apply follows the address change u in e.addrs, keeping the kernel's
// order, and reports whether they changed. ok is false when u alone does
// not tell where the address goes (a secondary IPv4 address promoted to
// primary, which the kernel moves; two addresses alike, as with peer
// addresses), and the addresses must be listed again.
func (e *linkEntry) apply(u netlink.AddrUpdate) (changed, ok bool) {
	a, valid := newIfAddr(&u.LinkAddress, u.Flags, u.Scope)
	if !valid {
		return false, false
	}
	at, sameIP := -1, false
	for i, b := range e.addrs {
		if b.ip != a.ip {
			continue
		}
		sameIP = true
		if b.bits == a.bits {
			if at >= 0 {
				return false, false
			}
			at = i
		}
	}
	switch {
	case !u.NewAddr && at < 0:
		// Not known: removed before a listing that saw it gone.
		return false, true
	case !u.NewAddr:
		e.addrs = slices.Delete(e.addrs, at, at+1)
		return true, true
	case at >= 0:
		old := e.addrs[at]
		if a.ip.Is4() && (old.flags^a.flags)&unix.IFA_F_SECONDARY != 0 {
			return false, false
		}
		e.addrs[at] = a
		return old != a, true
	case a.ip.Is6() && sameIP:
		// An IPv6 address is on an interface once: what is known is
		// stale.
		return false, false
	}
	e.addrs = slices.Insert(e.addrs, insertAt(e.addrs, a), a)
	return true, true
}

// insertAt returns where the kernel puts the new address a among addrs,
// IPv4 addresses first, then IPv6 ones, as it lists them. IPv4
// (__inet_insert_ifa): a secondary address goes last; a primary one after
// the last primary address of the same or a narrower scope, or first.
// IPv6 (ipv6_link_dev_addr): before the first address of the same or a
// narrower scope, so the newest first among those of one scope.
func insertAt(addrs []ifAddr, a ifAddr) int {
	n4 := 0
	for n4 < len(addrs) && addrs[n4].ip.Is4() {
		n4++
	}
	if a.ip.Is4() {
		if a.flags&unix.IFA_F_SECONDARY != 0 {
			return n4
		}
		at := 0
		for i, b := range addrs[:n4] {
			if b.flags&unix.IFA_F_SECONDARY == 0 && a.scope <= b.scope {
				at = i + 1
			}
		}
		return at
	}
	s := srcScope6(a.ip)
	for i := n4; i < len(addrs); i++ {
		if s >= srcScope6(addrs[i].ip) {
			return i
		}
	}
	return len(addrs)
}

// srcScope6 returns the scope by which the kernel sorts the IPv6 addresses
// of an interface (ipv6_addr_src_scope): the wider, the larger.
func srcScope6(ip netip.Addr) int {
	b := ip.As16()
	switch {
	case b[0] == 0xff: // multicast: its scope field
		return int(b[1] & 0x0f)
	case b[0] == 0xfe && b[1]&0xc0 == 0x80, ip == netip.IPv6Loopback(): // link-local
		return 0x2
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0: // site-local
		return 0x5
	case ip == netip.IPv6Unspecified():
		return -1
	}
	return 0xe // global, unique local and the rest
}

// gone records that interface idx no longer exists.
func (w *watcher) gone(idx int) {
	e := w.links[idx]
	if e == nil {
		return
	}
	delete(w.links, idx)
	w.report(vrrpio.LinkState{Interface: e.name})
}

// report calls fn with ls unless it was the last state reported for its
// interface.
func (w *watcher) report(ls vrrpio.LinkState) {
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
	w.fn(vrrpio.LinkState{Interface: ls.Interface, Exists: ls.Exists, Up: ls.Up, Addrs: slices.Clone(ls.Addrs)})
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
func orderAddrs(addrs []ifAddr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for pass := range 3 {
		for _, a := range addrs {
			ip := a.ip.Unmap()
			secondary := a.flags&unix.IFA_F_SECONDARY != 0
			switch {
			case pass == 0 && ip.Is4() && !secondary,
				pass == 1 && ip.Is4() && secondary,
				pass == 2 && ip.Is6() && usable6(a.flags):
				out = append(out, ip)
			}
		}
	}
	return out
}
