//go:build linux

package vip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// ErrNoDevice is returned (wrapped) when the device an address or a VMAC
// goes on does not exist.
var ErrNoDevice = errors.New("no such device")

// ErrVMACConflict is returned (wrapped) when AddVMAC or RemoveVMAC finds,
// under the VMAC's name, an interface that is not that VMAC: not a
// macvlan, a macvlan on another parent, with another MAC or in a mode
// other than bridge.
var ErrVMACConflict = errors.New("interface exists and is not the VMAC")

// ErrInvalidVIP is returned (wrapped) when a VIP cannot be bound as given:
// an invalid prefix, a label that does not start with the device name or
// is longer than 15 bytes, a label on an IPv6 address, or an unknown
// scope.
var ErrInvalidVIP = errors.New("invalid VIP")

// Options configures a Netlink binder.
type Options struct {
	// Namespace is the path of the network namespace to work in, such as
	// /run/netns/blue or /proc/PID/ns/net; empty means the namespace of
	// the calling thread when New is called.
	Namespace string
	// Lease is the kernel lifetime (valid_lft and preferred_lft) given to
	// bound addresses, in whole seconds rounded up; the kernel removes an
	// address by itself when its lifetime runs out, and each Bind starts
	// it again. Zero means permanent addresses.
	Lease time.Duration
	// FilterTable names the nftables table (family inet) of Filter and
	// Unfilter; empty means DefaultFilterTable. Two Netlinks that filter
	// in one network namespace need tables of their own.
	FilterTable string
	// Logger receives debug records of each change; nil discards them.
	Logger *slog.Logger
}

// Netlink binds virtual addresses and manages VMAC interfaces with
// rtnetlink, in one network namespace. It implements vrrpio.Binder,
// vrrpio.LeaseBinder, vrrpio.VMACBinder and, with nftables,
// vrrpio.FilterBinder.
//
// Bind replaces (NLM_F_REPLACE) and Unbind ignores a missing address, so
// both are idempotent. The kernel identifies an address as follows, and so
// does Netlink: an IPv4 address by device, address and prefix length (so
// 198.18.0.100/24 and 198.18.0.100/32 are two addresses), an IPv6 one by
// device and address when adding (binding fd00::1/80 over fd00::1/64
// refreshes the /64) and by device, address and prefix length when
// removing. Replacing an existing IPv4 address refreshes its lifetime but
// keeps its label and scope; Unbind first to change them. IPv6 addresses
// are added with IFA_F_NODAD, usable at once.
//
// A Netlink is safe for concurrent use; its calls are serialized.
type Netlink struct {
	mu     sync.Mutex
	h      *netlink.Handle
	ns     netns.NsHandle // open only when Options.Namespace is set
	lease  time.Duration
	log    *slog.Logger
	closed bool
	// parents records, for each parent interface that has VMACs made by
	// this Netlink, the VMAC names and the ARP sysctls to restore when the
	// last of them is removed.
	parents map[string]*parentConf
	// nft is the nftables connection of Filter and Unfilter, nil (with
	// nftErr) if it could not be opened; filterBuilt reports that this
	// Netlink made its table.
	nft         *nftables.Conn
	nftErr      error
	filterTable string
	filterBuilt bool
}

// parentConf is the saved ARP configuration of a VMAC parent.
type parentConf struct {
	vmacs map[string]bool
	// saved holds the sysctl values that AddVMAC changed and RemoveVMAC
	// restores, by name.
	saved map[string]string
}

var (
	_ vrrpio.Binder       = (*Netlink)(nil)
	_ vrrpio.LeaseBinder  = (*Netlink)(nil)
	_ vrrpio.VMACBinder   = (*Netlink)(nil)
	_ vrrpio.FilterBinder = (*Netlink)(nil)
)

