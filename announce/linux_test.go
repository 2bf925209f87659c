//go:build linux

package announce

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

var (
	vip4      = netip.MustParseAddr("198.18.0.100")
	vip6      = netip.MustParseAddr("fd00::100")
	vmac      = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}
	broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesM = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
	staleMAC  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}
)

// settle is how long a test waits to be sure that no further frame comes.
const settle = 300 * time.Millisecond

// testLogger returns a logger that writes debug records to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// newLinux returns an announcer working in h's namespace, closed at the
// end of the test.
func newLinux(t *testing.T, h *netns.Host, opts Options) *Linux {
	t.Helper()
	opts.Namespace = h.Path()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// announce calls l.Announce with a 5 s timeout and fails the test on error.
func announce(t *testing.T, l *Linux, iface string, addrs ...netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Announce(ctx, iface, addrs); err != nil {
		t.Fatalf("Announce(%s, %v): %v", iface, addrs, err)
	}
}

// addAddr adds prefix to dev in h (IPv6 without duplicate address
// detection, as vip.Netlink does).
func addAddr(t *testing.T, h *netns.Host, dev, prefix string) {
	t.Helper()
	args := []string{"addr", "add", prefix, "dev", dev}
	if strings.Contains(prefix, ":") {
		args = append([]string{"-6"}, append(args, "nodad")...)
	}
	h.Run(t, "ip", args...)
}

// garps returns the gratuitous ARPs for ip among frames.
func garps(frames []netns.Frame, ip netip.Addr) []netns.ARPFrame {
	var out []netns.ARPFrame
	for _, f := range frames {
		if a, ok := f.ARP(); ok && a.Gratuitous() && a.SenderIP == ip {
			out = append(out, a)
		}
	}
	return out
}

// nas returns the neighbour advertisements for target among frames.
func nas(frames []netns.Frame, target netip.Addr) []netns.NAFrame {
	var out []netns.NAFrame
	for _, f := range frames {
		if n, ok := f.NA(); ok && n.Target == target {
			out = append(out, n)
		}
	}
	return out
}

// waitCounts waits until c holds want GARPs for each IPv4 address and want
// NAs for each IPv6 address of addrs, then checks that no more come.
func waitCounts(t *testing.T, c *netns.Capture, want int, addrs ...netip.Addr) {
	t.Helper()
	count := func(a netip.Addr) int {
		if a.Is4() {
			return len(garps(c.Frames(), a))
		}
		return len(nas(c.Frames(), a))
	}
	for _, a := range addrs {
		netns.WaitFor(t, 5*time.Second, fmt.Sprintf("%d announcements of %s", want, a), func() bool {
			return count(a) >= want
		})
	}
	time.Sleep(settle)
	for _, a := range addrs {
		if n := count(a); n != want {
			t.Errorf("%d announcements of %s, want exactly %d", n, a, want)
		}
	}
}

// checkGARP checks a gratuitous ARP for ip sent from mac, as keepalived
// 2.2.7 sends it.
func checkGARP(t *testing.T, a netns.ARPFrame, ip netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	if !bytes.Equal(a.EthDst, broadcast) || !bytes.Equal(a.EthSrc, mac) {
		t.Errorf("GARP for %s: Ethernet %s > %s, want %s > %s", ip, a.EthSrc, a.EthDst, mac, broadcast)
	}
	if a.Op != arp.OperationRequest {
		t.Errorf("GARP for %s: operation %v, want request", ip, a.Op)
	}
	if !bytes.Equal(a.SenderMAC, mac) || a.SenderIP != ip || a.TargetIP != ip || !bytes.Equal(a.TargetMAC, broadcast) {
		t.Errorf("GARP for %s: sender %s %s, target %s %s; want sender %s %s, target %s %s",
			ip, a.SenderMAC, a.SenderIP, a.TargetMAC, a.TargetIP, mac, ip, broadcast, ip)
	}
}

// checkNA checks an unsolicited neighbour advertisement for target sent
// from mac and src.
func checkNA(t *testing.T, n netns.NAFrame, target, src netip.Addr, mac net.HardwareAddr, router bool) {
	t.Helper()
	if !bytes.Equal(n.EthDst, allNodesM) || !bytes.Equal(n.EthSrc, mac) {
		t.Errorf("NA for %s: Ethernet %s > %s, want %s > %s", target, n.EthSrc, n.EthDst, mac, allNodesM)
	}
	if n.Src != src || n.Dst != netip.MustParseAddr("ff02::1") {
		t.Errorf("NA for %s: IPv6 %s > %s, want %s > ff02::1", target, n.Src, n.Dst, src)
	}
	if n.TTL != 255 {
		t.Errorf("NA for %s: hop limit %d, want 255", target, n.TTL)
	}
	if !n.Override || n.Solicited || n.Router != router {
		t.Errorf("NA for %s: flags O=%v S=%v R=%v, want O=true S=false R=%v", target, n.Override, n.Solicited, n.Router, router)
	}
	if !bytes.Equal(n.TargetMAC, mac) {
		t.Errorf("NA for %s: target link-layer address %s, want %s", target, n.TargetMAC, mac)
	}
	if !icmp6ChecksumOK(n.Src, n.Dst, n.Payload) {
		t.Errorf("NA for %s: bad ICMPv6 checksum", target)
	}
}

// icmp6ChecksumOK verifies the ICMPv6 checksum of msg with the IPv6
// pseudo-header (RFC 8200 section 8.1).
func icmp6ChecksumOK(src, dst netip.Addr, msg []byte) bool {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[:4], uint32(len(msg)))
	tail[7] = 58
	add(tail[:])
	add(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

// neighbour is an entry of "ip -j neigh".
type neighbour struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
	// router is set when the entry has the router flag, which ip prints
	// as a "router" key with a null value.
	router bool
}

// neigh returns h's neighbour entry for ip on eth0, if any.
func neigh(t *testing.T, h *netns.Host, ip netip.Addr) (neighbour, bool) {
	t.Helper()
	out := h.Run(t, "ip", "-j", "neigh", "show", "to", ip.String(), "dev", "eth0")
	var ns []neighbour
	var raw []map[string]any
	if err := errors.Join(json.Unmarshal([]byte(out), &ns), json.Unmarshal([]byte(out), &raw)); err != nil {
		t.Fatalf("ip -j neigh: %v\n%s", err, out)
	}
	for i, n := range ns {
		if n.Dst == ip.String() {
			_, n.router = raw[i]["router"]
			return n, true
		}
	}
	return neighbour{}, false
}

// waitNeigh waits for h's entry for ip to have mac.
func waitNeigh(t *testing.T, h *netns.Host, ip netip.Addr, mac net.HardwareAddr) neighbour {
	t.Helper()
	var n neighbour
	netns.WaitFor(t, 5*time.Second, fmt.Sprintf("host %d's neighbour entry for %s with %s", h.Index, ip, mac), func() bool {
		var ok bool
		n, ok = neigh(t, h, ip)
		return ok && n.LLAddr == mac.String()
	})
	return n
}

// addMacvlan creates the macvlan name on eth0 in h with mac, in bridge
// mode, and sets it up.
func addMacvlan(t *testing.T, h *netns.Host, name string, mac net.HardwareAddr) {
	t.Helper()
	err := withNetlink(h, func(nh *netlink.Handle) error {
		parent, err := nh.LinkByName(h.Iface)
		if err != nil {
			return err
		}
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_BRIDGE,
		}
		if err := nh.LinkAdd(mv); err != nil {
			return fmt.Errorf("add macvlan %s: %w", name, err)
		}
		return nh.LinkSetUp(mv)
	})
	if err != nil {
		t.Fatalf("host %d: %v", h.Index, err)
	}
}

