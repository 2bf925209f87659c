//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

const (
	// tosVRRP is the IPv4 TOS / IPv6 traffic class of sent adverts:
	// internetwork control (precedence 6), as keepalived sends.
	tosVRRP = 0xc0
	// ttlVRRP is the TTL / hop limit of sent adverts (RFC 5798 5.1.1.3).
	ttlVRRP = 255

	// dadWait bounds how long Open waits for a tentative IPv6 link-local
	// address to pass duplicate address detection.
	dadWait = 3 * time.Second
	// netlinkTimeout bounds each netlink request.
	netlinkTimeout = 5 * time.Second

	// Backoffs of the recovery goroutine: between netlink subscription
	// attempts, and between attempts to re-open a socket.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Open opens a raw VRRP socket on ep.Interface for ep.Family, joined to
// ep.Group (Group4 or Group6 when zero) unless ep.SendOnly; see the package
// documentation. The returned vrrpio.Conn is also a vrrpio.BatchConn; its
// ReadFrom returns the VRRP message without IP header, and the packet's
// source (IPv4 unmapped), destination and TTL / hop limit.
//
// Open returns an error wrapping ErrNoInterface when the interface does not
// exist, ErrNoAddress when it has no address to send from (it waits up to
// 3 s, or until ctx is done, for an IPv6 link-local address still in
// duplicate address detection), and os.ErrPermission without the
// privileges to open raw sockets (root or CAP_NET_RAW) or to enter
// Namespace.
func (l Linux) Open(ctx context.Context, ep vrrpio.Endpoint) (vrrpio.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transport: open %s: %w", ep.Interface, err)
	}
	if ep.Interface == "" {
		return nil, fmt.Errorf("%w: empty interface name", ErrNoInterface)
	}
	if ep.Family != vrrpio.IPv4 && ep.Family != vrrpio.IPv6 {
		return nil, fmt.Errorf("transport: open %s: unknown address family %d", ep.Interface, ep.Family)
	}
	group := ep.Group
	if !group.IsValid() {
		group = vrrpio.Group4
		if ep.Family == vrrpio.IPv6 {
			group = vrrpio.Group6
		}
	}
	group = group.Unmap()
	if vrrpio.FamilyOf(group) != ep.Family || !group.IsMulticast() {
		return nil, fmt.Errorf("transport: open %s: group %v is not an %v multicast address", ep.Interface, group, ep.Family)
	}
	switch {
	case ep.Protocol == 0 || ep.Protocol == vrrpio.IPProtocol:
	case ep.Protocol == vrrpio.IPProtocolAH && ep.Family == vrrpio.IPv4:
	default:
		return nil, fmt.Errorf("transport: open %s: IP protocol %d over %v: only VRRP, or AH over IPv4", ep.Interface, ep.Protocol, ep.Family)
	}
	c := &conn{
		name:     ep.Interface,
		fam:      ep.Family,
		group:    group,
		sendOnly: ep.SendOnly,
		ah:       ep.Protocol == vrrpio.IPProtocolAH,
		log:      logger(l.Logger).With("interface", ep.Interface, "family", ep.Family.String()),
		done:     make(chan struct{}),
		wake:     make(chan struct{}),
	}
	var err error
	if c.ns, err = openNamespace(l.Namespace); err != nil {
		return nil, err
	}
	if c.h, err = newHandle(c.ns); err != nil {
		c.ns.Close()
		return nil, err
	}
	s, err := c.open(ctx)
	if err != nil {
		c.h.Close()
		c.ns.Close()
		return nil, err
	}
	c.s = s
	c.wg.Add(1)
	go c.watch()
	return c, nil
}

// open does the work of Open once the namespace and netlink handle exist.
func (c *conn) open(ctx context.Context) (*sock, error) {
	idx, err := c.lookup()
	if err != nil {
		return nil, err
	}
	if idx == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoInterface, c.name)
	}
	src, err := c.localAddr(idx, netip.Addr{})
	if err != nil {
		return nil, err
	}
	tentative := src.tentative
	if tentative {
		// A link-local address still in duplicate address detection:
		// it is usable within a second or two.
		src, err = c.waitDAD(ctx, idx)
		if err != nil {
			return nil, err
		}
	}
	if !src.addr.IsValid() && !c.sendOnly {
		what := "no IPv4 address"
		if c.fam == vrrpio.IPv6 {
			what = "no IPv6 link-local address"
			if tentative {
				what = "its IPv6 link-local address is still tentative (duplicate address detection)"
			}
		}
		return nil, fmt.Errorf("%w: %s has %s", ErrNoAddress, c.name, what)
	}
	c.local, c.localScope = src.addr, src.scope
	return c.openSocket(idx)
}

