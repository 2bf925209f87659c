//go:build linux

package announce

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// allNodes is the destination of unsolicited neighbour advertisements.
var allNodes = netip.MustParseAddr("ff02::1")

// Linux sends gratuitous ARP and unsolicited neighbour advertisements on
// Linux interfaces, in one network namespace. It implements vrrpio.Announcer.
//
// Sockets are opened on first use, one packet socket (ARP) and one ICMPv6
// socket (NA) per interface, and reused by later calls. The interface's
// index and MAC address are looked up on first use too, and again after a
// failed send or once the last lookup is a second old, so that a steady
// stream of announcements costs no lookup per call. After a failed send
// (or socket open) Linux looks the interface up again and tries once more:
// when the interface was deleted and created again (its index changed) or
// got another MAC address, the sockets are reopened and the frame rebuilt,
// and an interface that went away or down and came back works again.
// Opening sockets needs CAP_NET_RAW, and CAP_SYS_ADMIN when
// Options.Namespace is set.
//
// A Linux is safe for concurrent use; its calls are serialized.
type Linux struct {
	routerFlag bool
	log        *slog.Logger
	nsPath     string
	ns         netns.NsHandle  // open only when Options.Namespace is set
	nl         *netlink.Handle // nil: netlink's package functions, in the calling thread's namespace

	mu      sync.Mutex
	closed  bool
	links   map[string]*link
	ttl     time.Duration // how long a lookup is trusted: lookupTTL; tests change it
	opened  int           // sockets opened so far, for tests
	lookups int           // interface lookups done so far, for tests
}

// lookupTTL bounds how long Announce trusts a cached interface lookup. A
// failed send looks the interface up again at once; the bound catches what
// a send does not show: a MAC address changed in place, or an interface
// created again with the index of the old one.
const lookupTTL = time.Second

// link is what Linux keeps of one interface: its last lookup and the
// sockets opened for it.
type link struct {
	ifi     iface     // as last looked up; the sockets are opened on ifi.index
	checked time.Time // when ifi was looked up
	arp     *packet.Conn
	nd      *ndp.Conn
}

// iface is what one Announce call needs to know of its interface.
type iface struct {
	name  string
	index int
	mtu   int
	mac   net.HardwareAddr
}

var _ vrrpio.Announcer = (*Linux)(nil)

// New returns a Linux announcer working in the namespace of opts. It opens
// the namespace and a netlink handle there; Close releases them.
func New(opts Options) (*Linux, error) {
	l := &Linux{
		routerFlag: opts.RouterFlag,
		log:        cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		nsPath:     opts.Namespace,
		ns:         netns.None(),
		links:      make(map[string]*link),
		ttl:        lookupTTL,
	}
	if opts.Namespace == "" {
		return l, nil
	}
	ns, err := netns.GetFromPath(opts.Namespace)
	if err != nil {
		return nil, fmt.Errorf("announce: open network namespace %s: %w", opts.Namespace, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("announce: netlink handle in network namespace %s: %w", opts.Namespace, err)
	}
	l.ns, l.nl = ns, h
	return l, nil
}

// Close closes the sockets, the netlink handle and the namespace. Announce
// fails after Close with an error wrapping net.ErrClosed. Close is
// idempotent.
func (l *Linux) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for name, lk := range l.links {
		if err := lk.close(); err != nil {
			errs = append(errs, fmt.Errorf("announce: close sockets of %s: %w", name, err))
		}
	}
	l.links = nil
	if l.nl != nil {
		l.nl.Close()
	}
	if l.ns.IsOpen() {
		if err := l.ns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("announce: close network namespace %s: %w", l.nsPath, err))
		}
	}
	return errors.Join(errs...)
}

// Announce sends one round of announcements on the interface named
// ifaceName: a gratuitous ARP request for each IPv4 address (IPv4-mapped
// IPv6 addresses count as IPv4) and an unsolicited neighbour advertisement
// for each IPv6 address, in the order of addrs, from the interface's MAC
// address. See the package documentation for the frames.
//
// A failure for one address does not stop the others: the error joins one
// error per failed address, each naming the interface and the address and
// wrapping the cause. When ifaceName does not exist the error wraps
// ErrNoInterface and nothing is sent. When ctx is done, the addresses not
// yet sent are skipped and the error wraps ctx.Err(); ctx's deadline also
// bounds each write.
func (l *Linux) Announce(ctx context.Context, ifaceName string, addrs []netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("announce: on %s: %w", ifaceName, net.ErrClosed)
	}
	if len(addrs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("announce: on %s: %w", ifaceName, err)
	}
	lk, err := l.link(ifaceName, false)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	var errs []error
	for _, addr := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("announce: on %s: %w", ifaceName, err))
			break
		}
		var what string
		switch {
		case !addr.IsValid():
			errs = append(errs, fmt.Errorf("announce: on %s: invalid address", ifaceName))
			continue
		case vrrpio.FamilyOf(addr) == vrrpio.IPv4:
			addr = addr.Unmap()
			what, err = "gratuitous ARP", l.sendARP(lk, addr, deadline)
		default:
			addr = addr.WithZone("")
			what, err = "neighbour advertisement", l.sendNA(lk, addr, deadline)
		}
		if errors.Is(err, ErrNoInterface) {
			// The interface went away since it was looked up: nothing
			// more can be sent.
			errs = append(errs, err)
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("announce: %s for %s on %s: %w", what, addr, ifaceName, err))
		}
	}
	return errors.Join(errs...)
}