// New opens a netlink handle in the namespace of opts and returns a
// Netlink working there. Close releases it.
func New(opts Options) (*Netlink, error) {
	if opts.Lease < 0 {
		return nil, fmt.Errorf("vip: negative lease %v", opts.Lease)
	}
	n := &Netlink{
		ns:      netns.None(),
		lease:   opts.Lease,
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		parents: make(map[string]*parentConf),
	}
	if opts.Namespace != "" {
		ns, err := netns.GetFromPath(opts.Namespace)
		if err != nil {
			return nil, fmt.Errorf("vip: open network namespace %s: %w", opts.Namespace, err)
		}
		n.ns = ns
	}
	h, err := netlink.NewHandleAt(n.ns, unix.NETLINK_ROUTE)
	if err != nil {
		if n.ns.IsOpen() {
			n.ns.Close()
		}
		return nil, fmt.Errorf("vip: netlink handle in namespace %q: %w", opts.Namespace, err)
	}
	n.h = h
	// The filter's connection is opened now, in the same namespace; a
	// kernel without nftables fails Filter, not New.
	n.filterTable = cmp.Or(opts.FilterTable, DefaultFilterTable)
	nftOpts := []nftables.ConnOption{nftables.AsLasting()}
	if n.ns.IsOpen() {
		nftOpts = append(nftOpts, nftables.WithNetNSFd(int(n.ns)))
	}
	n.nft, n.nftErr = nftables.New(nftOpts...)
	return n, nil
}

// Close deletes the filter table if Filter or Unfilter made it, and
// releases the netlink handles and the namespace. It leaves addresses and
// VMAC interfaces as they are.
func (n *Netlink) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	err := n.closeFilter()
	n.h.Close()
	if n.ns.IsOpen() {
		if cerr := n.ns.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("vip: close network namespace: %w", cerr))
		}
	}
	return err
}

// Lease returns Options.Lease: the lifetime bound addresses get, zero
// for permanent ones.
func (n *Netlink) Lease() time.Duration { return n.lease }

// errClosed is returned by calls on a closed Netlink.
var errClosed = errors.New("vip: Netlink is closed")

// Bind adds vips on iface, or on each VIP's Device when it is set, with
// their prefix length, label, scope and, with a lease, a lifetime that
// this call starts again. It works through every VIP even after a failure
// and returns the failures joined, each naming the address and device;
// a missing device gives an error wrapping ErrNoDevice, an unusable VIP
// one wrapping ErrInvalidVIP. When ctx is done it stops, and ctx.Err()
// is among the errors.
func (n *Netlink) Bind(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return n.each(ctx, "bind", iface, vips, n.bindOne)
}

// Unbind removes vips from iface, or from each VIP's Device when it is
// set. An address that is not there, or whose device does not exist, is
// not an error. As with Bind, failures are joined.
func (n *Netlink) Unbind(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return n.each(ctx, "unbind", iface, vips, n.unbindOne)
}

// each runs do for every VIP with its device's link, looked up once per
// device, and joins the errors; a missing device fails a bind and skips
// an unbind.
func (n *Netlink) each(ctx context.Context, op, iface string, vips []vrrpio.VIP,
	do func(link netlink.Link, dev string, a *netlink.Addr) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	type lookup struct {
		link netlink.Link
		err  error
	}
	links := make(map[string]lookup)
	var errs []error
	for _, v := range vips {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("vip: %s: %w", op, err))
			break
		}
		dev := cmp.Or(v.Device, iface)
		l, ok := links[dev]
		if !ok {
			l.link, l.err = n.linkByName(dev)
			links[dev] = l
		}
		a, err := makeAddr(v, dev)
		switch {
		case err != nil:
		case l.err == nil:
			err = do(l.link, dev, a)
		case op == "unbind" && errors.Is(l.err, ErrNoDevice):
			// The address went with its device.
			n.log.Debug("no device, so no address to remove", "addr", a.IPNet.String(), "dev", dev)
		default:
			err = l.err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: %s %v on %s: %w", op, v.Prefix, dev, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Netlink) bindOne(link netlink.Link, dev string, a *netlink.Addr) error {
	if n.lease > 0 {
		secs := leaseSeconds(n.lease)
		a.ValidLft, a.PreferedLft = secs, secs
	}
	if err := n.h.AddrReplace(link, a); err != nil {
		if errors.Is(err, unix.EINVAL) && a.IP.To4() != nil {
			return n.explainEINVAL(link, a, err)
		}
		return err
	}
	n.log.Debug("bound address", "addr", a.IPNet.String(), "dev", dev, "label", a.Label,
		"scope", a.Scope, "lease", n.lease)
	return nil
}