// waitDAD polls the interface's addresses until its link-local address is
// usable, for at most dadWait.
func (c *conn) waitDAD(ctx context.Context, idx int) (source, error) {
	ctx, cancel := context.WithTimeout(ctx, dadWait)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return source{}, nil
		case <-t.C:
		}
		src, err := c.localAddr(idx, netip.Addr{})
		if err != nil || !src.tentative {
			return src, err
		}
	}
}

// conn is the vrrpio.BatchConn that Linux.Open returns.
type conn struct {
	name     string
	fam      vrrpio.Family
	group    netip.Addr
	sendOnly bool
	ah       bool // IP protocol 51: whole IPv4 datagrams (IP_HDRINCL)
	log      *slog.Logger
	ns       netns.NsHandle // netns.None() for the current namespace
	h        *netlink.Handle

	mu       sync.Mutex
	deferred bool          // SetDeferred's mode, applied to each new socket
	s        *sock         // the current socket; nil while the interface is gone
	local    netip.Addr    // LocalAddr
	closed   bool          // Close was called
	wake     chan struct{} // closed (and replaced) when s changes or on Close

	// localScope is the scope (RT_SCOPE_*) of local, for IPv4. Open sets
	// it, then only the recovery goroutine uses it.
	localScope int

	done  chan struct{} // closed by Close
	wg    sync.WaitGroup
	pool  sync.Pool // of *sendBuf
	rpool sync.Pool // of *readBuf
}

var (
	_ vrrpio.BatchConn      = (*conn)(nil)
	_ vrrpio.BatchReader    = (*conn)(nil)
	_ vrrpio.DeferredReader = (*conn)(nil)
)

// sock is one raw socket, bound to one interface index.
type sock struct {
	index int
	ah    bool             // reads and writes whole datagrams
	p4    *ipv4.PacketConn // for the socket options; I/O goes through rc
	p6    *ipv6.PacketConn
	rc    syscall.RawConn
	dead  atomic.Bool // set before the socket is closed

	// The held socket (held_linux.go), outside the poller: its
	// descriptor (-1 when none or closed) and the drop count read last.
	hmu    sync.Mutex
	hfd    int
	hdrops uint32
}

func (s *sock) close() error {
	s.dead.Store(true)
	s.hmu.Lock()
	if s.hfd >= 0 {
		unix.Close(s.hfd)
		s.hfd = -1
	}
	s.hmu.Unlock()
	if s.p4 != nil {
		return s.p4.Close()
	}
	return s.p6.Close()
}

// waitSock returns the current socket, waiting while there is none.
func (c *conn) waitSock() (*sock, error) {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return nil, c.errClosed()
		}
		if c.s != nil {
			s := c.s
			c.mu.Unlock()
			return s, nil
		}
		w := c.wake
		c.mu.Unlock()
		<-w
		c.mu.Lock()
	}
}

func (c *conn) errClosed() error {
	return fmt.Errorf("transport: %s %v: %w", c.name, c.fam, net.ErrClosed)
}

// current returns the current socket and LocalAddr, or the error a write
// fails with when there is no socket.
func (c *conn) current() (*sock, netip.Addr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, netip.Addr{}, c.errClosed()
	case c.s == nil:
		return nil, netip.Addr{}, fmt.Errorf("%w: %s is gone; the Conn re-opens when it is back", ErrNoInterface, c.name)
	}
	return c.s, c.local, nil
}

func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// WriteTo sends b from src (LocalAddr when invalid) to dst.
func (c *conn) WriteTo(b []byte, src, dst netip.Addr) error {
	for retried := false; ; retried = true {
		s, local, err := c.current()
		if err != nil {
			return err
		}
		if src, dst, err = c.addrs(src, dst, local); err != nil {
			return err
		}
		err = s.write(b, src, dst)
		if err == nil {
			return nil
		}
		if s.dead.Load() && !retried {
			// The socket was closed under us: by Close, or because the
			// interface was re-created. Try the new socket once.
			continue
		}
		return fmt.Errorf("transport: send from %v to %v on %s: %w", src, dst, c.name, err)
	}
}

