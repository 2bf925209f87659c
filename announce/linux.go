//go:build linux

package announce

import (
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

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// allNodes is the destination of unsolicited neighbour advertisements.
var allNodes = netip.MustParseAddr("ff02::1")

// Linux sends gratuitous ARP and unsolicited neighbour advertisements on
// Linux interfaces, in one network namespace. It implements vrrp.Announcer.
//
// Sockets are opened on first use, one packet socket (ARP) and one ICMPv6
// socket (NA) per interface, and reused by later calls. A socket is
// reopened when its interface was deleted and created again (its index
// changed), and once after any send error, so an interface that went away
// or down and came back works again. Opening sockets needs CAP_NET_RAW, and
// CAP_SYS_ADMIN when Options.Namespace is set.
//
// A Linux is safe for concurrent use; its calls are serialized.
type Linux struct {
	routerFlag bool
	log        *slog.Logger
	nsPath     string
	ns         netns.NsHandle  // open only when Options.Namespace is set
	nl         *netlink.Handle // nil: netlink's package functions, in the calling thread's namespace

	mu     sync.Mutex
	closed bool
	links  map[string]*link
	opened int // sockets opened so far, for tests
}

// link holds the cached sockets of one interface.
type link struct {
	index int // the interface index the sockets were opened for
	arp   *packet.Conn
	nd    *ndp.Conn
}

// iface is what one Announce call needs to know of its interface.
type iface struct {
	name  string
	index int
	mtu   int
	mac   net.HardwareAddr
}

var _ vrrp.Announcer = (*Linux)(nil)

// New returns a Linux announcer working in the namespace of opts. It opens
// the namespace and a netlink handle there; Close releases them.
func New(opts Options) (*Linux, error) {
	l := &Linux{
		routerFlag: opts.RouterFlag,
		log:        cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		nsPath:     opts.Namespace,
		ns:         netns.None(),
		links:      make(map[string]*link),
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
	ifi, err := l.lookup(ifaceName)
	if err != nil {
		if lk := l.links[ifaceName]; lk != nil && errors.Is(err, ErrNoInterface) {
			// The interface is gone: close its sockets.
			if cerr := lk.close(); cerr != nil {
				l.log.Debug("close sockets of a deleted interface", "iface", ifaceName, "err", cerr)
			}
			delete(l.links, ifaceName)
		}
		return err
	}
	lk := l.links[ifaceName]
	if lk != nil && lk.index != ifi.index {
		l.log.Debug("interface index changed, reopening sockets", "iface", ifaceName, "old", lk.index, "new", ifi.index)
		if err := lk.close(); err != nil {
			l.log.Debug("close stale sockets", "iface", ifaceName, "err", err)
		}
		lk = nil
	}
	if lk == nil {
		lk = &link{index: ifi.index}
		l.links[ifaceName] = lk
	}
	deadline, _ := ctx.Deadline()
	var errs []error
	for _, addr := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("announce: on %s: %w", ifaceName, err))
			break
		}
		switch {
		case !addr.IsValid():
			errs = append(errs, fmt.Errorf("announce: on %s: invalid address", ifaceName))
		case vrrp.FamilyOf(addr) == vrrp.IPv4:
			if err := l.sendARP(lk, ifi, addr.Unmap(), deadline); err != nil {
				errs = append(errs, fmt.Errorf("announce: gratuitous ARP for %s on %s: %w", addr.Unmap(), ifaceName, err))
			}
		default:
			addr = addr.WithZone("")
			if err := l.sendNA(lk, ifi, addr, deadline); err != nil {
				errs = append(errs, fmt.Errorf("announce: neighbour advertisement for %s on %s: %w", addr, ifaceName, err))
			}
		}
	}
	return errors.Join(errs...)
}

// lookup returns the index, MTU and MAC address of the interface name.
func (l *Linux) lookup(name string) (iface, error) {
	if name == "" {
		return iface{}, fmt.Errorf("announce: empty interface name: %w", ErrNoInterface)
	}
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
// lk when needed and reopening it once after a send error.
func (l *Linux) sendARP(lk *link, ifi iface, ip netip.Addr, deadline time.Time) error {
	p, err := arp.NewPacket(arp.OperationRequest, ifi.mac, ip, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	f := &ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      ifi.mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	fb, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	return retry(l, "ARP", ifi, ip,
		func() error {
			if lk.arp != nil {
				return nil
			}
			c, err := l.openARP(ifi)
			lk.arp = c
			return err
		},
		func() error {
			if err := lk.arp.SetWriteDeadline(deadline); err != nil {
				return err
			}
			_, err := lk.arp.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
			return err
		},
		func() {
			_ = lk.arp.Close()
			lk.arp = nil
		})
}

// sendNA sends an unsolicited neighbour advertisement for ip, opening the
// ICMPv6 socket of lk when needed and reopening it once after a send error.
func (l *Linux) sendNA(lk *link, ifi iface, ip netip.Addr, deadline time.Time) error {
	na := &ndp.NeighborAdvertisement{
		Router:        l.routerFlag,
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{
			&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.mac},
		},
	}
	return retry(l, "ICMPv6", ifi, ip,
		func() error {
			if lk.nd != nil {
				return nil
			}
			c, err := l.openNDP(ifi)
			lk.nd = c
			return err
		},
		func() error {
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

// retry opens a socket if needed and sends; after a send error it closes
// the socket and does both once more.
func retry(l *Linux, kind string, ifi iface, addr netip.Addr, open, send func() error, drop func()) error {
	for attempt := 0; ; attempt++ {
		if err := open(); err != nil {
			return fmt.Errorf("open %s socket: %w", kind, err)
		}
		err := send()
		if err == nil {
			return nil
		}
		drop()
		if attempt > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		l.log.Debug("send failed, reopening socket", "kind", kind, "iface", ifi.name, "addr", addr, "err", err)
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