// leaseSeconds returns d in whole seconds, rounded up, for valid_lft and
// preferred_lft: at least 1 and less than 0xffffffff, which means forever.
func leaseSeconds(d time.Duration) int {
	secs := d / time.Second
	if d%time.Second != 0 {
		secs++
	}
	return int(max(1, min(secs, math.MaxUint32-1)))
}

// explainEINVAL annotates the kernel's EINVAL for an IPv4 address whose
// scope differs from that of another address of its subnet on the device,
// which the kernel refuses ("ipv4: Invalid scope value", an extended
// acknowledgement that the handle does not ask for).
func (n *Netlink) explainEINVAL(link netlink.Link, a *netlink.Addr, err error) error {
	addrs, lerr := n.h.AddrList(link, netlink.FAMILY_V4)
	if lerr != nil {
		return err
	}
	for _, o := range addrs {
		if o.Mask.String() == a.Mask.String() && o.Contains(a.IP) && o.Scope != a.Scope {
			return fmt.Errorf("%w (the kernel wants the scope %s of %v, in the same subnet)",
				err, scopeName(uint8(o.Scope)), o.IPNet)
		}
	}
	return err
}

func (n *Netlink) unbindOne(link netlink.Link, dev string, a *netlink.Addr) error {
	// The kernel matches a label when one is given; any will do here.
	a.Label = ""
	err := n.h.AddrDel(link, a)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		n.log.Debug("address already absent", "addr", a.IPNet.String(), "dev", dev)
		return nil
	}
	if err != nil {
		return err
	}
	n.log.Debug("unbound address", "addr", a.IPNet.String(), "dev", dev)
	return nil
}

// linkByName looks up dev, wrapping ErrNoDevice when it does not exist.
func (n *Netlink) linkByName(dev string) (netlink.Link, error) {
	if dev == "" {
		return nil, fmt.Errorf("%w: empty device name", ErrNoDevice)
	}
	link, err := n.h.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("device %s: %w: %w", dev, ErrNoDevice, err)
		}
		return nil, fmt.Errorf("device %s: %w", dev, err)
	}
	return link, nil
}

// makeAddr validates v and returns its netlink form for device dev.
func makeAddr(v vrrpio.VIP, dev string) (*netlink.Addr, error) {
	p := v.Prefix
	if !p.IsValid() {
		return nil, fmt.Errorf("%w: invalid prefix", ErrInvalidVIP)
	}
	addr, bits := p.Addr(), p.Bits()
	if addr.Is4In6() {
		if bits < 96 {
			return nil, fmt.Errorf("%w: IPv4-mapped prefix shorter than /96", ErrInvalidVIP)
		}
		addr, bits = addr.Unmap(), bits-96
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(bits, addr.BitLen())}}
	if addr.Is4() {
		if v.Label != "" {
			if err := checkLabel(v.Label, dev); err != nil {
				return nil, err
			}
			a.Label = v.Label
		}
		scope, err := parseScope(v.Scope)
		if err != nil {
			return nil, err
		}
		a.Scope = int(scope)
		// netlink fills in the last address of the subnet when given no
		// broadcast; 0.0.0.0 is the kernel's "none", ip(8)'s default.
		a.Broadcast = net.IPv4zero.To4()
		if b := v.Broadcast; b.IsValid() {
			if !b.Is4() {
				return nil, fmt.Errorf("%w: broadcast %v is not an IPv4 address", ErrInvalidVIP, b)
			}
			a.Broadcast = b.AsSlice()
		}
		return a, nil
	}
	if v.Broadcast.IsValid() {
		return nil, fmt.Errorf("%w: broadcast %v: IPv6 addresses have no broadcast", ErrInvalidVIP, v.Broadcast)
	}
	if v.Label != "" {
		return nil, fmt.Errorf("%w: label %q: IPv6 addresses have no labels", ErrInvalidVIP, v.Label)
	}
	if v.Scope != "" {
		// The kernel derives the scope of an IPv6 address from the
		// address; a configured scope can only agree with it.
		scope, err := parseScope(v.Scope)
		if err != nil {
			return nil, err
		}
		if want := scope6(addr); scope != want {
			return nil, fmt.Errorf("%w: scope %q: the kernel gives %v the scope %s", ErrInvalidVIP,
				v.Scope, addr, scopeName(want))
		}
	}
	a.Flags = unix.IFA_F_NODAD
	return a, nil
}