// addrs checks and completes the source and destination of a write.
func (c *conn) addrs(src, dst, local netip.Addr) (netip.Addr, netip.Addr, error) {
	if !src.IsValid() {
		if !local.IsValid() {
			return src, dst, fmt.Errorf("%w: %s has none, and no source was given", ErrNoAddress, c.name)
		}
		src = local
	}
	if c.fam == vrrpio.IPv4 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	if vrrpio.FamilyOf(src) != c.fam || vrrpio.FamilyOf(dst) != c.fam || !dst.IsValid() {
		return src, dst, fmt.Errorf("transport: send from %v to %v on an %v socket of %s: wrong address family", src, dst, c.fam, c.name)
	}
	return src, dst, nil
}

func (s *sock) write(b []byte, src, dst netip.Addr) error {
	var sb sendBuf
	sb.grow(1)
	sb.set(0, b, src, dst, s.index, s.p6 != nil, s.ah)
	_, err := s.sendmmsg(sb.hs)
	return err
}

// WriteBatch sends ms with as few system calls (sendmmsg) as the kernel
// allows.
func (c *conn) WriteBatch(ms []vrrpio.Outgoing) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	sb, _ := c.pool.Get().(*sendBuf)
	if sb == nil {
		sb = new(sendBuf)
	}
	defer func() {
		// Keep no reference to the caller's messages.
		sb.clear()
		c.pool.Put(sb)
	}()
	sent := 0
	retried := false
	for sent < len(ms) {
		s, local, err := c.current()
		if err != nil {
			return sent, err
		}
		rest := ms[sent:]
		sb.grow(len(rest))
		for i := range rest {
			src, dst, err := c.addrs(rest[i].Src, rest[i].Dst, local)
			if err != nil {
				return sent, err
			}
			sb.set(i, rest[i].Msg, src, dst, s.index, s.p6 != nil, s.ah)
		}
		n, err := s.sendmmsg(sb.hs[:len(rest)])
		sent += n
		if err != nil {
			if s.dead.Load() && !retried {
				retried = true
				continue
			}
			return sent, fmt.Errorf("transport: send batch on %s: message %d to %v: %w", c.name, sent, ms[sent].Dst, err)
		}
	}
	return sent, nil
}

// LocalAddr returns the interface's primary IPv4 address (the first one
// the kernel lists) or its IPv6 link-local address (the one it had, as long
// as it stays usable; another link-local address added later does not
// replace it), as of the last address change; the zero Addr when it has
// none.
func (c *conn) LocalAddr() netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// Close closes the socket, ends the recovery goroutine and waits for it.
// ReadFrom and writes then fail with errors wrapping net.ErrClosed.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.errClosed()
	}
	c.closed = true
	s := c.s
	c.s = nil
	close(c.done)
	close(c.wake)
	c.mu.Unlock()
	var err error
	if s != nil {
		if err = s.close(); err != nil {
			err = fmt.Errorf("transport: close %s: %w", c.name, err)
		}
	}
	c.wg.Wait()
	c.h.Close()
	c.ns.Close()
	return err
}

// setSock makes s (possibly nil) the current socket and wakes readers. It
// reports false, changing nothing, when the Conn is closed.
func (c *conn) setSock(s *sock) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.s = s
	close(c.wake)
	c.wake = make(chan struct{})
	if s != nil && c.deferred && !c.sendOnly {
		if err := s.setDeferred(true, c.fam == vrrpio.IPv6); err != nil {
			// Eager reads lose nothing; the next SetDeferred tries again.
			c.log.Warn("deferring reads on the re-opened socket", "err", err)
		}
	}
	return true
}

// watch is the recovery goroutine: it follows the interface through netlink
// and re-opens the socket when the interface is re-created.
func (c *conn) watch() {
	defer c.wg.Done()
	delay := minBackoff
	for {
		subscribed, closed := c.watchOnce()
		if closed {
			return
		}
		if subscribed {
			delay = minBackoff
		}
		c.log.Warn("netlink subscription ended; subscribing again", "in", delay)
		if !sleep(c.done, delay) {
			return
		}
		delay = min(2*delay, maxBackoff)
	}
}