// link returns what l keeps of the interface name, looking the interface
// up when it has not yet, when fresh is set, or when the last lookup is
// older than l.ttl. It closes the sockets of an interface that changed (a
// new index: deleted and created again; or a new MAC address or MTU) and
// forgets an interface that is gone; the error then wraps ErrNoInterface.
func (l *Linux) link(name string, fresh bool) (*link, error) {
	lk := l.links[name]
	now := time.Now()
	if lk != nil && !fresh && now.Sub(lk.checked) < l.ttl {
		return lk, nil
	}
	ifi, err := l.lookup(name)
	if err != nil {
		if lk != nil && errors.Is(err, ErrNoInterface) {
			// The interface is gone: close its sockets.
			if cerr := lk.close(); cerr != nil {
				l.log.Debug("close sockets of a deleted interface", "iface", name, "err", cerr)
			}
			delete(l.links, name)
		}
		return nil, err
	}
	switch {
	case lk == nil:
		lk = &link{}
		l.links[name] = lk
	case lk.ifi.index != ifi.index || lk.ifi.mtu != ifi.mtu || !bytes.Equal(lk.ifi.mac, ifi.mac):
		l.log.Debug("interface changed, reopening sockets", "iface", name,
			"old_index", lk.ifi.index, "index", ifi.index, "old_mac", lk.ifi.mac.String(), "mac", ifi.mac.String())
		if err := lk.close(); err != nil {
			l.log.Debug("close stale sockets", "iface", name, "err", err)
		}
	}
	lk.ifi, lk.checked = ifi, now
	return lk, nil
}

// lookup returns the index, MTU and MAC address of the interface name.
func (l *Linux) lookup(name string) (iface, error) {
	if name == "" {
		return iface{}, fmt.Errorf("announce: empty interface name: %w", ErrNoInterface)
	}
	l.lookups++
	var (
		lnk netlink.Link
		err error
	)
	if l.nl != nil {
		lnk, err = l.nl.LinkByName(name)
	} else {
		lnk, err = netlink.LinkByName(name)
	}
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return iface{}, fmt.Errorf("announce: interface %s%s: %w", name, l.where(), ErrNoInterface)
		}
		return iface{}, fmt.Errorf("announce: look up interface %s%s: %w", name, l.where(), err)
	}
	a := lnk.Attrs()
	if len(a.HardwareAddr) != 6 {
		return iface{}, fmt.Errorf("announce: interface %s%s has no Ethernet address (%q)", name, l.where(), a.HardwareAddr)
	}
	return iface{name: name, index: a.Index, mtu: a.MTU, mac: a.HardwareAddr}, nil
}

// where names the namespace for error messages.
func (l *Linux) where() string {
	if l.nsPath == "" {
		return ""
	}
	return " in network namespace " + l.nsPath
}

// sendARP sends a gratuitous ARP request for ip, opening the ARP socket of
// lk when needed; see retry.
func (l *Linux) sendARP(lk *link, ip netip.Addr, deadline time.Time) error {
	return l.retry(lk, "ARP", ip,
		func() error {
			if lk.arp != nil {
				return nil
			}
			c, err := l.openARP(lk.ifi)
			lk.arp = c
			return err
		},
		func() error {
			// Built from the interface as last looked up: its MAC
			// address may have changed before a retry.
			fb, err := garpFrame(lk.ifi.mac, ip)
			if err != nil {
				return err
			}
			if err := lk.arp.SetWriteDeadline(deadline); err != nil {
				return err
			}
			_, err = lk.arp.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
			return err
		},
		func() {
			_ = lk.arp.Close()
			lk.arp = nil
		})
}

// garpFrame returns the Ethernet frame of a gratuitous ARP request for ip
// from mac.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	return f.MarshalBinary()
}