// checkLabel enforces the rules of ip(8) and keepalived for IPv4 labels:
// the label starts with the device name and fits IFNAMSIZ.
func checkLabel(label, dev string) error {
	if !strings.HasPrefix(label, dev) {
		return fmt.Errorf("%w: label %q does not start with the device name %q", ErrInvalidVIP, label, dev)
	}
	if len(label) >= unix.IFNAMSIZ {
		return fmt.Errorf("%w: label %q is longer than %d bytes", ErrInvalidVIP, label, unix.IFNAMSIZ-1)
	}
	return nil
}

// Address scopes by name, as ip(8) names them.
var scopes = []struct {
	name  string
	scope uint8
}{
	{"global", unix.RT_SCOPE_UNIVERSE},
	{"site", unix.RT_SCOPE_SITE},
	{"link", unix.RT_SCOPE_LINK},
	{"host", unix.RT_SCOPE_HOST},
	{"nowhere", unix.RT_SCOPE_NOWHERE},
}

// parseScope returns the rtnetlink scope named s: "global" (or empty),
// "site", "link", "host", "nowhere", or a number from 0 to 255. An
// unknown name gives an error wrapping ErrInvalidVIP.
func parseScope(s string) (uint8, error) {
	if s == "" {
		return unix.RT_SCOPE_UNIVERSE, nil
	}
	for _, sc := range scopes {
		if s == sc.name {
			return sc.scope, nil
		}
	}
	if v, err := strconv.ParseUint(s, 0, 8); err == nil {
		return uint8(v), nil
	}
	return 0, fmt.Errorf("%w: unknown scope %q (want global, site, link, host, nowhere or 0-255)", ErrInvalidVIP, s)
}

func scopeName(scope uint8) string {
	for _, sc := range scopes {
		if scope == sc.scope {
			return sc.name
		}
	}
	return strconv.Itoa(int(scope))
}

// scope6 is the scope the kernel gives an IPv6 address (ipv6_addr_scope).
func scope6(a netip.Addr) uint8 {
	switch {
	case a.IsLoopback():
		return unix.RT_SCOPE_HOST
	case a.IsLinkLocalUnicast():
		return unix.RT_SCOPE_LINK
	case a.As16()[0] == 0xfe && a.As16()[1]&0xc0 == 0xc0: // fec0::/10
		return unix.RT_SCOPE_SITE
	}
	return unix.RT_SCOPE_UNIVERSE
}

// VMACAddr returns the VRRP virtual router MAC of vrid and family:
// 00:00:5e:00:01:VRID for IPv4 and 00:00:5e:00:02:VRID for IPv6
// (RFC 5798 section 7.3).
func VMACAddr(vrid uint8, family vrrpio.Family) net.HardwareAddr {
	b := byte(1)
	if family == vrrpio.IPv6 {
		b = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, b, vrid}
}

// isVMACAddr reports whether mac is a VRRP virtual router MAC.
func isVMACAddr(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 &&
		(mac[4] == 1 || mac[4] == 2)
}

// Sysctls keepalived sets on a VMAC (vrrp_if_config.c): the VMAC does not
// answer ARP for the parent's addresses (arp_ignore), hears adverts it
// sent itself through the parent (accept_local), receives with no address
// of its own (rp_filter), and promotes secondaries.
var vmacSysctls = []struct{ name, value string }{
	{"arp_ignore", "1"},
	{"accept_local", "1"},
	{"rp_filter", "0"},
	{"promote_secondaries", "1"},
}