// watchOnce runs one netlink subscription until Close (closed) or until the
// subscription fails. subscribed reports that it was established.
func (c *conn) watchOnce() (subscribed, closed bool) {
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	stop := make(chan struct{})
	var linksOn, addrsOn bool
	defer func() { stopSubscriptions(stop, links, addrs, linksOn, addrsOn) }()
	onErr := func(err error) {
		select {
		case <-stop:
		default:
			c.log.Warn("netlink subscription", "err", err)
		}
	}
	ns := c.nsOption()
	if err := netlink.LinkSubscribeWithOptions(links, stop, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: onErr}); err != nil {
		c.log.Warn("cannot subscribe to link changes", "err", err)
		return false, false
	}
	linksOn = true
	if err := netlink.AddrSubscribeWithOptions(addrs, stop, netlink.AddrSubscribeOptions{Namespace: ns, ErrorCallback: onErr}); err != nil {
		c.log.Warn("cannot subscribe to address changes", "err", err)
		return false, false
	}
	addrsOn = true

	// Whatever happened before the subscription, such as the interface
	// being re-created right after Open, shows now.
	var retry *time.Timer
	var retryC <-chan time.Time
	delay := minBackoff
	reconcile := func(fn func() bool) {
		if retry != nil {
			retry.Stop()
			retry, retryC = nil, nil
		}
		if fn() {
			delay = minBackoff
			return
		}
		retry = time.NewTimer(delay)
		retryC = retry.C
		delay = min(2*delay, maxBackoff)
	}
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	reconcile(c.reconcile)
	for {
		// Wait for a change, then take every change already queued, so
		// that a burst (many addresses added at once) costs at most one
		// look. Most address changes need none: see affectsLocal.
		var rec, local bool
		idx := c.index()
		cur := c.LocalAddr()
		take := func(l *netlink.LinkUpdate, a *netlink.AddrUpdate) {
			switch {
			case l != nil:
				if at := l.Attrs(); at.Name == c.name || at.Index == idx {
					rec = true
				}
			case a != nil && !local:
				local = c.affectsLocal(a, idx, cur)
			}
		}
		select {
		case <-c.done:
			return true, true
		case u, ok := <-links:
			if !ok {
				linksOn = false
				return true, false
			}
			take(&u, nil)
		case u, ok := <-addrs:
			if !ok {
				addrsOn = false
				return true, false
			}
			take(nil, &u)
		case <-retryC:
			retry, retryC = nil, nil
			rec = true
		}
	burst:
		for range maxBurst {
			select {
			case u, ok := <-links:
				if !ok {
					linksOn = false
					return true, false
				}
				take(&u, nil)
			case u, ok := <-addrs:
				if !ok {
					addrsOn = false
					return true, false
				}
				take(nil, &u)
			default:
				break burst
			}
		}
		if rec {
			reconcile(c.reconcile) // refreshes LocalAddr too
		} else if local && idx != 0 {
			reconcile(func() bool { return c.refreshLocal(idx) })
		}
	}
}

// affectsLocal reports whether the address change u may change LocalAddr,
// cur, on interface idx, which then has to be read again with an address
// dump. It judges from u alone, so that the many changes that cannot
// (virtual addresses added and removed on a busy interface) cost nothing:
//
//   - a change on another interface, or of the other address family,
//     cannot;
//   - without LocalAddr, any change of the family may bring one (for IPv6,
//     of a link-local address: a tentative one may have become usable);
//   - the removal of LocalAddr changes it;
//   - IPv4: an address added after LocalAddr, the first primary address,
//     comes after it (the kernel puts a secondary address last and a
//     primary one after the last primary address of the same or a
//     narrower scope), unless it is a primary address of a narrower scope
//     than LocalAddr's, which the kernel may put first;
//   - IPv6: another link-local address, added or changed, does not replace
//     LocalAddr; LocalAddr itself turning unusable (tentative again, or
//     failed duplicate address detection) does.
//
// Only the recovery goroutine calls it.
func (c *conn) affectsLocal(u *netlink.AddrUpdate, idx int, cur netip.Addr) bool {
	if idx == 0 || u.LinkIndex != idx {
		return false
	}
	ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
	if !ok {
		return true // not an address: look
	}
	if c.fam == vrrpio.IPv4 {
		switch {
		case !ip.Is4(): // an IPv6 address, IPv4-mapped ones included
			return false
		case !cur.IsValid():
			return true
		case !u.NewAddr:
			return ip == cur
		}
		return u.Flags&unix.IFA_F_SECONDARY == 0 && u.Scope > c.localScope
	}
	switch {
	case !ip.Is6() || !ip.IsLinkLocalUnicast():
		return false
	case !cur.IsValid():
		return true
	case ip != cur:
		return false
	}
	return !u.NewAddr || !usable6(u.Flags)
}