// sendNA sends an unsolicited neighbour advertisement for ip, opening the
// ICMPv6 socket of lk when needed; see retry.
func (l *Linux) sendNA(lk *link, ip netip.Addr, deadline time.Time) error {
	return l.retry(lk, "ICMPv6", ip,
		func() error {
			if lk.nd != nil {
				return nil
			}
			c, err := l.openNDP(lk.ifi)
			lk.nd = c
			return err
		},
		func() error {
			ifi := lk.ifi // as last looked up: it may have changed before a retry
			na := &ndp.NeighborAdvertisement{
				Router:        l.routerFlag,
				Override:      true,
				TargetAddress: ip,
				Options: []ndp.Option{
					&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.mac},
				},
			}
			if err := lk.nd.SetWriteDeadline(deadline); err != nil {
				return err
			}
			cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: ip.AsSlice(), IfIndex: ifi.index}
			err := lk.nd.WriteTo(na, cm, allNodes)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EADDRNOTAVAIL) {
				// The kernel refuses ip as the source: it is not
				// an address of this node, or still tentative.
				l.log.Debug("virtual address refused as NA source, sending from the kernel's choice",
					"iface", ifi.name, "addr", ip, "err", err)
				cm.Src = nil
				err = lk.nd.WriteTo(na, cm, allNodes)
			}
			return err
		},
		func() {
			_ = lk.nd.Close()
			lk.nd = nil
		})
}

// retry opens a socket of lk if needed and sends. When either fails (the
// interface may be gone, down, or deleted and created again with a new
// index and MAC address: errors such as ENXIO, ENODEV or ENETDOWN), it
// drops the socket, looks the interface up again, which reopens the
// sockets of a changed interface, and does both once more. The error wraps
// ErrNoInterface when the interface turns out to be gone.
func (l *Linux) retry(lk *link, kind string, addr netip.Addr, open, send func() error, drop func()) error {
	for attempt := 0; ; attempt++ {
		err := open()
		if err != nil {
			err = fmt.Errorf("open %s socket: %w", kind, err)
		} else if err = send(); err == nil {
			return nil
		} else {
			drop()
		}
		if attempt > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		name := lk.ifi.name
		l.log.Debug("send failed, looking the interface up again", "kind", kind, "iface", name, "index", lk.ifi.index, "addr", addr, "err", err)
		if _, lerr := l.link(name, true); lerr != nil {
			if errors.Is(lerr, ErrNoInterface) {
				return lerr
			}
			return fmt.Errorf("%w; looking the interface up again: %w", err, lerr)
		}
	}
}

// dropAll is a BPF program that accepts no packet: the ARP socket only
// sends, and must not queue what it would receive.
var dropAll = mustAssemble(bpf.RetConstant{Val: 0})

func mustAssemble(insns ...bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic(err)
	}
	return raw
}

// openARP opens a raw packet socket for ARP frames on ifi, in l's
// namespace.
func (l *Linux) openARP(ifi iface) (*packet.Conn, error) {
	var c *packet.Conn
	err := nsthread.Do(l.ns, func() error {
		var err error
		c, err = packet.Listen(&net.Interface{Index: ifi.index, Name: ifi.name, MTU: ifi.mtu, HardwareAddr: ifi.mac},
			packet.Raw, int(ethernet.EtherTypeARP), &packet.Config{Filter: dropAll})
		return err
	})
	if err != nil {
		return nil, err
	}
	l.opened++
	l.log.Debug("opened ARP socket", "iface", ifi.name, "index", ifi.index)
	return c, nil
}

// openNDP opens an ICMPv6 socket for neighbour advertisements on ifi, in
// l's namespace. The socket is bound to the unspecified address, so that
// each packet can name its source, and filters out every ICMPv6 message:
// it only sends.
func (l *Linux) openNDP(ifi iface) (*ndp.Conn, error) {
	var c *ndp.Conn
	err := nsthread.Do(l.ns, func() error {
		// The interface is given by index alone. With a name, ndp would
		// put it in the zone of each destination, which the net package
		// turns into an index through a process-wide cache filled from
		// whatever namespace looked last.
		var err error
		c, _, err = ndp.Listen(&net.Interface{Index: ifi.index, MTU: ifi.mtu, HardwareAddr: ifi.mac}, ndp.Unspecified)
		if err != nil {
			return err
		}
		var f ipv6.ICMPFilter
		f.SetAll(true)
		if err := c.SetICMPFilter(&f); err != nil {
			_ = c.Close()
			return fmt.Errorf("set ICMPv6 filter: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.opened++
	l.log.Debug("opened ICMPv6 socket", "iface", ifi.name, "index", ifi.index)
	return c, nil
}

// close closes the sockets of lk.
func (lk *link) close() error {
	var errs []error
	if lk.arp != nil {
		errs = append(errs, lk.arp.Close())
		lk.arp = nil
	}
	if lk.nd != nil {
		errs = append(errs, lk.nd.Close())
		lk.nd = nil
	}
	return errors.Join(errs...)
}
