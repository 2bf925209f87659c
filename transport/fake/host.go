package fake

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Host is a machine on a Segment. It implements vrrp.Transport and is safe
// for concurrent use. Create one with Segment.NewHost.
type Host struct {
	seg   *Segment
	name  string
	addrs []netip.Addr // immutable

	// guarded by seg.mu
	down  bool
	conns []*Conn
}

var _ vrrp.Transport = (*Host)(nil)

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// String returns the host's name.
func (h *Host) String() string { return h.name }

// Segment returns the segment the host is on.
func (h *Host) Segment() *Segment { return h.seg }

// Addrs returns the host's addresses.
func (h *Host) Addrs() []netip.Addr { return slices.Clone(h.addrs) }

// Addr returns the address the host sends from in family f: the first
// IPv4 address, or the first IPv6 link-local address (fe80::/10), else
// the first IPv6 address. It reports false when the host has no address
// of the family.
func (h *Host) Addr(f vrrp.Family) (netip.Addr, bool) {
	var first netip.Addr
	for _, a := range h.addrs {
		if vrrp.FamilyOf(a) != f {
			continue
		}
		if f == vrrp.IPv4 || a.IsLinkLocalUnicast() {
			return a, true
		}
		if !first.IsValid() {
			first = a
		}
	}
	return first, first.IsValid()
}

// has reports whether the host has address a (unmapped).
func (h *Host) has(a netip.Addr) bool { return slices.Contains(h.addrs, a) }

// hasFamily reports whether the host has an address of family f.
func (h *Host) hasFamily(f vrrp.Family) bool {
	_, ok := h.Addr(f)
	return ok
}

// SetLink sets the host's link up or down. A host whose link is down, as
// after a cable pull, sends nothing (its writes succeed and vanish) and
// receives nothing, including delayed packets that arrive while it is
// down. Its Conns stay open. Hosts start with their link up.
func (h *Host) SetLink(up bool) {
	h.seg.mu.Lock()
	h.down = !up
	h.seg.mu.Unlock()
}

// LinkUp reports whether the host's link is up.
func (h *Host) LinkUp() bool {
	h.seg.mu.Lock()
	defer h.seg.mu.Unlock()
	return !h.down
}

// Conns returns the host's open Conns in the order they were opened.
func (h *Host) Conns() []*Conn {
	h.seg.mu.Lock()
	defer h.seg.mu.Unlock()
	return slices.Clone(h.conns)
}

// Open returns a *Conn for the host's address of ep.Family (see Addr),
// joined to ep.Group, or to vrrp.Group4 or vrrp.Group6 when it is zero.
// The interface name is recorded as given; a host may open any number of
// Conns, all on this segment. Open fails with an error wrapping
// ErrEndpoint for a bad family or group or an IP protocol other than VRRP
// (AH Conns are not modelled), ErrNoAddress when the host has
// no address of the family, ErrClosed after Segment.Close, or ctx.Err()
// when ctx is done.
func (h *Host) Open(ctx context.Context, ep vrrp.Endpoint) (vrrp.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: open %s on %s: %w", ep.Interface, h.name, err)
	}
	if ep.Protocol != 0 && ep.Protocol != vrrp.IPProtocol {
		// AH Conns carry whole datagrams, which the segment does not
		// model yet.
		return nil, fmt.Errorf("fake: open %s on %s: %w: IP protocol %d", ep.Interface, h.name, ErrEndpoint, ep.Protocol)
	}
	group := ep.Group.Unmap()
	switch ep.Family {
	case vrrp.IPv4:
		if !group.IsValid() {
			group = vrrp.Group4
		}
	case vrrp.IPv6:
		if !group.IsValid() {
			group = vrrp.Group6
		}
	default:
		return nil, fmt.Errorf("fake: open %s on %s: %w: family %d", ep.Interface, h.name, ErrEndpoint, uint8(ep.Family))
	}
	if !group.IsMulticast() || vrrp.FamilyOf(group) != ep.Family {
		return nil, fmt.Errorf("fake: open %s on %s: %w: group %v is not %v multicast", ep.Interface, h.name, ErrEndpoint, ep.Group, ep.Family)
	}
	local, ok := h.Addr(ep.Family)
	if !ok {
		return nil, fmt.Errorf("fake: open %s on %s: %w: %v", ep.Interface, h.name, ErrNoAddress, ep.Family)
	}
	c := &Conn{
		host:   h,
		iface:  ep.Interface,
		family: ep.Family,
		group:  group,
		local:  local,
		queue:  make(chan packet, h.seg.queueLen),
		done:   make(chan struct{}),
	}
	s := h.seg
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("fake: open %s on %s: %w", ep.Interface, h.name, ErrClosed)
	}
	h.conns = append(h.conns, c)
	return c, nil
}