// stopSubscriptions stops the netlink subscriptions of links (if linksOn)
// and addrs (if addrsOn) and waits for their goroutines, which close the
// channels when they end.
func stopSubscriptions(stop chan struct{}, links chan netlink.LinkUpdate, addrs chan netlink.AddrUpdate, linksOn, addrsOn bool) {
	close(stop)
	var lch <-chan netlink.LinkUpdate
	var ach <-chan netlink.AddrUpdate
	if linksOn {
		lch = links
	}
	if addrsOn {
		ach = addrs
	}
	for lch != nil || ach != nil {
		select {
		case _, ok := <-lch:
			if !ok {
				lch = nil
			}
		case _, ok := <-ach:
			if !ok {
				ach = nil
			}
		}
	}
}

// index returns the interface index of the current socket, 0 when none.
func (c *conn) index() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return 0
	}
	return c.s.index
}

// reconcile makes the socket follow the interface named c.name: it closes
// the socket of an interface that is gone and opens one on a new interface
// of that name. It reports false when it should be tried again later.
func (c *conn) reconcile() bool {
	idx, err := c.lookup()
	if err != nil {
		c.log.Warn("cannot look up the interface", "err", err)
		return false
	}
	c.mu.Lock()
	cur := c.s
	c.mu.Unlock()
	if cur != nil && cur.index == idx {
		return c.refreshLocal(idx)
	}
	if cur != nil {
		if !c.setSock(nil) {
			return true
		}
		cur.close()
		c.setLocal(source{})
		c.log.Warn("interface is gone: reads wait and writes fail until it is back", "index", cur.index)
	}
	if idx == 0 {
		return true
	}
	s, err := c.openSocket(idx)
	if err != nil {
		c.log.Warn("cannot re-open the VRRP socket", "index", idx, "err", err)
		return false
	}
	if !c.setSock(s) {
		s.close()
		return true
	}
	ok := c.refreshLocal(idx)
	c.log.Info("interface is back: socket re-opened", "index", idx, "group", c.group, "local", c.LocalAddr())
	return ok
}

// refreshLocal reads LocalAddr again. It reports false when it should be
// tried again later.
func (c *conn) refreshLocal(idx int) bool {
	src, err := c.localAddr(idx, c.LocalAddr())
	if err != nil {
		c.log.Warn("cannot list the interface's addresses", "err", err)
		return false
	}
	c.setLocal(src)
	return true
}

func (c *conn) setLocal(src source) {
	c.mu.Lock()
	c.local, c.localScope = src.addr, src.scope
	c.mu.Unlock()
}

// lookup returns the index of the interface, 0 when it does not exist.
func (c *conn) lookup() (int, error) {
	link, err := c.h.LinkByName(c.name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return 0, nil
		}
		return 0, fmt.Errorf("transport: look up interface %s: %w", c.name, err)
	}
	return link.Attrs().Index, nil
}

// source is an address to send from, as localAddr finds it.
type source struct {
	addr      netip.Addr // the zero Addr when none
	scope     int        // the scope (RT_SCOPE_*) of addr
	tentative bool       // no addr, but an IPv6 link-local address in duplicate address detection
}

// localAddr returns the address to send from on interface idx: the first
// IPv4 address that is not secondary; or keep if it is a usable IPv6
// link-local address of the interface, else its first usable IPv6
// link-local address.
func (c *conn) localAddr(idx int, keep netip.Addr) (source, error) {
	fam := netlink.FAMILY_V4
	if c.fam == vrrpio.IPv6 {
		fam = netlink.FAMILY_V6
	}
	addrs, err := addrList(c.h, idx, fam)
	if err != nil {
		return source{}, fmt.Errorf("transport: list addresses of %s: %w", c.name, err)
	}
	var first source
	tentative := false
	for _, na := range addrs {
		ip := ipAddr(na.IP)
		switch {
		case c.fam == vrrpio.IPv4:
			if ip.Is4() && na.Flags&unix.IFA_F_SECONDARY == 0 {
				return source{addr: ip, scope: na.Scope}, nil
			}
		case ip.Is6() && ip.IsLinkLocalUnicast():
			if !usable6(na.Flags) {
				tentative = tentative || na.Flags&unix.IFA_F_TENTATIVE != 0
				continue
			}
			if ip == keep || !keep.IsValid() {
				return source{addr: ip, scope: na.Scope}, nil
			}
			if !first.addr.IsValid() {
				first = source{addr: ip, scope: na.Scope}
			}
		}
	}
	if first.addr.IsValid() {
		return first, nil
	}
	return source{tentative: tentative}, nil
}