// Sysctls keepalived sets on the parent of a VMAC, and restores when the
// last VMAC goes: the parent answers ARP neither for the VIPs, which are on
// the VMAC, nor for its own addresses on behalf of other interfaces.
var parentSysctls = []struct{ name, value string }{
	{"arp_ignore", "1"},
	{"arp_filter", "1"},
}

// AddVMAC creates the macvlan interface name in bridge mode on parent,
// with the virtual router MAC of vrid and family (see VMACAddr) and IPv6
// address generation mode random, so that routers sharing the VMAC get
// different link-local addresses; it sets the IPv4 sysctls keepalived sets
// on a VMAC and its parent, and sets the VMAC up.
//
// An existing macvlan of that name on parent with that MAC in bridge mode
// is adopted, so AddVMAC is idempotent. Anything else of that name gives
// an error wrapping ErrVMACConflict; a missing parent one wrapping
// ErrNoDevice. An interface AddVMAC created is deleted again if a later
// step fails.
func (n *Netlink) AddVMAC(ctx context.Context, parent, name string, vrid uint8, family vrrpio.Family) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vip: add VMAC %s: %w", name, err)
	}
	if name == "" || len(name) >= unix.IFNAMSIZ || strings.ContainsAny(name, "/: \t\n") || name == "." || name == ".." {
		return fmt.Errorf("vip: add VMAC: invalid interface name %q", name)
	}
	if vrid == 0 {
		return fmt.Errorf("vip: add VMAC %s: VRID 0 is invalid", name)
	}
	mac := VMACAddr(vrid, family)
	pl, err := n.linkByName(parent)
	if err != nil {
		return fmt.Errorf("vip: add VMAC %s: parent: %w", name, err)
	}
	created := false
	link, err := n.linkByName(name)
	switch {
	case errors.Is(err, ErrNoDevice):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: pl.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_BRIDGE,
		}
		if err := n.h.LinkAdd(mv); err != nil {
			return fmt.Errorf("vip: add VMAC %s (%s) on %s: %w", name, mac, parent, err)
		}
		created = true
		if link, err = n.h.LinkByName(name); err != nil {
			return n.undoVMAC(name, mv, fmt.Errorf("vip: add VMAC %s: look up after creation: %w", name, err))
		}
		n.log.Debug("created VMAC", "vmac", name, "parent", parent, "mac", mac.String())
	case err != nil:
		return fmt.Errorf("vip: add VMAC %s: %w", name, err)
	default:
		if err := checkVMAC(link, pl, mac); err != nil {
			return fmt.Errorf("vip: add VMAC %s on %s: %w", name, parent, err)
		}
		n.log.Debug("adopted VMAC", "vmac", name, "parent", parent, "mac", mac.String())
	}
	fail := func(err error) error {
		if created {
			return n.undoVMAC(name, link, err)
		}
		return err
	}
	if err := n.h.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_RANDOM); err != nil {
		// Without IPv6 in the kernel, an IPv4 VMAC does not need it.
		if family == vrrpio.IPv6 || !errors.Is(err, unix.EAFNOSUPPORT) {
			return fail(fmt.Errorf("vip: add VMAC %s: set addrgenmode random: %w", name, err))
		}
	}
	if err := n.setVMACSysctls(name, parent); err != nil {
		return fail(fmt.Errorf("vip: add VMAC %s: %w", name, err))
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return fail(fmt.Errorf("vip: add VMAC %s: set up: %w", name, err))
	}
	return nil
}

// checkVMAC reports whether link is the VMAC of parent with mac, with an
// error wrapping ErrVMACConflict if not.
func checkVMAC(link, parent netlink.Link, mac net.HardwareAddr) error {
	mv, ok := link.(*netlink.Macvlan)
	if !ok {
		return fmt.Errorf("%w: it is a %s, not a macvlan", ErrVMACConflict, link.Type())
	}
	a := mv.Attrs()
	if a.ParentIndex != parent.Attrs().Index {
		return fmt.Errorf("%w: its parent has index %d, not %d", ErrVMACConflict, a.ParentIndex, parent.Attrs().Index)
	}
	if a.HardwareAddr.String() != mac.String() {
		return fmt.Errorf("%w: its MAC is %s, not %s", ErrVMACConflict, a.HardwareAddr, mac)
	}
	if mv.Mode != netlink.MACVLAN_MODE_BRIDGE {
		return fmt.Errorf("%w: its macvlan mode is %d, not bridge", ErrVMACConflict, mv.Mode)
	}
	return nil
}