type packet struct {
	info vrrp.PacketInfo
	msg  []byte // shared read-only between receivers
}

// Conn is a vrrp.Conn on a Host, returned by Host.Open. It is safe for
// concurrent use.
type Conn struct {
	host   *Host
	iface  string
	family vrrp.Family
	group  netip.Addr
	local  netip.Addr
	queue  chan packet
	done   chan struct{} // closed by Close
	once   sync.Once

	// Deferred reads (vrrp.DeferredReader).
	hmu      sync.Mutex
	deferred bool
	held     []packet // at most the segment's queue length
	overflow uint64   // packets dropped from held since ReadPending
}

var (
	_ vrrp.Conn           = (*Conn)(nil)
	_ vrrp.DeferredReader = (*Conn)(nil)
)

// Host returns the host the Conn belongs to.
func (c *Conn) Host() *Host { return c.host }

// Interface returns the interface name given to Open.
func (c *Conn) Interface() string { return c.iface }

// Family returns the Conn's address family.
func (c *Conn) Family() vrrp.Family { return c.family }

// Group returns the multicast group the Conn joined.
func (c *Conn) Group() netip.Addr { return c.group }

// LocalAddr returns the host's address the Conn sends from by default.
func (c *Conn) LocalAddr() netip.Addr { return c.local }

// Pending returns the number of packets queued and not yet read.
func (c *Conn) Pending() int { return len(c.queue) }

// ReadFrom copies the next queued message into b and returns its length
// and packet information. A message longer than b is truncated to len(b),
// as a datagram socket does. ReadFrom blocks until a packet arrives or the
// Conn is closed; then it returns an error wrapping ErrClosed (and so
// net.ErrClosed).
func (c *Conn) ReadFrom(b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case <-c.done:
		return 0, vrrp.PacketInfo{}, c.closedErr("read")
	default:
	}
	select {
	case p := <-c.queue:
		return copy(b, p.msg), p.info, nil
	case <-c.done:
		return 0, vrrp.PacketInfo{}, c.closedErr("read")
	}
}

// WriteTo sends the message b from src (LocalAddr when src is invalid) to
// dst with TTL 255 through Segment.Route, and queues the copies that
// arrive at once or, when delayed, after their delay. It copies b before
// it returns. dst must be a valid address of the Conn's family and src,
// when valid, too (it need not be the host's: spoofing is allowed);
// otherwise the error wraps ErrAddress. A write whose packet is lost or
// blocked succeeds, as on a real link.
func (c *Conn) WriteTo(b []byte, src, dst netip.Addr) error {
	select {
	case <-c.done:
		return c.closedErr("write")
	default:
	}
	src, dst = src.Unmap(), dst.Unmap()
	if !dst.IsValid() || vrrp.FamilyOf(dst) != c.family {
		return fmt.Errorf("fake: write %s on %s: %w: destination %v is not %v", c.iface, c.host.name, ErrAddress, dst, c.family)
	}
	if !src.IsValid() {
		src = c.local
	} else if vrrp.FamilyOf(src) != c.family {
		return fmt.Errorf("fake: write %s on %s: %w: source %v is not %v", c.iface, c.host.name, ErrAddress, src, c.family)
	}
	s := c.host.seg
	s.schedule(s.Route(c.host, vrrp.PacketInfo{Src: src, Dst: dst, TTL: 255}, b))
	return nil
}