// usable6 reports whether an IPv6 address with flags can be sent from:
// neither tentative (unless optimistic) nor failed duplicate address
// detection.
func usable6(flags int) bool {
	if flags&unix.IFA_F_DADFAILED != 0 {
		return false
	}
	return flags&unix.IFA_F_TENTATIVE == 0 || flags&unix.IFA_F_OPTIMISTIC != 0
}

// addrList lists the addresses of family on interface idx (all interfaces
// when idx is 0), retrying a dump interrupted by a concurrent change.
func addrList(h *netlink.Handle, idx, family int) ([]netlink.Addr, error) {
	var link netlink.Link
	if idx != 0 {
		link = &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx}}
	}
	var err error
	for range 5 {
		var addrs []netlink.Addr
		if addrs, err = h.AddrList(link, family); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return addrs, err
		}
	}
	return nil, err
}

// openSocket opens, configures and binds a raw VRRP socket on interface idx.
func (c *conn) openSocket(idx int) (*sock, error) {
	network, laddr := fmt.Sprintf("ip4:%d", vrrpio.IPProtocol), "0.0.0.0"
	if c.ah {
		network = fmt.Sprintf("ip4:%d", vrrpio.IPProtocolAH)
	}
	if c.fam == vrrpio.IPv6 {
		network, laddr = fmt.Sprintf("ip6:%d", vrrpio.IPProtocol), "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return control(rc, func(fd int) error {
			// Receive nothing until the socket is bound and joined, so
			// that no packet of another interface slips in.
			if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &dropAll); err != nil {
				return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err)
			}
			if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, c.name); err != nil {
				if errors.Is(err, unix.ENODEV) {
					return fmt.Errorf("%w: %s", ErrNoInterface, c.name)
				}
				return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
			}
			return nil
		})
	}}
	var pc net.PacketConn
	err := nsthread.Do(c.ns, func() error {
		var err error
		pc, err = lc.ListenPacket(context.Background(), network, laddr)
		return err
	})
	if err != nil {
		if pc != nil {
			pc.Close()
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("transport: open raw VRRP socket on %s: %w (needs root or CAP_NET_RAW)", c.name, err)
		}
		return nil, fmt.Errorf("transport: open raw VRRP socket on %s: %w", c.name, err)
	}
	s := &sock{index: idx, hfd: -1, ah: c.ah}
	if err := c.configure(s, pc); err != nil {
		pc.Close()
		return nil, fmt.Errorf("transport: set up VRRP socket on %s: %w", c.name, err)
	}
	if !c.sendOnly && !c.ah {
		// An AH socket has no held socket: its reads are never
		// deferred.
		if err := c.openHeld(s); err != nil {
			pc.Close()
			return nil, fmt.Errorf("transport: set up VRRP socket on %s: %w", c.name, err)
		}
	}
	return s, nil
}