// undoVMAC deletes a VMAC that AddVMAC created before failing with err.
func (n *Netlink) undoVMAC(name string, link netlink.Link, err error) error {
	if derr := n.h.LinkDel(link); derr != nil {
		return errors.Join(err, fmt.Errorf("vip: delete VMAC %s after failure: %w", name, derr))
	}
	if ferr := n.forget(name); ferr != nil {
		return errors.Join(err, fmt.Errorf("vip: restore the parent of VMAC %s: %w", name, ferr))
	}
	return err
}

// setVMACSysctls applies vmacSysctls to name and parentSysctls to
// parent, saving the parent's values the first time.
func (n *Netlink) setVMACSysctls(name, parent string) error {
	return nsthread.Do(n.ns, func() error {
		for _, s := range vmacSysctls {
			if err := writeSysctl(name, s.name, s.value); err != nil {
				return err
			}
		}
		pc := n.parents[parent]
		if pc == nil {
			pc = &parentConf{vmacs: make(map[string]bool), saved: make(map[string]string)}
			for _, s := range parentSysctls {
				old, err := readSysctl(parent, s.name)
				if err != nil {
					return err
				}
				if old == s.value {
					continue
				}
				if err := writeSysctl(parent, s.name, s.value); err != nil {
					return err
				}
				pc.saved[s.name] = old
			}
			n.parents[parent] = pc
		}
		pc.vmacs[name] = true
		return nil
	})
}

// forget drops name from the VMACs of its parent and, when it was the
// last, restores the parent's sysctls.
func (n *Netlink) forget(name string) error {
	for parent, pc := range n.parents {
		if !pc.vmacs[name] {
			continue
		}
		delete(pc.vmacs, name)
		if len(pc.vmacs) > 0 {
			return nil
		}
		delete(n.parents, parent)
		return nsthread.Do(n.ns, func() error {
			var errs []error
			for _, s := range parentSysctls {
				if old, ok := pc.saved[s.name]; ok {
					if err := writeSysctl(parent, s.name, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
						errs = append(errs, err)
					}
				}
			}
			return errors.Join(errs...)
		})
	}
	return nil
}

// RemoveVMAC deletes the VMAC interface name if it exists. It refuses,
// with an error wrapping ErrVMACConflict, to delete an interface that is
// not a macvlan with a VRRP virtual router MAC. When the last VMAC this
// Netlink made on a parent goes, the parent's ARP sysctls are restored.
func (n *Netlink) RemoveVMAC(ctx context.Context, name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vip: remove VMAC %s: %w", name, err)
	}
	link, err := n.linkByName(name)
	if errors.Is(err, ErrNoDevice) {
		if ferr := n.forget(name); ferr != nil {
			return fmt.Errorf("vip: remove VMAC %s: restore parent: %w", name, ferr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("vip: remove VMAC %s: %w", name, err)
	}
	if _, ok := link.(*netlink.Macvlan); !ok || !isVMACAddr(link.Attrs().HardwareAddr) {
		return fmt.Errorf("vip: remove VMAC %s: %w: it is a %s with MAC %s", name, ErrVMACConflict,
			link.Type(), link.Attrs().HardwareAddr)
	}
	if err := n.h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("vip: remove VMAC %s: %w", name, err)
	}
	n.log.Debug("removed VMAC", "vmac", name)
	if err := n.forget(name); err != nil {
		return fmt.Errorf("vip: remove VMAC %s: restore parent: %w", name, err)
	}
	return nil
}

func sysctlPath(dev, name string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", dev, name)
}

func writeSysctl(dev, name, value string) error {
	if err := os.WriteFile(sysctlPath(dev, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s to %s: %w", sysctlPath(dev, name), value, err)
	}
	return nil
}

func readSysctl(dev, name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(dev, name))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", sysctlPath(dev, name), err)
	}
	return strings.TrimSpace(string(b)), nil
}