// Close closes the Conn, unblocks ReadFrom and discards the packets
// queued. Closing a closed Conn returns an error wrapping ErrClosed.
func (c *Conn) Close() error {
	first := false
	c.once.Do(func() {
		first = true
		close(c.done)
		s := c.host.seg
		s.mu.Lock()
		c.host.conns = slices.DeleteFunc(c.host.conns, func(x *Conn) bool { return x == c })
		s.mu.Unlock()
	})
	if !first {
		return c.closedErr("close")
	}
	return nil
}

// enqueue queues p unless the Conn is closed or its queue is full, and
// reports whether it did. A packet without an arrival time gets the
// segment clock's now. While the Conn is deferred, every packet but an
// advert of priority 0 goes to the held queue.
func (c *Conn) enqueue(p packet) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	s := c.host.seg
	if p.info.Time.IsZero() {
		p.info.Time = s.clock.Now()
	}
	if c.hold(p) {
		return true
	}
	select {
	case c.queue <- p:
		s.stats.delivered.Add(1)
		return true
	default:
		s.stats.droppedFull.Add(1)
		return false
	}
}

// hold queues p on the held queue if the Conn is deferred and p is not an
// advert of priority 0; it reports whether p is dealt with (held, or
// dropped because the held queue is full).
func (c *Conn) hold(p packet) bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if !c.deferred || (len(p.msg) >= 3 && p.msg[2] == 0) {
		return false
	}
	s := c.host.seg
	if len(c.held) >= s.queueLen {
		c.overflow++
		s.stats.droppedFull.Add(1)
		return true
	}
	c.held = append(c.held, p)
	s.stats.delivered.Add(1)
	return true
}

// SetDeferred switches the Conn between reading every packet with ReadFrom
// (false) and holding every packet but adverts of priority 0 for
// ReadPending (true). Packets queued before the switch stay where they
// are. It implements vrrp.DeferredReader.
func (c *Conn) SetDeferred(on bool) error {
	select {
	case <-c.done:
		return c.closedErr("set deferred")
	default:
	}
	c.hmu.Lock()
	c.deferred = on
	c.hmu.Unlock()
	return nil
}

// Deferred reports whether the Conn holds packets back (SetDeferred).
func (c *Conn) Deferred() bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.deferred
}

// Held returns the number of packets held for ReadPending.
func (c *Conn) Held() int {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.held)
}

// ReadPending copies up to len(ms) held packets, oldest first, into ms and
// returns how many, and how many packets the full held queue dropped since
// the previous call. It never blocks.
func (c *Conn) ReadPending(ms []vrrp.Incoming) (int, uint64, error) {
	select {
	case <-c.done:
		return 0, 0, c.closedErr("read")
	default:
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	n := min(len(ms), len(c.held))
	for i := range n {
		p := c.held[i]
		ms[i].N = copy(ms[i].Buf, p.msg)
		ms[i].Info = p.info
	}
	c.held = c.held[n:]
	if len(c.held) == 0 {
		c.held = nil
	}
	dropped := c.overflow
	c.overflow = 0
	return n, dropped, nil
}

func (c *Conn) closedErr(op string) error {
	return fmt.Errorf("fake: %s %s on %s: %w", op, c.iface, c.host.name, ErrClosed)
}

var _ vrrp.BatchConn = (*Conn)(nil)

// WriteBatch sends each message as WriteTo does and counts the batch in
// Stats.Batches. It stops at the first error and returns how many were
// sent.
func (c *Conn) WriteBatch(ms []vrrp.Outgoing) (int, error) {
	c.host.seg.stats.batches.Add(1)
	for i, m := range ms {
		if err := c.WriteTo(m.Msg, m.Src, m.Dst); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}