// dropAll is a socket filter that accepts no packet.
var dropAll = unix.SockFprog{Len: 1, Filter: &unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// configure sets the options of a new socket, joins the group and, unless
// send-only, lifts the filter that kept the socket from receiving.
// rcvBuf is the receive buffer asked for each socket: about 1,500 small
// adverts.
const rcvBuf = 1 << 20

func (c *conn) configure(s *sock, pc net.PacketConn) error {
	ifi := &net.Interface{Index: s.index, Name: c.name}
	group := &net.IPAddr{IP: c.group.AsSlice()}
	rc, err := pc.(*net.IPConn).SyscallConn()
	if err != nil {
		return err
	}
	s.rc = rc
	if !c.sendOnly {
		// A burst of adverts (many instances, or a hostile flood) must
		// queue, not vanish: ask for a larger receive buffer, beyond
		// rmem_max when privileged.
		if err := control(rc, func(fd int) error { return setRcvBuf(fd, rcvBuf) }); err != nil {
			return err
		}
	}
	if c.fam == vrrpio.IPv4 {
		p := ipv4.NewPacketConn(pc)
		s.p4 = p
		if c.ah {
			// The AH's ICV covers the IP header: the Router builds
			// it, identification included.
			if err := control(rc, func(fd int) error {
				return wrapOpt("IP_HDRINCL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1))
			}); err != nil {
				return err
			}
		}
		err = errors.Join(
			wrapOpt("IP_TOS", p.SetTOS(tosVRRP)),
			wrapOpt("IP_TTL", p.SetTTL(ttlVRRP)),
			wrapOpt("IP_MULTICAST_TTL", p.SetMulticastTTL(ttlVRRP)),
			wrapOpt("IP_MULTICAST_LOOP", p.SetMulticastLoopback(false)),
			wrapOpt("IP_MULTICAST_IF", p.SetMulticastInterface(ifi)),
			control(rc, func(fd int) error { return multicastAllOff(fd, c.fam) }),
		)
		if err == nil && !c.sendOnly {
			err = errors.Join(
				wrapOpt("IP_ADD_MEMBERSHIP "+c.group.String(), p.JoinGroup(ifi, group)),
				control(rc, setTimestamps),
			)
		}
	} else {
		p := ipv6.NewPacketConn(pc)
		s.p6 = p
		err = errors.Join(
			wrapOpt("IPV6_TCLASS", p.SetTrafficClass(tosVRRP)),
			wrapOpt("IPV6_UNICAST_HOPS", p.SetHopLimit(ttlVRRP)),
			wrapOpt("IPV6_MULTICAST_HOPS", p.SetMulticastHopLimit(ttlVRRP)),
			wrapOpt("IPV6_MULTICAST_LOOP", p.SetMulticastLoopback(false)),
			wrapOpt("IPV6_MULTICAST_IF", p.SetMulticastInterface(ifi)),
			control(rc, func(fd int) error { return multicastAllOff(fd, c.fam) }),
		)
		if err == nil && !c.sendOnly {
			err = errors.Join(
				wrapOpt("IPV6_JOIN_GROUP "+c.group.String(), p.JoinGroup(ifi, group)),
				wrapOpt("IPV6_RECVPKTINFO/IPV6_RECVHOPLIMIT", p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true)),
				control(rc, setTimestamps),
			)
		}
	}
	if err != nil || c.sendOnly {
		// A send-only socket keeps its filter: it receives nothing.
		return err
	}
	// Drop whatever was queued before the filter, then lift it.
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		for {
			if _, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
				return true
			}
		}
	}); err != nil {
		return err
	}
	return control(rc, func(fd int) error {
		return wrapOpt("SO_DETACH_FILTER", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0))
	})
}

// setTimestamps asks the kernel for each packet's arrival time.
func setTimestamps(fd int) error {
	return wrapOpt("SO_TIMESTAMPNS", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1))
}

// setRcvBuf asks for a receive buffer of n bytes: beyond rmem_max when
// privileged (SO_RCVBUFFORCE), else up to it.
func setRcvBuf(fd, n int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil {
		return nil
	}
	return wrapOpt("SO_RCVBUF", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n))
}

// multicastAllOff makes the socket receive only the groups it joined
// itself, not every group another socket joined on the host.
func multicastAllOff(fd int, fam vrrpio.Family) error {
	if fam == vrrpio.IPv4 {
		return wrapOpt("IP_MULTICAST_ALL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0))
	}
	err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
	if errors.Is(err, unix.ENOPROTOOPT) {
		return nil // before Linux 4.20
	}
	return wrapOpt("IPV6_MULTICAST_ALL", err)
}

func wrapOpt(name string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// control runs fn on the socket's descriptor.
func control(rc syscall.RawConn, fn func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// openNamespace opens the network namespace at path; netns.None() when
// path is empty.
func openNamespace(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.None(), nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("transport: open network namespace %s: %w", path, err)
	}
	return ns, nil
}

// newHandle returns a netlink handle in ns.
func newHandle(ns netns.NsHandle) (*netlink.Handle, error) {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, nsError("open a netlink socket", err)
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("transport: set netlink timeout: %w", err)
	}
	return h, nil
}

// nsOption returns the namespace option of netlink subscriptions.
func (c *conn) nsOption() *netns.NsHandle {
	if !c.ns.IsOpen() {
		return nil
	}
	ns := c.ns
	return &ns
}

func nsError(what string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("transport: %s: %w (entering a network namespace needs root or CAP_SYS_ADMIN)", what, err)
	}
	return fmt.Errorf("transport: %s: %w", what, err)
}

// sleep waits d; it returns false if done is closed first.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