// delLink deletes the interface name in h.
func delLink(t *testing.T, h *netns.Host, name string) {
	t.Helper()
	err := withNetlink(h, func(nh *netlink.Handle) error {
		lnk, err := nh.LinkByName(name)
		if err != nil {
			return err
		}
		return nh.LinkDel(lnk)
	})
	if err != nil {
		t.Fatalf("host %d: delete %s: %v", h.Index, name, err)
	}
}

// withNetlink calls fn with a netlink handle in h's namespace.
func withNetlink(h *netns.Host, fn func(*netlink.Handle) error) error {
	ns, err := vnetns.GetFromPath(h.Path())
	if err != nil {
		return err
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer nh.Close()
	return fn(nh)
}

// TestWire checks each frame of two rounds field by field, as a neighbour
// receives them.
func TestWire(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")

	announce(t, l, "eth0", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	announce(t, l, "eth0", vip4, vip6)
	waitCounts(t, c, 2, vip4, vip6)

	for _, a := range garps(c.Frames(), vip4) {
		checkGARP(t, a, vip4, h1.MAC)
	}
	for _, n := range nas(c.Frames(), vip6) {
		checkNA(t, n, vip6, vip6, h1.MAC, false)
	}
}

// TestRouterFlag checks that Options.RouterFlag sets R in NAs, that a
// Linux neighbour marks its entry as a router from it, and that an NA
// without the flag (the default) takes the mark away again.
func TestRouterFlag(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "fd00::100/64")
	h2.Run(t, "ip", "neigh", "replace", vip6.String(), "lladdr", staleMAC.String(), "dev", "eth0", "nud", "stale")
	c := h2.Capture(t, "eth0")

	announce(t, newLinux(t, h1, Options{RouterFlag: true}), "eth0", vip6)
	waitCounts(t, c, 1, vip6)
	checkNA(t, nas(c.Frames(), vip6)[0], vip6, vip6, h1.MAC, true)
	if n := waitNeigh(t, h2, vip6, h1.MAC); !n.router {
		t.Errorf("after an NA with R: host 2's entry %+v is not a router", n)
	}

	announce(t, newLinux(t, h1, Options{}), "eth0", vip6)
	waitCounts(t, c, 2, vip6)
	checkNA(t, nas(c.Frames(), vip6)[1], vip6, vip6, h1.MAC, false)
	if n := waitNeigh(t, h2, vip6, h1.MAC); n.router {
		t.Errorf("after an NA without R: host 2's entry %+v is still a router", n)
	}
}

// TestSourceFallback checks that an NA for an address the kernel refuses
// as source (not an address of the host) goes out from the interface's
// link-local address.
func TestSourceFallback(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")
	unbound := netip.MustParseAddr("fd00::200")

	announce(t, l, "eth0", unbound)
	waitCounts(t, c, 1, unbound)
	checkNA(t, nas(c.Frames(), unbound)[0], unbound, h1.LinkLocal, h1.MAC, false)
}

// TestFailover moves the virtual addresses from host 3 to host 1 and checks
// that host 2, which talked to host 3, learns host 1's MAC from one round.
// Linux updates an existing entry from a gratuitous ARP or an unsolicited
// NA with the Override flag, whatever its sysctls.
func TestFailover(t *testing.T) {
	lab := netns.New(t, 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	addAddr(t, h3, "eth0", "198.18.0.100/24")
	addAddr(t, h3, "eth0", "fd00::100/64")
	h2.Run(t, "ping", "-c", "1", "-W", "2", vip4.String())
	h2.Run(t, "ping", "-6", "-c", "1", "-W", "2", vip6.String())
	for _, ip := range []netip.Addr{vip4, vip6} {
		if n := waitNeigh(t, h2, ip, h3.MAC); !strings.Contains(strings.Join(n.State, ","), "REACHABLE") {
			t.Logf("host 2's entry for %s before the failover: %+v", ip, n)
		}
	}

	h3.Run(t, "ip", "addr", "del", "198.18.0.100/24", "dev", "eth0")
	h3.Run(t, "ip", "-6", "addr", "del", "fd00::100/64", "dev", "eth0")
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	l := newLinux(t, h1, Options{})
	announce(t, l, "eth0", vip4, vip6)
	for _, ip := range []netip.Addr{vip4, vip6} {
		n := waitNeigh(t, h2, ip, h1.MAC)
		t.Logf("host 2's entry for %s after the announcement: %+v", ip, n)
	}
}

// TestUpdateStaleEntry checks that an existing entry with another MAC,
// as "ip neigh replace ... nud stale" makes it, is updated.
func TestUpdateStaleEntry(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	for _, ip := range []netip.Addr{vip4, vip6} {
		h2.Run(t, "ip", "neigh", "replace", ip.String(), "lladdr", staleMAC.String(), "dev", "eth0", "nud", "stale")
	}
	l := newLinux(t, h1, Options{})
	announce(t, l, "eth0", vip4, vip6)
	for _, ip := range []netip.Addr{vip4, vip6} {
		n := waitNeigh(t, h2, ip, h1.MAC)
		if len(n.State) != 1 || n.State[0] != "STALE" {
			t.Errorf("host 2's entry for %s: state %v, want STALE", ip, n.State)
		}
	}
}

// TestNoEntryCreated checks what Linux does with announcements for an
// address it has no entry for: with the default sysctls it creates none;
// with arp_accept=1 a gratuitous ARP creates one, and on a forwarding
// interface with accept_untracked_na=1 an unsolicited NA creates one.
func TestNoEntryCreated(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")

	announce(t, l, "eth0", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	for _, ip := range []netip.Addr{vip4, vip6} {
		if n, ok := neigh(t, h2, ip); ok {
			t.Errorf("default sysctls: host 2 has an entry for %s: %+v", ip, n)
		}
	}

	h2.Run(t, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1")
	h2.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1")
	h2.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_untracked_na=1")
	announce(t, l, "eth0", vip4, vip6)
	for _, ip := range []netip.Addr{vip4, vip6} {
		n := waitNeigh(t, h2, ip, h1.MAC)
		t.Logf("host 2's entry for %s with arp_accept / accept_untracked_na: %+v", ip, n)
	}
}

// TestVMAC announces on a macvlan with the virtual router MAC: the frames
// carry that MAC, not the parent's.
func TestVMAC(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addMacvlan(t, h1, "vrrp.51", vmac)
	addAddr(t, h1, "vrrp.51", "198.18.0.100/24")
	addAddr(t, h1, "vrrp.51", "fd00::100/64")
	h2.Run(t, "ip", "neigh", "replace", vip4.String(), "lladdr", h1.MAC.String(), "dev", "eth0", "nud", "stale")
	h2.Run(t, "ip", "neigh", "replace", vip6.String(), "lladdr", h1.MAC.String(), "dev", "eth0", "nud", "stale")
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")

	announce(t, l, "vrrp.51", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	checkGARP(t, garps(c.Frames(), vip4)[0], vip4, vmac)
	checkNA(t, nas(c.Frames(), vip6)[0], vip6, vip6, vmac, false)
	waitNeigh(t, h2, vip4, vmac)
	waitNeigh(t, h2, vip6, vmac)
}

// TestReuse checks that repeated calls reuse the sockets, and that an
// interface deleted and created again, or taken down and up, works again.
func TestReuse(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addMacvlan(t, h1, "vrrp.51", vmac)
	addAddr(t, h1, "vrrp.51", "198.18.0.100/24")
	addAddr(t, h1, "vrrp.51", "fd00::100/64")
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")

	announce(t, l, "vrrp.51", vip4, vip6)
	lk := l.links["vrrp.51"]
	arpConn, ndConn := lk.arp, lk.nd
	if l.opened != 2 || arpConn == nil || ndConn == nil {
		t.Fatalf("after one call: %d sockets opened (ARP %p, ICMPv6 %p), want 2", l.opened, arpConn, ndConn)
	}
	for range 3 {
		announce(t, l, "vrrp.51", vip4, vip6)
	}
	waitCounts(t, c, 4, vip4, vip6)
	if lk := l.links["vrrp.51"]; l.opened != 2 || lk.arp != arpConn || lk.nd != ndConn {
		t.Errorf("after four calls: %d sockets opened, want the first 2 reused", l.opened)
	}

	// A send error (here: sockets closed behind the announcer's back)
	// drops the socket and sends again on a new one.
	lk.arp.Close()
	lk.nd.Close()
	c.Clear()
	announce(t, l, "vrrp.51", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	if lk := l.links["vrrp.51"]; l.opened != 4 || lk.arp == arpConn || lk.nd == ndConn {
		t.Errorf("after send errors: %d sockets opened, want 4", l.opened)
	}

	// Deleted and created again: a new index.
	delLink(t, h1, "vrrp.51")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Announce(ctx, "vrrp.51", []netip.Addr{vip4}); !errors.Is(err, ErrNoInterface) {
		t.Errorf("Announce on the deleted interface = %v, want ErrNoInterface", err)
	}
	if _, ok := l.links["vrrp.51"]; ok {
		t.Error("the sockets of the deleted interface are still cached")
	}
	addMacvlan(t, h1, "vrrp.51", vmac)
	addAddr(t, h1, "vrrp.51", "198.18.0.100/24")
	addAddr(t, h1, "vrrp.51", "fd00::100/64")
	c.Clear()
	announce(t, l, "vrrp.51", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	if l.opened != 6 {
		t.Errorf("after the interface came back: %d sockets opened, want 6", l.opened)
	}

	// Down and up: same index; the ARP socket holds the ENETDOWN the
	// kernel reported, and is reopened.
	h1.Run(t, "ip", "link", "set", "vrrp.51", "down")
	h1.Run(t, "ip", "link", "set", "vrrp.51", "up")
	addAddr(t, h1, "vrrp.51", "fd00::100/64") // IPv6 addresses go with the link
	c.Clear()
	announce(t, l, "vrrp.51", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	t.Logf("after down and up: %d sockets opened in all", l.opened)
}

// TestRecreatedCached deletes an interface whose lookup the announcer has
// cached and creates it again with the same name, a new index and a new
// MAC address: the first send on the old sockets fails, and the announcer
// looks the interface up again, reopens its sockets and announces from the
// new MAC. Calls on an unchanged interface look nothing up.
func TestRecreatedCached(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addMacvlan(t, h1, "vrrp.51", vmac)
	addAddr(t, h1, "vrrp.51", "198.18.0.100/24")
	addAddr(t, h1, "vrrp.51", "fd00::100/64")
	l := newLinux(t, h1, Options{})
	l.ttl = time.Hour // only a failed send may look the interface up again
	c := h2.Capture(t, "eth0")

	for range 5 {
		announce(t, l, "vrrp.51", vip4, vip6)
	}
	waitCounts(t, c, 5, vip4, vip6)
	if l.lookups != 1 || l.opened != 2 {
		t.Errorf("after 5 calls: %d lookups and %d sockets opened, want 1 and 2", l.lookups, l.opened)
	}
	oldIndex := l.links["vrrp.51"].ifi.index

	vmac2 := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x34}
	delLink(t, h1, "vrrp.51")
	addMacvlan(t, h1, "vrrp.51", vmac2)
	addAddr(t, h1, "vrrp.51", "198.18.0.100/24")
	addAddr(t, h1, "vrrp.51", "fd00::100/64")
	c.Clear()
	announce(t, l, "vrrp.51", vip4, vip6)
	waitCounts(t, c, 1, vip4, vip6)
	checkGARP(t, garps(c.Frames(), vip4)[0], vip4, vmac2)
	checkNA(t, nas(c.Frames(), vip6)[0], vip6, vip6, vmac2, false)
	lk := l.links["vrrp.51"]
	if lk == nil || lk.ifi.index == oldIndex || !bytes.Equal(lk.ifi.mac, vmac2) {
		t.Fatalf("cached interface %+v, want a new index (the old one was %d) and MAC %v", lk, oldIndex, vmac2)
	}
	if l.lookups != 2 || l.opened != 4 {
		t.Errorf("after the interface came back: %d lookups and %d sockets opened, want 2 and 4", l.lookups, l.opened)
	}

	// Deleted for good: the failed send finds it gone.
	delLink(t, h1, "vrrp.51")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.Announce(ctx, "vrrp.51", []netip.Addr{vip6, vip4})
	if !errors.Is(err, ErrNoInterface) {
		t.Errorf("Announce on the deleted interface = %v, want ErrNoInterface", err)
	}
	t.Logf("deleted interface: %v", err)
	if _, ok := l.links["vrrp.51"]; ok {
		t.Error("the deleted interface is still cached")
	}
}

// TestErrors checks a missing interface, an invalid address among valid
// ones, a cancelled context and Close.
func TestErrors(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	l := newLinux(t, h1, Options{})
	c := h2.Capture(t, "eth0")
	ctx := context.Background()

	err := l.Announce(ctx, "nope0", []netip.Addr{vip4})
	if !errors.Is(err, ErrNoInterface) || !strings.Contains(err.Error(), "nope0") || !strings.Contains(err.Error(), h1.Path()) {
		t.Errorf("missing interface: %v; want ErrNoInterface naming nope0 and the namespace", err)
	}
	t.Logf("missing interface: %v", err)

	// An invalid address fails alone; the IPv4-mapped form of vip4 is
	// announced as vip4.
	err = l.Announce(ctx, "eth0", []netip.Addr{{}, netip.AddrFrom16(vip4.As16())})
	if err == nil || !strings.Contains(err.Error(), "invalid address") || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("invalid address: %v", err)
	}
	waitCounts(t, c, 1, vip4)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Announce(cctx, "eth0", []netip.Addr{vip4}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if err := l.Announce(ctx, "eth0", nil); err != nil {
		t.Errorf("no addresses: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Announce(ctx, "eth0", []netip.Addr{vip4}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	time.Sleep(settle)
	if n := len(garps(c.Frames(), vip4)); n != 1 {
		t.Errorf("%d GARPs in all, want the 1 of the valid call", n)
	}
}

// TestCurrentNamespace checks that an empty Options.Namespace works in the
// calling thread's namespace.
func TestCurrentNamespace(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	c := h2.Capture(t, "eth0")
	err := h1.Do(func() error {
		l, err := New(Options{})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(l.Announce(ctx, "eth0", []netip.Addr{vip4, vip6}), l.Close())
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, c, 1, vip4, vip6)
	checkGARP(t, garps(c.Frames(), vip4)[0], vip4, h1.MAC)
	checkNA(t, nas(c.Frames(), vip6)[0], vip6, vip6, h1.MAC, false)
}

// TestNewErrors needs no privilege.
func TestNewErrors(t *testing.T) {
	if _, err := New(Options{Namespace: "/nonexistent/netns"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Errorf("New with a missing namespace = %v", err)
	}
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Announce(context.Background(), "eth0", nil); err != nil {
		t.Errorf("Announce with no addresses = %v", err)
	}
	if err := errors.Join(l.Close(), l.Close()); err != nil {
		t.Errorf("Close twice = %v", err)
	}
	if err := l.Announce(context.Background(), "eth0", nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Announce after Close = %v", err)
	}
}

// TestConcurrent announces from several goroutines at once.
func TestConcurrent(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	addAddr(t, h1, "eth0", "198.18.0.100/24")
	addAddr(t, h1, "eth0", "fd00::100/64")
	l := newLinux(t, h1, Options{Logger: slog.New(slog.DiscardHandler)})
	c := h2.Capture(t, "eth0")
	const goroutines, calls = 4, 5
	errc := make(chan error, goroutines*calls)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				errc <- l.Announce(ctx, "eth0", []netip.Addr{vip4, vip6})
				cancel()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	waitCounts(t, c, goroutines*calls, vip4, vip6)
	if l.opened != 2 {
		t.Errorf("%d sockets opened, want 2", l.opened)
	}
}

// TestMatchesKeepalived lets keepalived 2.2.7 take over 198.18.0.100 and
// fd00::100 on host 1, stops it, announces the same addresses from host 1,
// and compares, as host 2 receives them, keepalived's first GARP and NA
// with ours: the ARP packet and the ICMPv6 message byte for byte, and the
// Ethernet and IPv6 headers field by field. With IPv6 forwarding on,
// keepalived sets the Router flag, which RouterFlag matches.
func TestMatchesKeepalived(t *testing.T) {
	for _, forwarding := range []bool{false, true} {
		t.Run(fmt.Sprintf("forwarding=%v", forwarding), func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			if forwarding {
				h1.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1")
			}
			c := h2.Capture(t, "eth0")
			k := netns.StartKeepalived(t, h1, keepalivedConf)
			kARP := c.WaitFrame(t, 15*time.Second, "keepalived's GARP", func(f netns.Frame) bool {
				return len(garps([]netns.Frame{f}, vip4)) == 1
			})
			kNA := c.WaitFrame(t, 15*time.Second, "keepalived's NA", func(f netns.Frame) bool {
				return len(nas([]netns.Frame{f}, vip6)) == 1
			})
			if err := k.Stop(); err != nil {
				t.Fatal(err)
			}
			for _, ip := range []netip.Addr{vip4, vip6} {
				h1.WaitNoAddr(t, ip, 5*time.Second)
			}

			addAddr(t, h1, "eth0", "198.18.0.100/24")
			addAddr(t, h1, "eth0", "fd00::100/64")
			c.Clear()
			announce(t, newLinux(t, h1, Options{RouterFlag: forwarding}), "eth0", vip4, vip6)
			waitCounts(t, c, 1, vip4, vip6)
			frames := c.Frames()
			var ours [2]netns.Frame
			for _, f := range frames {
				if len(garps([]netns.Frame{f}, vip4)) == 1 {
					ours[0] = f
				}
				if len(nas([]netns.Frame{f}, vip6)) == 1 {
					ours[1] = f
				}
			}

			ke, _ := kARP.Ethernet()
			oe, _ := ours[0].Ethernet()
			if !bytes.Equal(ke.Dst, oe.Dst) || !bytes.Equal(ke.Src, oe.Src) || ke.EtherType != oe.EtherType {
				t.Errorf("GARP Ethernet header: keepalived %s > %s %#04x, ours %s > %s %#04x",
					ke.Src, ke.Dst, ke.EtherType, oe.Src, oe.Dst, oe.EtherType)
			}
			const arpLen = 28
			if len(ke.Payload) < arpLen || len(oe.Payload) < arpLen || !bytes.Equal(ke.Payload[:arpLen], oe.Payload[:arpLen]) {
				t.Errorf("ARP packet:\nkeepalived % x\nours       % x", ke.Payload, oe.Payload)
			}

			kn, _ := kNA.NA()
			on, _ := ours[1].NA()
			if !bytes.Equal(kn.EthDst, on.EthDst) || !bytes.Equal(kn.EthSrc, on.EthSrc) ||
				kn.Src != on.Src || kn.Dst != on.Dst || kn.TTL != on.TTL {
				t.Errorf("NA headers: keepalived %s > %s, %s > %s hop limit %d; ours %s > %s, %s > %s hop limit %d",
					kn.EthSrc, kn.EthDst, kn.Src, kn.Dst, kn.TTL, on.EthSrc, on.EthDst, on.Src, on.Dst, on.TTL)
			}
			if !bytes.Equal(kn.Payload, on.Payload) {
				t.Errorf("ICMPv6 message:\nkeepalived % x\nours       % x", kn.Payload, on.Payload)
			}
			if kn.Router != forwarding {
				t.Errorf("keepalived's Router flag is %v with forwarding %v", kn.Router, forwarding)
			}
			checkGARP(t, garps(frames, vip4)[0], vip4, h1.MAC)
			checkNA(t, on, vip6, vip6, h1.MAC, forwarding)
		})
	}
}

// keepalivedConf makes keepalived take over 198.18.0.100 and fd00::100 on
// eth0 once its Master_Down_Interval has passed.
const keepalivedConf = `
global_defs {
	router_id vrrpkit-announce
}
vrrp_instance V4 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 1
	virtual_ipaddress {
		198.18.0.100/24
	}
}
vrrp_instance V6 {
	state BACKUP
	interface eth0
	virtual_router_id 52
	priority 150
	advert_int 1
	virtual_ipaddress {
		fd00::100/64
	}
}
`
