// Package announce holds the announcers that tell a link a virtual router
// moved, through the vrrp.Announcer interface: gratuitous ARP for IPv4
// addresses and unsolicited neighbour advertisements (NA) for IPv6
// addresses. Linux sends them on a real interface; subpackage fake records
// them for tests.
//
// # What goes on the wire
//
// One call to Announce sends one round: one frame per address, in the
// order given. Repeating rounds (keepalived sends 5 at takeover and 5 more
// after garp_master_delay) is the caller's schedule.
//
// The frames are those keepalived 2.2.7 sends at takeover: the tests run
// keepalived in a network namespace and compare its ARP packets and ICMPv6
// messages with ours byte for byte. For an IPv4 address A on interface I
// with MAC M, the frame is a gratuitous ARP request:
//
//	Ethernet  dst ff:ff:ff:ff:ff:ff  src M  type ARP (0x0806)
//	ARP       request (1), Ethernet/IPv4, sender M A, target ff:ff:ff:ff:ff:ff A
//
// The frame is padded to the 60-byte Ethernet minimum (keepalived's is 42
// bytes long; a NIC pads it on the wire).
//
// For an IPv6 address A, the frame is an unsolicited neighbour
// advertisement:
//
//	Ethernet  dst 33:33:00:00:00:01  src M  type IPv6
//	IPv6      src A  dst ff02::1  hop limit 255
//	ICMPv6    NA (136), flags O (and R with Options.RouterFlag), S unset,
//	          target A, option target link-layer address M
//
// M is the MAC of the interface announced on, so announcing on a VMAC
// interface (a macvlan with 00:00:5e:00:01:VRID) sends from the virtual
// router MAC, and announcing on the parent sends from the parent's MAC, as
// keepalived does without use_vmac (rfc-checklist T9).
//
// # The IPv6 source address
//
// keepalived 2.2.7 builds the whole frame itself on a packet socket and
// uses the virtual address as the IPv6 source. Linux sends the NA through
// github.com/mdlayher/ndp, that is through the kernel's IPv6 stack, which
// computes the checksum and accepts a source address in a per-packet
// control message only if it is an address of this node that is not
// tentative (a link-local address must be on the interface itself). So the
// source is the virtual address, as with keepalived, when the address is
// bound (vip.Netlink binds IPv6 addresses with nodad, usable at once);
// when the kernel refuses it (the address is not bound yet, or is still
// doing duplicate address detection) the NA goes out with the source the
// kernel picks for ff02::1, the interface's link-local address, and a debug
// record says so. Both are valid RFC 4861 advertisements, and Linux
// receivers update their neighbour cache from the target address and the
// target link-layer address option (only accept_untracked_na=2 looks at
// the source, before creating an entry).
//
// ndp.Listen binds its socket to one address of the interface when given a
// literal address, which must then be assigned when the socket is opened;
// Linux instead opens one socket per interface bound to the unspecified
// address and names the source per packet, so one cached socket serves
// every address of the interface.
//
// # The Router flag
//
// RFC 5798 (sections 6.4.1 and 6.4.2) says the NA of a virtual router sets
// the Router flag. keepalived 2.2.7 sets it exactly when IPv6 forwarding is
// enabled on the interface (net.ipv6.conf.IFACE.forwarding, of the parent
// for a VMAC), which is off by default, so it usually sends the Override
// flag alone; the tests check both cases against keepalived.
// Options.RouterFlag defaults to false, matching keepalived on a host that
// does not forward. Set it when the node routes IPv6 and the virtual
// address is used as a next hop: a Linux neighbour marks its entry for the
// address as a router on an NA with the flag and clears the mark on one
// without it (the tests check both), and RFC 4861 section 7.2.5 has a host
// that sees the mark go remove that router from its default router list.
//
// # Receivers
//
// Linux hosts do not create neighbour entries from unsolicited
// announcements by default: a gratuitous ARP creates an entry only with
// net.ipv4.conf.IFACE.arp_accept=1 and an unsolicited NA only on a
// forwarding interface with accept_untracked_na; otherwise both update an
// existing entry (to the new MAC, state STALE), which is the case that
// matters at failover. The tests in this package check each of these.
package announce

import (
	"errors"
	"log/slog"
)

// ErrNoInterface is returned (wrapped) by Announce when the interface does
// not exist.
var ErrNoInterface = errors.New("no such interface")

// Options configures a Linux announcer.
type Options struct {
	// Namespace is the path of the network namespace to work in, such as
	// /run/netns/blue or /proc/PID/ns/net. The namespace is opened by New
	// and held until Close; interfaces are looked up and sockets opened
	// there. Empty means no namespace switch: the namespace of the calling
	// thread, normally the process's.
	Namespace string
	// RouterFlag sets the Router (R) flag in neighbour advertisements, as
	// RFC 5798 says. The default, false, sends the Override flag alone,
	// as keepalived 2.2.7 does on an interface that does not forward IPv6
	// (see the package documentation).
	RouterFlag bool
	// Logger receives debug records (sockets opened and reopened, source
	// address fallbacks); nil discards them.
	Logger *slog.Logger
}
