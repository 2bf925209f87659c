// Package vrrpio holds the types through which a vrrp.Router does its
// I/O: the VRRP sockets (Transport, Conn), the virtual addresses (VIP,
// Binder), announcements (Announcer) and interface state (LinkState,
// LinkMonitor). It imports nothing of vrrpkit, so that the packages that
// implement them (transport, vip, announce) do not import package vrrp,
// and package vrrp can build a Router on them when a Config leaves them
// out. Package vrrp has an alias for each: use those.
package vrrpio

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// IPProtocol is the IP protocol number of VRRP.
const IPProtocol = 112

// IPProtocolAH is the IP protocol number of the IPsec Authentication
// Header, which carries VRRPv2 adverts with keepalived's auth_type AH.
const IPProtocolAH = 51

// Family is an IP address family.
type Family uint8

// Address families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// FamilyOf returns the family of addr.
func FamilyOf(addr netip.Addr) Family {
	if addr.Is6() && !addr.Is4In6() {
		return IPv6
	}
	return IPv4
}

// Well-known multicast groups (RFC 5798 section 5.1.1.2 and 5.1.2.2).
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// Endpoint names the link and family a Transport opens a Conn on.
type Endpoint struct {
	// Interface is the network interface name.
	Interface string
	// Family is IPv4 or IPv6.
	Family Family
	// Group is the multicast group to join; the zero Addr means the VRRP
	// group of the family (Group4 or Group6).
	Group netip.Addr
	// SendOnly asks for a Conn that only sends: it joins no group and
	// needs no address of its own on Interface (a VMAC interface sends
	// with the parent's address). Its ReadFrom may block until Close.
	SendOnly bool
	// Protocol is the IP protocol of the Conn: 0 (or 112) for VRRP, or
	// IPProtocolAH (IPv4 only) for VRRPv2 adverts behind an IPsec
	// Authentication Header. Since the AH's ICV covers the IP header, an
	// AH Conn carries whole IPv4 datagrams: ReadFrom and ReadBatch return
	// each datagram as received, header included (PacketInfo as for
	// VRRP), and WriteTo and WriteBatch send b as the datagram, header
	// included, to dst (its destination), from src (its source; an
	// invalid src is not allowed), with the header checksum filled in by
	// the kernel.
	Protocol uint8
}

// Transport opens VRRP packet connections. The Router opens one Conn for
// each interface and family it uses, shared by all virtual routers there.
type Transport interface {
	Open(ctx context.Context, ep Endpoint) (Conn, error)
}

// PacketInfo describes a received or sent VRRP packet at the IP layer.
type PacketInfo struct {
	// Src and Dst are the IP source and destination.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// Time is when the kernel received the packet (SO_TIMESTAMPNS), by the
	// wall clock; the zero Time when the Conn does not know. The Router
	// dates the advert by it, so that the time a packet waited in the
	// socket does not push a Backup's deadline back (RFC 5798 6.4.2 counts
	// Master_Down_Interval from the advert's arrival).
	Time time.Time
}

// Conn is a VRRP (IP protocol 112) packet connection on one interface and
// family.
type Conn interface {
	// ReadFrom reads the VRRP message (the IP payload) of the next packet
	// into b and returns its length and IP-level information; a message
	// longer than b is truncated to len(b). It blocks until a packet arrives
	// or the Conn is closed.
	ReadFrom(b []byte) (int, PacketInfo, error)
	// WriteTo sends the VRRP message b from src to dst with TTL or hop
	// limit 255. An invalid src lets the Conn choose LocalAddr.
	WriteTo(b []byte, src, dst netip.Addr) error
	// LocalAddr is the address adverts are sent from by default: the
	// primary IPv4 address of the interface, or its IPv6 link-local address.
	LocalAddr() netip.Addr
	// Close closes the connection and unblocks ReadFrom, which then returns
	// an error wrapping net.ErrClosed.
	Close() error
}

// VIP is a virtual address with the attributes keepalived's
// virtual_ipaddress allows.
type VIP struct {
	// Prefix is the address and its prefix length (a /32 or /128 when the
	// configuration gives none).
	Prefix netip.Prefix
	// Device is the interface the address goes on; empty means the
	// instance's interface.
	Device string
	// Label is the IPv4 address label (ip addr ... label).
	Label string
	// Scope is the address scope as ip(8) names it ("global", "link",
	// "host"); empty means global.
	Scope string
	// Broadcast is the IPv4 broadcast address (ip addr ... brd). The zero
	// Addr means none, as with ip(8) and keepalived when no brd is given.
	Broadcast netip.Addr
}

