// Package transport holds the VRRP packet transports and the link monitor a
// vrrp.Router uses through its Transport and LinkMonitor (package vrrpio)
// interfaces. Subpackage fake is an in-memory segment for tests and
// simulations.
//
// # Linux sockets
//
// Linux is the real transport. Its Open returns a vrrpio.Conn, which is also
// a vrrpio.BatchConn, over a raw socket for IP protocol 112 ("ip4:112" or
// "ip6:112"):
//
//   - bound to the Endpoint's interface (SO_BINDTODEVICE) and, unless the
//     Endpoint is SendOnly, joined to its multicast group there (224.0.0.18
//     or ff02::12 by default) and to nothing else (IP_MULTICAST_ALL off);
//   - sending with TTL / hop limit 255 to multicast and unicast
//     destinations, TOS / traffic class 0xc0 (internetwork control, as
//     keepalived), and no multicast loopback: a Conn never reads what it
//     sent;
//   - sending from the source address WriteTo is given (IP_PKTINFO /
//     IPV6_PKTINFO), which must be an address of the host, or else from
//     LocalAddr: the interface's primary IPv4 address or its IPv6
//     link-local address;
//   - reading, through control messages, each packet's destination and
//     TTL / hop limit, which the Router checks. The socket does not set
//     IPV6_CHECKSUM: the Router verifies checksums itself, and counts the
//     bad ones instead of having the kernel drop them silently.
//
// A receiving Conn is also a vrrpio.DeferredReader, with a second raw socket
// on the interface that the Go poller does not watch, so that a packet
// queued there wakes no thread. Deferred, a classic BPF socket filter lets
// only adverts of priority 0 reach the first socket, which ReadBatch
// reads at once, and every other packet (malformed ones too) wait on the
// second, with a receive buffer of 8 MiB (SO_RCVBUFFORCE when privileged),
// until ReadPending; the kernel's drop count of that socket (SO_MEMINFO)
// tells the Router when it overflowed. Eager, the first socket passes
// everything and the second nothing.
//
// A Conn follows its interface by name. When the interface is deleted its
// reads block and its writes fail with an error wrapping ErrNoInterface;
// when an interface of that name appears again (with a new index) the Conn
// opens a new socket on it and joins the group again by itself, and reads
// resume. It learns of these changes, and of its interface's addresses, from
// a netlink subscription run by a goroutine that Close ends.
//
// With Namespace set, sockets and netlink subscriptions are created inside
// that network namespace (a path such as /run/netns/NAME): the calling
// goroutine does not change namespace, and a socket stays in the namespace
// it was created in. Raw sockets need root or CAP_NET_RAW, and entering
// another namespace CAP_SYS_ADMIN; errors for missing privileges wrap
// os.ErrPermission.
//
// # Link monitor
//
// Monitor implements vrrpio.LinkMonitor with netlink: it reports the state of
// every interface of a namespace (exists, up, addresses) at the start and
// after every change, so that a Router puts instances in FAULT when their
// interface goes down or loses its address.
//
// On systems other than Linux, Linux.Open and Monitor.Watch return an error
// wrapping ErrUnsupported.
package transport

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Errors returned by Linux and Monitor.
var (
	// ErrNoInterface is returned by Open when the Endpoint's interface does
	// not exist, and by a Conn's writes while its interface is gone (until
	// an interface of that name appears again).
	ErrNoInterface = errors.New("transport: no such interface")
	// ErrNoAddress is returned by Open when the interface has no address
	// to send from: no IPv4 address for IPv4, no usable IPv6 link-local
	// address for IPv6 (SendOnly endpoints need none). It is also returned
	// by WriteTo when given no source while the interface has no such
	// address.
	ErrNoAddress = errors.New("transport: interface has no address to send from")
	// ErrUnsupported is returned by Open and Watch on systems other than
	// Linux. It wraps errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("transport: raw VRRP sockets and netlink need Linux: %w", errors.ErrUnsupported)
)

// Linux is the vrrpio.Transport of Linux: raw IP protocol 112 sockets (see the
// package documentation). The zero value uses the current network
// namespace and logs nothing. A Linux may be copied and used concurrently.
type Linux struct {
	// Namespace is the path of the network namespace to open sockets in,
	// such as /run/netns/NAME or /proc/PID/ns/net; empty means the
	// process's own (Open and the Conn's goroutine use whatever thread
	// they run on, so call Open from no thread switched into another
	// namespace).
	Namespace string
	// Logger receives the Conns' log lines (interface gone, socket
	// re-opened); nil discards them.
	Logger *slog.Logger
}

// Monitor is the vrrpio.LinkMonitor of Linux: it watches the interfaces of a
// network namespace through netlink. The zero value watches the current
// namespace and logs nothing.
type Monitor struct {
	// Namespace is the path of the network namespace to watch; empty means
	// the process's own.
	Namespace string
	// Logger receives the Monitor's log lines (subscription errors and
	// retries); nil discards them.
	Logger *slog.Logger
}

var (
	_ vrrpio.Transport   = Linux{}
	_ vrrpio.LinkMonitor = Monitor{}
)