// Binder adds and removes virtual addresses. Both calls are idempotent.
type Binder interface {
	// Bind adds vips on iface (or each VIP's Device).
	Bind(ctx context.Context, iface string, vips []VIP) error
	// Unbind removes vips from iface (or each VIP's Device).
	Unbind(ctx context.Context, iface string, vips []VIP) error
}

// Announcer tells the link that a virtual router moved: gratuitous ARP for
// IPv4 addresses and unsolicited neighbour advertisements for IPv6.
type Announcer interface {
	// Announce sends one round of announcements for addrs on iface. It
	// must not modify addrs, which the Router reuses.
	Announce(ctx context.Context, iface string, addrs []netip.Addr) error
}

// LeaseBinder is a Binder that adds addresses with a kernel lifetime, so
// that the addresses of a process that dies without a word expire by
// themselves. The Router calls Bind again, refreshing the lifetime, every
// third of Lease while Master.
type LeaseBinder interface {
	Binder
	// Lease is the lifetime given to bound addresses; zero means none.
	Lease() time.Duration
}

// Route is a route held with the virtual addresses (keepalived's
// virtual_routes) or for the life of the process (static_routes).
type Route struct {
	// Dst is the destination; 0.0.0.0/0 or ::/0 for a default route.
	Dst netip.Prefix
	// Src is the preferred source address (ip route ... src), often a
	// VIP; invalid for none.
	Src netip.Addr
	// Via is the gateway; invalid for none.
	Via netip.Addr
	// Dev is the output interface; empty lets the kernel pick it from
	// Via.
	Dev string
	// Table is the routing table; 0 means main (254).
	Table int
	// Metric is the route's priority (ip route ... metric).
	Metric int
	// Scope is the route scope as ip(8) names it ("global", "link",
	// "host", "nowhere", "site"); empty lets the kernel choose.
	Scope string
	// Protocol is the route's protocol number; 0 means 18, "keepalived"
	// in iproute2's rt_protos, as keepalived marks its routes.
	Protocol int
	// OnLink takes Via as directly reachable on Dev (ip route ... onlink).
	OnLink bool
	// Type is "" (unicast), "blackhole", "unreachable", "prohibit" or
	// "throw".
	Type string
	// NoTrack leaves the instance alone when Dev goes down (keepalived's
	// no_track). By default a virtual route's Dev, if not the instance's
	// interface, puts the instance in FAULT while it is down, as keepalived
	// tracks it; static routes are not tracked.
	NoTrack bool
}

// Rule is a policy routing rule held with the virtual addresses
// (keepalived's virtual_rules) or for the life of the process
// (static_rules).
type Rule struct {
	// From and To match the source and destination; invalid matches all.
	From, To netip.Prefix
	// IPv6 makes a rule that has neither From nor To an IPv6 rule.
	IPv6 bool
	// Table is the table to look up.
	Table int
	// Priority orders the rules (ip rule ... priority / preference); it
	// is required, as a rule without one is numbered anew by each add
	// (keepalived numbers those it is given without one from 16384 down).
	Priority int
	// IIf and OIf match the input and output interfaces.
	IIf, OIf string
	// FWMark and FWMask match the firewall mark (FWMask 0: all bits).
	FWMark, FWMask uint32
	// L3MDev looks up the table of the VRF device the packet arrived on
	// or leaves by (ip rule ... l3mdev); Table is then 0.
	L3MDev bool
	// Protocol is the rule's protocol; 0 means 18, as for Route.
	Protocol int
}

// RouteBinder is a Binder that also adds and removes routes and policy
// routing rules. Both calls are idempotent.
type RouteBinder interface {
	Binder
	// BindRoutes adds routes, then rules.
	BindRoutes(ctx context.Context, routes []Route, rules []Rule) error
	// UnbindRoutes removes rules, then routes.
	UnbindRoutes(ctx context.Context, routes []Route, rules []Rule) error
}

// VMACBinder is a Binder that also manages virtual MAC interfaces: macvlan
// devices in bridge mode whose address is the VRRP virtual router MAC
// (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6).
type VMACBinder interface {
	Binder
	// AddVMAC creates (or adopts) the interface name on parent with the
	// virtual router MAC of vrid and family, and sets it up. It is
	// idempotent.
	AddVMAC(ctx context.Context, parent, name string, vrid uint8, family Family) error
	// RemoveVMAC deletes the interface name if it exists.
	RemoveVMAC(ctx context.Context, name string) error
}

// FilterBinder is a Binder that can also keep this host from accepting
// packets addressed to virtual addresses it does not own: RFC 5798's
// Accept_Mode False, keepalived's no_accept. A Router calls Filter before
// it binds the addresses of a Master in that mode, and Unfilter after it
// removes them (and once when the instance starts, to drop what a killed
// process left). Both calls are idempotent.
type FilterBinder interface {
	Binder
	// Filter drops the packets this host receives addressed to vips and
	// those it sends from them, but for IPv6 neighbour discovery, which
	// the Master must answer.
	Filter(ctx context.Context, iface string, vips []VIP) error
	// Unfilter removes the filter of vips; a VIP that is not filtered is
	// no error.
	Unfilter(ctx context.Context, iface string, vips []VIP) error
}

// LinkState is the state of one network interface, as a LinkMonitor
// reports it.
type LinkState struct {
	// Interface is the interface name.
	Interface string
	// Exists is false once the interface is deleted.
	Exists bool
	// Up reports that the link is administratively up and has carrier.
	Up bool
	// Addrs are the interface's addresses, IPv4 primary first.
	Addrs []netip.Addr
}

// LinkMonitor reports interface state to a Router, which puts instances in
// FAULT when their interface goes down or loses its address, and adjusts
// priorities for tracked interfaces.
type LinkMonitor interface {
	// Watch calls fn with the current state of every interface and then
	// with each change, until ctx is done; then it returns. fn is called
	// from one goroutine at a time.
	Watch(ctx context.Context, fn func(LinkState)) error
}

// Outgoing is one message for BatchConn.WriteBatch.
type Outgoing struct {
	// Msg is the VRRP message.
	Msg []byte
	// Src and Dst are as for Conn.WriteTo.
	Src, Dst netip.Addr
}

// Incoming is one message for BatchReader.ReadBatch.
type Incoming struct {
	// Buf is where the message goes, set by the caller; a message longer
	// than Buf is truncated to len(Buf).
	Buf []byte
	// N is the length of the message read.
	N int
	// Info is as returned by Conn.ReadFrom.
	Info PacketInfo
}

// BatchReader is a Conn that can read many messages in one system call
// (recvmmsg). The Router's readers use it when the Conn has it, so that a
// burst of adverts costs one wake-up of the Router instead of one each.
type BatchReader interface {
	// ReadBatch blocks until at least one message arrives, then reads as
	// many queued messages as fit in ms without blocking again, and
	// returns how many it read. Its errors are those of ReadFrom.
	ReadBatch(ms []Incoming) (int, error)
}

// BatchConn is a Conn that can send many messages in one system call. The
// Router uses it when several virtual routers advertise at the same moment.
type BatchConn interface {
	Conn
	// WriteBatch sends ms in order and returns how many were sent; on
	// error, the messages from the returned count on were not sent.
	WriteBatch(ms []Outgoing) (int, error)
}

// DeferredReader is a Conn that can hold back the adverts a Backup does not
// need at once. A Backup acts at once only on an advert of priority 0 (it
// takes over after Skew_Time, RFC 5798 section 6.4.2); any other advert
// only moves its Master_Down_Timer, and an advert dated by its arrival
// time (PacketInfo.Time) moves it to the same place whether it is read at
// once or later. The Router defers while every virtual router on the Conn
// is a Backup and reads the held adverts before it acts on a timer, so that
// a Backup wakes once per Master_Down_Interval instead of once per advert.
type DeferredReader interface {
	// SetDeferred switches the Conn between eager (false, the initial
	// mode: ReadFrom and ReadBatch return every message) and deferred
	// (true: they return only adverts of priority 0; every other message,
	// malformed ones included, waits for ReadPending). Each held message
	// must carry its arrival time in PacketInfo.Time. A message that
	// arrives during the switch may be returned by both paths once.
	SetDeferred(on bool) error
	// ReadPending reads up to len(ms) held messages, oldest first, without
	// blocking, and returns how many it read; fewer than len(ms) means
	// none are left. dropped is how many messages the Conn had to discard
	// since the previous ReadPending because too many were held (an
	// overflow); the Router then reads eagerly for a while.
	ReadPending(ms []Incoming) (n int, dropped uint64, err error)
}

// MarshalText returns "IPv4" or "IPv6".
func (f Family) MarshalText() ([]byte, error) {
	if f != IPv4 && f != IPv6 {
		return nil, fmt.Errorf("vrrp: no family %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText parses "IPv4" or "IPv6", in any case.
func (f *Family) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "ipv4":
		*f = IPv4
	case "ipv6":
		*f = IPv6
	default:
		return fmt.Errorf("vrrp: no family %q", b)
	}
	return nil
}
