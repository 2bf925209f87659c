//go:build linux

package main

import (
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"

	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// These end-to-end tests run vrrpd pairs in a netns lab and assert on what
// crosses the wire (adverts, gratuitous ARP, unsolicited NA, captured in
// the lab) and on which host holds each virtual address (netlink in the
// host's namespace). vrrpd's log is read only to know when a SIGHUP reload
// is over.

// More virtual addresses, beside e2eVIP (198.18.0.100/24).
var (
	moreVIP101 = netip.MustParsePrefix("198.18.0.101/24")
	moreVIP102 = netip.MustParsePrefix("198.18.0.102/24")
	moreVIP110 = netip.MustParsePrefix("198.18.0.110/24")
	// moreVIPSeg2 is on the second segment (moreSegment).
	moreVIPSeg2 = netip.MustParsePrefix("198.19.0.100/24")
	moreVIP6    = netip.MustParsePrefix("fd00::100/64")
)

// The second segment of moreSegment.
const (
	moreIface2  = "eth1"
	moreBridge2 = "br1"
)

// moreInstance is one vrrp_instance of a keepalived.conf: state BACKUP,
// advert_int 1, PASS authentication unless noAuth.
type moreInstance struct {
	name   string
	iface  string // netns.Iface when empty
	vrid   int
	prio   int
	noAuth bool     // no authentication block (VRRPv3, IPv6)
	lines  []string // more lines inside the block
	vips   []netip.Prefix
}

func (in moreInstance) String() string {
	iface := in.iface
	if iface == "" {
		iface = netns.Iface
	}
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp_instance %s {\n  state BACKUP\n  interface %s\n  virtual_router_id %d\n  priority %d\n  advert_int 1\n",
		in.name, iface, in.vrid, in.prio)
	if !in.noAuth {
		b.WriteString("  authentication {\n    auth_type PASS\n    auth_pass secret\n  }\n")
	}
	for _, l := range in.lines {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("  virtual_ipaddress {\n")
	for _, v := range in.vips {
		fmt.Fprintf(&b, "    %s\n", v)
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// moreConf returns a keepalived.conf: e2eConf's global_defs plus the
// global lines, then the blocks in order.
func moreConf(global []string, blocks ...string) string {
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id e2e\n  vrrp_garp_master_delay 1\n")
	for _, l := range global {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("}\n")
	for _, bl := range blocks {
		b.WriteString(bl)
	}
	return b.String()
}

// moreSyncGroup returns a vrrp_sync_group block.
func moreSyncGroup(name string, members ...string) string {
	return fmt.Sprintf("vrrp_sync_group %s {\n  group {\n    %s\n  }\n}\n", name, strings.Join(members, "\n    "))
}

// moreReload writes conf to p's configuration file and sends vrrpd SIGHUP,
// then waits (at most 5 s) for the reload to be over, which only the log
// tells. A configuration vrrpd refuses fails the test.
func moreReload(p *peer, conf string) {
	t := p.t
	t.Helper()
	count := func() (done, failed int) {
		l := p.log()
		return strings.Count(l, "Reload finished"), strings.Count(l, "reload failed") + strings.Count(l, "health checks not restarted")
	}
	done0, failed0 := count()
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	netns.WaitFor(t, 5*time.Second, fmt.Sprintf("vrrpd in host %d to reload", p.h.Index), func() bool {
		done, failed := count()
		return done > done0 || failed > failed0
	})
	if _, failed := count(); failed > failed0 {
		t.Fatalf("vrrpd in host %d refused the reloaded configuration:\n%s", p.h.Index, conf)
	}
}

// moreAddrs returns the addresses of the prefixes.
func moreAddrs(ps ...netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

// moreHolds reports whether h holds a, as netlink tells.
func moreHolds(t *testing.T, h *netns.Host, a netip.Addr) bool {
	t.Helper()
	ok, err := h.HasAddr(a)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// moreHolding reports whether want holds every one of addrs and none of
// others holds any of them.
func moreHolding(t *testing.T, want *netns.Host, others []*netns.Host, addrs []netip.Addr) bool {
	t.Helper()
	for _, a := range addrs {
		if !moreHolds(t, want, a) {
			return false
		}
		for _, o := range others {
			if moreHolds(t, o, a) {
				return false
			}
		}
	}
	return true
}

// moreWho describes which hosts hold which of addrs, for messages.
func moreWho(t *testing.T, hosts []*netns.Host, addrs []netip.Addr) string {
	t.Helper()
	var parts []string
	for _, h := range hosts {
		var held []string
		for _, a := range addrs {
			if moreHolds(t, h, a) {
				held = append(held, a.String())
			}
		}
		parts = append(parts, fmt.Sprintf("host %d holds %v", h.Index, held))
	}
	return strings.Join(parts, ", ")
}

// moreWaitHolder waits at most timeout until want holds every one of addrs
// and none of others holds any.
func moreWaitHolder(t *testing.T, timeout time.Duration, want *netns.Host, others []*netns.Host, addrs ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !moreHolding(t, want, others, addrs) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for host %d alone to hold %v: %s", timeout, want.Index, addrs,
				moreWho(t, append([]*netns.Host{want}, others...), addrs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// moreKeepHolder fails the test unless want holds every one of addrs, and
// none of others holds any, all along d (looked at every 20 ms).
func moreKeepHolder(t *testing.T, d time.Duration, want *netns.Host, others []*netns.Host, addrs ...netip.Addr) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if !moreHolding(t, want, others, addrs) {
			t.Fatalf("host %d was to hold %v alone: %s", want.Index, addrs, moreWho(t, append([]*netns.Host{want}, others...), addrs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// moreAdverts returns the adverts for vrid that c captured at or after
// since, from src (from anyone when src is the zero Addr), oldest first.
func moreAdverts(c *netns.Capture, vrid uint8, src netip.Addr, since time.Time) []vrrpcap.Frame {
	var out []vrrpcap.Frame
	for _, f := range c.Frames() {
		v, ok := vrrpcap.Decode(f)
		if !ok || v.Advert.VRID != vrid || v.Time.Before(since) || (src.IsValid() && v.Src != src) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// moreWaitAdvert waits at most timeout for an advert for vrid captured at or
// after since for which match returns true, and returns it.
func moreWaitAdvert(t *testing.T, c *netns.Capture, timeout time.Duration, what string, vrid uint8, since time.Time,
	match func(vrrpcap.Frame) bool) vrrpcap.Frame {
	t.Helper()
	f := c.WaitFrame(t, timeout, what, func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Advert.VRID == vrid && !v.Time.Before(since) && match(v)
	})
	v, _ := vrrpcap.Decode(f)
	return v
}

// moreNoAdverts fails the test if c captured, at or after since, an advert
// for vrid from src with a priority other than 0 (a Master's last word).
func moreNoAdverts(t *testing.T, c *netns.Capture, vrid uint8, src netip.Addr, since time.Time, what string) {
	t.Helper()
	for _, v := range moreAdverts(c, vrid, src, since) {
		if v.Advert.Priority != 0 {
			t.Errorf("%s: advert for VRID %d from %v at priority %d at %s (looking from %s)", what, vrid, src,
				v.Advert.Priority, v.Time.Format("15:04:05.000"), since.Format("15:04:05.000"))
			return
		}
	}
}

// moreWaitGARP waits at most timeout for a gratuitous ARP for ip from mac
// (Ethernet source and sender hardware address) captured at or after since.
func moreWaitGARP(t *testing.T, c *netns.Capture, timeout time.Duration, ip netip.Addr, mac net.HardwareAddr, since time.Time) netns.ARPFrame {
	t.Helper()
	f := c.WaitFrame(t, timeout, fmt.Sprintf("a gratuitous ARP for %v from %v", ip, mac), func(f netns.Frame) bool {
		a, ok := f.ARP()
		return ok && a.Gratuitous() && a.SenderIP == ip && bytes.Equal(a.SenderMAC, mac) &&
			bytes.Equal(a.EthSrc, mac) && !a.Time.Before(since)
	})
	a, _ := f.ARP()
	return a
}

// moreWaitNA waits at most timeout for an unsolicited neighbour
// advertisement (override set, solicited clear) for target from mac
// (Ethernet source and target link-layer address option) captured at or
// after since.
func moreWaitNA(t *testing.T, c *netns.Capture, timeout time.Duration, target netip.Addr, mac net.HardwareAddr, since time.Time) netns.NAFrame {
	t.Helper()
	f := c.WaitFrame(t, timeout, fmt.Sprintf("an unsolicited NA for %v from %v", target, mac), func(f netns.Frame) bool {
		n, ok := f.NA()
		return ok && n.Target == target && n.Override && !n.Solicited && bytes.Equal(n.TargetMAC, mac) &&
			bytes.Equal(n.EthSrc, mac) && !n.Time.Before(since)
	})
	n, _ := f.NA()
	return n
}

// moreSameAddrs reports whether a and b hold the same addresses, in any
// order.
func moreSameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}

// moreWithHandle calls fn with a netlink handle in the namespace at path.
func moreWithHandle(path string, fn func(*netlink.Handle) error) error {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	ns.Close()
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	defer nh.Close()
	return fn(nh)
}

// moreLink returns the link named name in h, or nil if there is none.
func moreLink(t *testing.T, h *netns.Host, name string) netlink.Link {
	t.Helper()
	var link netlink.Link
	err := moreWithHandle(h.Path(), func(nh *netlink.Handle) error {
		l, err := nh.LinkByName(name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		link = l
		return err
	})
	if err != nil {
		t.Fatalf("host %d: link %s: %v", h.Index, name, err)
	}
	return link
}

// moreAddrsOn returns the addresses on h's interface iface (none if it does
// not exist).
func moreAddrsOn(t *testing.T, h *netns.Host, iface string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	err := moreWithHandle(h.Path(), func(nh *netlink.Handle) error {
		l, err := nh.LinkByName(iface)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			return err
		}
		var addrs []netlink.Addr
		for range 10 {
			addrs, err = nh.AddrList(l, netlink.FAMILY_ALL)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("host %d: addresses of %s: %v", h.Index, iface, err)
	}
	return out
}

// moreSetLink sets h's interface iface administratively up or down, inside
// h's namespace.
func moreSetLink(t *testing.T, h *netns.Host, iface string, up bool) {
	t.Helper()
	err := moreWithHandle(h.Path(), func(nh *netlink.Handle) error {
		l, err := nh.LinkByName(iface)
		if err != nil {
			return err
		}
		if up {
			return nh.LinkSetUp(l)
		}
		return nh.LinkSetDown(l)
	})
	if err != nil {
		t.Fatalf("host %d: setting %s up=%v: %v", h.Index, iface, up, err)
	}
}

// moreMAC2 is the MAC of host h's eth1 on the second segment.
func moreMAC2(h *netns.Host) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x76, 0x6b, 0x01, 0x00, byte(h.Index)}
}

// moreAddr2 is the address of host h's eth1 on the second segment.
func moreAddr2(h *netns.Host) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 0, byte(h.Index)}), 24)
}

// moreSegment adds a second Ethernet segment to lab, built as New builds
// the first: a bridge br1 (multicast snooping off) in the switch namespace
// and, in every host, a veth eth1 (MAC 02:76:6b:01:00:i, 198.19.0.i/24, up)
// whose peer port<i>b is a port of br1. Everything lives in the lab's
// namespaces and goes with them.
func moreSegment(t *testing.T, lab *netns.Lab) {
	t.Helper()
	swNS, err := vnetns.GetFromPath(lab.SwitchPath())
	if err != nil {
		t.Fatal(err)
	}
	defer swNS.Close()
	err = moreWithHandle(lab.SwitchPath(), func(sw *netlink.Handle) error {
		off := false
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: moreBridge2}, MulticastSnooping: &off}
		if err := sw.LinkAdd(br); err != nil {
			return fmt.Errorf("adding %s: %w", moreBridge2, err)
		}
		if err := sw.LinkSetUp(br); err != nil {
			return err
		}
		for _, h := range lab.Hosts {
			hostNS, err := vnetns.GetFromPath(h.Path())
			if err != nil {
				return err
			}
			port := fmt.Sprintf("port%db", h.Index)
			veth := &netlink.Veth{
				LinkAttrs: netlink.LinkAttrs{
					Name:         moreIface2,
					HardwareAddr: moreMAC2(h),
					Namespace:    netlink.NsFd(int(hostNS)),
				},
				PeerName:      port,
				PeerNamespace: netlink.NsFd(int(swNS)),
			}
			err = sw.LinkAdd(veth)
			hostNS.Close()
			if err != nil {
				return fmt.Errorf("adding veth %s/%s of host %d: %w", moreIface2, port, h.Index, err)
			}
			pl, err := sw.LinkByName(port)
			if err != nil {
				return err
			}
			if err := sw.LinkSetMaster(pl, br); err != nil {
				return err
			}
			if err := sw.LinkSetUp(pl); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("second segment: %v", err)
	}
	for _, h := range lab.Hosts {
		err := moreWithHandle(h.Path(), func(nh *netlink.Handle) error {
			l, err := nh.LinkByName(moreIface2)
			if err != nil {
				return err
			}
			p := moreAddr2(h)
			a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
			if err := nh.AddrAdd(l, a); err != nil {
				return err
			}
			return nh.LinkSetUp(l)
		})
		if err != nil {
			t.Fatalf("second segment, host %d: %v", h.Index, err)
		}
	}
}

// TestE2EMoreReloadPriority changes priorities with SIGHUP. Host 1 (200,
// nopreempt) is Master; host 2 (100) reloaded at 250 preempts it; reloaded
// back at 100 it stays Master, since host 1 does not preempt; host 1
// reloaded without nopreempt takes the VIP back.
func TestE2EMoreReloadPriority(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := func(prio int, lines ...string) string {
		return moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: prio, lines: lines, vips: []netip.Prefix{e2eVIP}}.String())
	}
	a := e2eVIP.Addr()
	capture := h1.Capture(t, h1.Iface) // host 1's adverts and those it receives
	p1 := startPeer(t, "vrrpd", h1, conf(200, "nopreempt"))
	h1.WaitAddr(t, a, 10*time.Second)
	p2 := startPeer(t, "vrrpd", h2, conf(100))
	// Longer than host 2's Master_Down_Interval (3.6 s).
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, a)

	// Raised above the Master's, with preemption: host 2 takes over.
	since := time.Now()
	moreReload(p2, conf(250))
	moreWaitHolder(t, 10*time.Second, h2, []*netns.Host{h1}, a)
	first := moreWaitAdvert(t, capture, 3*time.Second, "an advert from host 2 at priority 250", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Advert.Priority == 250
	})
	moreWaitGARP(t, capture, 3*time.Second, a, h2.MAC, since)
	moreKeepHolder(t, 2*time.Second, h2, []*netns.Host{h1}, a)
	// Host 1 stepped down at host 2's first advert (one of its own may
	// have crossed it).
	moreNoAdverts(t, capture, 51, h1.Addr4.Addr(), first.Time.Add(500*time.Millisecond), "host 1 after host 2 took over")

	// Lowered below host 1's again: host 2 stays Master (a Master yields
	// only to a higher priority), and host 1, nopreempt, lets it be.
	since = time.Now()
	moreReload(p2, conf(100))
	moreWaitAdvert(t, capture, 3*time.Second, "an advert from host 2 at priority 100", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Advert.Priority == 100
	})
	moreKeepHolder(t, 5*time.Second, h2, []*netns.Host{h1}, a)
	moreNoAdverts(t, capture, 51, h1.Addr4.Addr(), since, "host 1 with nopreempt")
	for _, v := range moreAdverts(capture, 51, h2.Addr4.Addr(), time.Now().Add(-3*time.Second)) {
		if v.Advert.Priority != 100 {
			t.Errorf("host 2 advertised priority %d at %s after the reload to 100", v.Advert.Priority, v.Time.Format("15:04:05.000"))
		}
	}

	// Host 1 reloaded without nopreempt preempts the lower priority Master.
	since = time.Now()
	moreReload(p1, conf(200))
	moreWaitHolder(t, 10*time.Second, h1, []*netns.Host{h2}, a)
	moreWaitAdvert(t, capture, 3*time.Second, "an advert from host 1 at priority 200", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 200
	})
	moreWaitGARP(t, capture, 3*time.Second, a, h1.MAC, since)
	moreKeepHolder(t, 2*time.Second, h1, []*netns.Host{h2}, a)
}

// TestE2EMoreReloadVIPs reloads both hosts with one VIP replaced by
// another: the running Master adds the new address and removes the old one
// without a failover (the Backup never advertises nor holds anything, the
// kept address stays, the Master's adverts go on at their interval), its
// adverts list the new set, and only the new address is announced.
func TestE2EMoreReloadVIPs(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := func(prio int, vips ...netip.Prefix) string {
		return moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: prio, vips: vips}.String())
	}
	a, b, c := e2eVIP, moreVIP101, moreVIP102
	capture := h2.Capture(t, h2.Iface)
	p1 := startPeer(t, "vrrpd", h1, conf(200, a, b))
	p2 := startPeer(t, "vrrpd", h2, conf(100, a, b))
	moreWaitHolder(t, 15*time.Second, h1, []*netns.Host{h2}, a.Addr(), b.Addr())
	// Past the second GARP burst (1 s after the takeover).
	moreKeepHolder(t, 2500*time.Millisecond, h1, []*netns.Host{h2}, a.Addr(), b.Addr())

	since := time.Now()
	// The Master first, then the Backup: the Backup drops the adverts whose
	// list differs from its own for the few milliseconds between the two,
	// far from its Master_Down_Interval (3.6 s).
	moreReload(p1, conf(200, a, c))
	moreReload(p2, conf(100, a, c))
	all := moreAddrs(a, b, c)
	deadline := time.Now().Add(3 * time.Second)
	for !(moreHolds(t, h1, c.Addr()) && !moreHolds(t, h1, b.Addr())) {
		if !moreHolds(t, h1, a.Addr()) {
			t.Fatalf("host 1 lost %v, which the reload kept", a.Addr())
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after the reload: %s", moreWho(t, []*netns.Host{h1, h2}, all))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := moreAddrsOn(t, h1, h1.Iface); !slices.Contains(got, c.Addr()) {
		t.Errorf("host 1's %s holds %v, not the added %v", h1.Iface, got, c.Addr())
	}
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, a.Addr(), c.Addr())
	if moreHolds(t, h1, b.Addr()) || moreHolds(t, h2, b.Addr()) {
		t.Errorf("the removed %v came back: %s", b.Addr(), moreWho(t, []*netns.Host{h1, h2}, all))
	}

	// On the wire: host 1's adverts list the new set from the reload on;
	// host 2 never advertised; host 1 advertised at its interval
	// throughout; only the added address was announced.
	newSet := moreAddrs(a, c)
	first := moreWaitAdvert(t, capture, time.Second, "an advert from host 1 listing the new set", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && moreSameAddrs(v.Advert.Addresses, newSet)
	})
	if first.Time.Sub(since) > 1500*time.Millisecond {
		t.Errorf("the first advert with the new set came %v after the reload", first.Time.Sub(since))
	}
	for _, v := range moreAdverts(capture, 51, h1.Addr4.Addr(), first.Time) {
		if !moreSameAddrs(v.Advert.Addresses, newSet) {
			t.Errorf("advert at %s lists %v, want %v", v.Time.Format("15:04:05.000"), v.Advert.Addresses, newSet)
		}
	}
	moreNoAdverts(t, capture, 51, h2.Addr4.Addr(), time.Time{}, "host 2 (Backup) during the reloads")
	prev := since.Add(-2 * time.Second)
	ads := moreAdverts(capture, 51, h1.Addr4.Addr(), prev)
	if len(ads) < 5 {
		t.Errorf("only %d adverts from host 1 since %s", len(ads), prev.Format("15:04:05.000"))
	}
	for i := 1; i < len(ads); i++ {
		if gap := ads[i].Time.Sub(ads[i-1].Time); gap > 1600*time.Millisecond {
			t.Errorf("host 1's adverts stopped for %v at %s (interval 1 s)", gap, ads[i-1].Time.Format("15:04:05.000"))
		}
	}
	moreWaitGARP(t, capture, time.Second, c.Addr(), h1.MAC, since)
	for _, f := range capture.Frames() {
		if g, ok := f.ARP(); ok && g.Gratuitous() && !g.Time.Before(since) && g.SenderIP != c.Addr() {
			t.Errorf("gratuitous ARP for %v after the reload at %s: only the added %v is new", g.SenderIP, g.Time.Format("15:04:05.000"), c.Addr())
		}
	}
}

// TestE2EMoreReloadAddInstanceGroup reloads both hosts with a second
// instance and a vrrp_sync_group of both: the new instance comes up on the
// Master of the first (which keeps its state). Raising the new instance's
// priority on the Backup above the Master's does not split the group;
// raising both members' moves the whole group there.
func TestE2EMoreReloadAddInstanceGroup(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vi1 := func(prio int) string {
		return moreInstance{name: "VI_1", vrid: 51, prio: prio, vips: []netip.Prefix{e2eVIP}}.String()
	}
	vi2 := func(prio int) string {
		return moreInstance{name: "VI_2", vrid: 52, prio: prio, vips: []netip.Prefix{moreVIP110}}.String()
	}
	one := func(prio int) string { return moreConf(nil, vi1(prio)) }
	two := func(prio1, prio2 int) string {
		return moreConf(nil, vi1(prio1), vi2(prio2), moreSyncGroup("G", "VI_1", "VI_2"))
	}
	v1, v2 := e2eVIP.Addr(), moreVIP110.Addr()
	capture := h1.Capture(t, h1.Iface)
	p1 := startPeer(t, "vrrpd", h1, one(200))
	p2 := startPeer(t, "vrrpd", h2, one(100))
	waitMaster(t, h1, h2)

	since := time.Now()
	moreReload(p1, two(200, 200))
	moreReload(p2, two(100, 100))
	moreWaitHolder(t, 10*time.Second, h1, []*netns.Host{h2}, v1, v2)
	moreWaitAdvert(t, capture, 3*time.Second, "an advert for the new VI_2 from host 1", 52, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 200 && moreSameAddrs(v.Advert.Addresses, []netip.Addr{v2})
	})
	moreWaitGARP(t, capture, 3*time.Second, v2, h1.MAC, since)
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, v1, v2)
	moreNoAdverts(t, capture, 51, h2.Addr4.Addr(), time.Time{}, "host 2's VI_1 (Backup)")
	moreNoAdverts(t, capture, 52, h2.Addr4.Addr(), time.Time{}, "host 2's VI_2 (Backup)")
	for _, f := range capture.Frames() {
		if g, ok := f.ARP(); ok && g.Gratuitous() && !g.Time.Before(since) && g.SenderIP == v1 {
			t.Errorf("gratuitous ARP for VI_1's %v after the reload at %s: VI_1 was to keep its state", v1, g.Time.Format("15:04:05.000"))
		}
	}
	if ads := moreAdverts(capture, 51, h1.Addr4.Addr(), since); len(ads) < 4 {
		t.Errorf("host 1's VI_1 sent %d adverts over the reload", len(ads))
	}

	// VI_2 alone raised on host 2 above host 1's does not split the group:
	// as in keepalived, a member goes to MASTER only with every other
	// member wanting it, and host 2's VI_1 still follows host 1's.
	since = time.Now()
	moreReload(p2, two(100, 250))
	// Longer than host 2's VI_2 Master_Down_Interval (3.02 s).
	moreKeepHolder(t, 5*time.Second, h1, []*netns.Host{h2}, v1, v2)
	moreNoAdverts(t, capture, 51, h2.Addr4.Addr(), since, "host 2's VI_1 with only VI_2 raised")
	moreNoAdverts(t, capture, 52, h2.Addr4.Addr(), since, "host 2's VI_2 with only VI_2 raised")

	// Both raised: the group moves to host 2 as a whole.
	since = time.Now()
	moreReload(p2, two(250, 250))
	moreWaitHolder(t, 15*time.Second, h2, []*netns.Host{h1}, v1, v2)
	moreWaitAdvert(t, capture, 3*time.Second, "an advert for VI_1 from host 2 at 250", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Advert.Priority == 250
	})
	moreWaitAdvert(t, capture, 3*time.Second, "an advert for VI_2 from host 2 at 250", 52, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Advert.Priority == 250
	})
	moreWaitGARP(t, capture, 3*time.Second, v1, h2.MAC, since)
	moreWaitGARP(t, capture, 3*time.Second, v2, h2.MAC, since)
	settled := time.Now()
	moreKeepHolder(t, 3*time.Second, h2, []*netns.Host{h1}, v1, v2)
	moreNoAdverts(t, capture, 51, h1.Addr4.Addr(), settled, "host 1's VI_1 after the group moved")
	moreNoAdverts(t, capture, 52, h1.Addr4.Addr(), settled, "host 1's VI_2 after the group moved")
}

// moreHealthPair starts vrrpd on two hosts of a new lab with VI_1 (VRID
// 51, e2eVIP): host 1 at 200 with the given health blocks and instance
// lines, host 2 at 100 with none; it returns once host 1 holds the VIP,
// with a capture on host 1's interface.
func moreHealthPair(t *testing.T, global []string, blocks string, lines ...string) (h1, h2 *netns.Host, c *netns.Capture) {
	t.Helper()
	lab := netns.New(t, 2)
	h1, h2 = lab.Host(1), lab.Host(2)
	c = h1.Capture(t, h1.Iface)
	startPeer(t, "vrrpd", h1, moreConf(global, blocks,
		moreInstance{name: "VI_1", vrid: 51, prio: 200, lines: lines, vips: []netip.Prefix{e2eVIP}}.String()))
	h1.WaitAddr(t, e2eVIP.Addr(), 10*time.Second)
	startPeer(t, "vrrpd", h2, moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: 100, vips: []netip.Prefix{e2eVIP}}.String()))
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, e2eVIP.Addr())
	moreWaitAdvert(t, c, 2*time.Second, "an advert from host 1 at 200", 51, time.Now().Add(-2*time.Second), func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 200
	})
	return h1, h2, c
}

// moreMoves asserts that after since host 1 advertised prio (its health
// moved its priority) and that the VIP then went to host 2, announced from
// its MAC, when prio is below host 2's 100; or came back to host 1 at prio.
func moreMoves(t *testing.T, h1, h2 *netns.Host, c *netns.Capture, since time.Time, prio uint8) {
	t.Helper()
	a := e2eVIP.Addr()
	if prio < 100 {
		moreWaitAdvert(t, c, 5*time.Second, fmt.Sprintf("an advert from host 1 at %d", prio), 51, since, func(v vrrpcap.Frame) bool {
			return v.Src == h1.Addr4.Addr() && v.Advert.Priority == prio
		})
		moreWaitHolder(t, 10*time.Second, h2, []*netns.Host{h1}, a)
		moreWaitGARP(t, c, 3*time.Second, a, h2.MAC, since)
		moreKeepHolder(t, time.Second, h2, []*netns.Host{h1}, a)
		return
	}
	moreWaitHolder(t, 10*time.Second, h1, []*netns.Host{h2}, a)
	moreWaitAdvert(t, c, 3*time.Second, fmt.Sprintf("an advert from host 1 at %d", prio), 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == prio
	})
	moreWaitGARP(t, c, 3*time.Second, a, h1.MAC, since)
	moreKeepHolder(t, time.Second, h1, []*netns.Host{h2}, a)
}

// TestE2EMoreTrackScript tracks a vrrp_script (weight -150, run as root
// under enable_script_security) that fails while a flag file exists: the
// Master's priority drops to 50 and the VIP goes to the peer, then comes
// back when the flag goes.
func TestE2EMoreTrackScript(t *testing.T) {
	// enable_script_security runs a root script only if no other user can
	// change it or a directory above it: whatever the umask, the script
	// and its directory are 0755 (t.TempDir's parent is 0700, /tmp sticky).
	dir := t.TempDir()
	flag := filepath.Join(dir, "down")
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ ! -e "+flag+" ]\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, script} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	blocks := fmt.Sprintf("vrrp_script chk {\n  script \"%s\"\n  interval 1\n  fall 1\n  rise 1\n  weight -150\n}\n", script)
	h1, h2, c := moreHealthPair(t, []string{"enable_script_security", "script_user root"}, blocks, "track_script {", "  chk", "}")

	since := time.Now()
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	moreMoves(t, h1, h2, c, since, 50)
	since = time.Now()
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	moreMoves(t, h1, h2, c, since, 200)
}

// moreWriteFile replaces path's content atomically (a rename), so that a
// reader never sees it empty.
func moreWriteFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestE2EMoreTrackFile tracks a track_file (weight 1) whose value the test
// writes: 10 raises the Master's advertised priority to 210, -150 lowers
// it to 50 and the VIP goes to the peer, 0 brings it back.
func TestE2EMoreTrackFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prio")
	moreWriteFile(t, path, "0\n")
	blocks := fmt.Sprintf("track_file tf {\n  file %s\n  weight 1\n}\n", path)
	h1, h2, c := moreHealthPair(t, nil, blocks, "track_file {", "  tf", "}")

	since := time.Now()
	moreWriteFile(t, path, "10\n")
	moreWaitAdvert(t, c, 5*time.Second, "an advert from host 1 at 210", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 210
	})
	moreKeepHolder(t, time.Second, h1, []*netns.Host{h2}, e2eVIP.Addr())

	since = time.Now()
	moreWriteFile(t, path, "-150\n")
	moreMoves(t, h1, h2, c, since, 50)
	since = time.Now()
	moreWriteFile(t, path, "0\n")
	moreMoves(t, h1, h2, c, since, 200)
}

// TestE2EMoreTrackProcess tracks a vrrp_track_process (weight -150) for a
// process the test runs (a copy of sleep under a name of its own): killing
// it moves the VIP to the peer, starting it again brings the VIP back.
func TestE2EMoreTrackProcess(t *testing.T) {
	dir := t.TempDir()
	name := fmt.Sprintf("vkd%d", os.Getpid()%10000000)
	bin := filepath.Join(dir, name)
	testenv.CopyExecutable(t, "/bin/sleep", bin)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "120")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		return cmd
	}
	proc := start()
	blocks := fmt.Sprintf("vrrp_track_process tp {\n  process %s\n  weight -150\n}\n", name)
	h1, h2, c := moreHealthPair(t, nil, blocks, "track_process {", "  tp", "}")

	since := time.Now()
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	moreMoves(t, h1, h2, c, since, 50)
	since = time.Now()
	start()
	moreMoves(t, h1, h2, c, since, 200)
}

// TestE2EMoreSyncGroupLinkDown runs a vrrp_sync_group of two instances on
// two segments (eth0 and eth1). Setting host 1's eth1 down puts its VI_2 in
// FAULT; VI_1, whose eth0 stays up, leaves MASTER with it (a priority 0
// advert, then silence) and host 2 takes both VIPs, announced on both
// segments; with eth1 back up host 1 takes both back.
func TestE2EMoreSyncGroupLinkDown(t *testing.T) {
	lab := netns.New(t, 2)
	moreSegment(t, lab)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := func(prio int) string {
		return moreConf(nil,
			moreInstance{name: "VI_1", vrid: 51, prio: prio, vips: []netip.Prefix{e2eVIP}}.String(),
			moreInstance{name: "VI_2", iface: moreIface2, vrid: 52, prio: prio, vips: []netip.Prefix{moreVIPSeg2}}.String(),
			moreSyncGroup("G", "VI_1", "VI_2"))
	}
	v1, v2 := e2eVIP.Addr(), moreVIPSeg2.Addr()
	c0, c1 := h2.Capture(t, h2.Iface), h2.Capture(t, moreIface2)
	startPeer(t, "vrrpd", h1, conf(200))
	startPeer(t, "vrrpd", h2, conf(100))
	moreWaitHolder(t, 15*time.Second, h1, []*netns.Host{h2}, v1, v2)
	moreKeepHolder(t, 2500*time.Millisecond, h1, []*netns.Host{h2}, v1, v2)
	if got := moreAddrsOn(t, h1, moreIface2); !slices.Contains(got, v2) {
		t.Fatalf("host 1's %s holds %v, not %v", moreIface2, got, v2)
	}

	since := time.Now()
	moreSetLink(t, h1, moreIface2, false)
	// VI_1 leaves MASTER with a priority 0 advert on eth0, as keepalived's
	// does on its way to FAULT. Host 2's VI_1 still waits for its VI_2,
	// which follows host 1's silent VI_2 until its Master_Down_Interval.
	moreWaitAdvert(t, c0, 2*time.Second, "host 1's VI_1 priority 0 advert", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 0
	})
	moreWaitHolder(t, 10*time.Second, h2, []*netns.Host{h1}, v1, v2)
	moreWaitAdvert(t, c0, 3*time.Second, "an advert for VI_1 from host 2 on eth0", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Advert.Priority == 100
	})
	moreWaitAdvert(t, c1, 3*time.Second, "an advert for VI_2 from host 2 on eth1", 52, since, func(v vrrpcap.Frame) bool {
		return v.Src == moreAddr2(h2).Addr() && v.Advert.Priority == 100
	})
	moreWaitGARP(t, c0, 3*time.Second, v1, h2.MAC, since)
	moreWaitGARP(t, c1, 3*time.Second, v2, moreMAC2(h2), since)
	// Longer than Master_Down_Interval: host 1's VI_1 (200, above host 2's
	// 100, its link up) neither advertises nor takes VI_1 back while its
	// group is in FAULT.
	moreKeepHolder(t, 4*time.Second, h2, []*netns.Host{h1}, v1, v2)
	moreNoAdverts(t, c0, 51, h1.Addr4.Addr(), since.Add(500*time.Millisecond), "host 1's VI_1 with its group in FAULT")

	since = time.Now()
	moreSetLink(t, h1, moreIface2, true)
	moreWaitHolder(t, 15*time.Second, h1, []*netns.Host{h2}, v1, v2)
	moreWaitAdvert(t, c0, 3*time.Second, "an advert for VI_1 from host 1 again", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Advert.Priority == 200
	})
	moreWaitAdvert(t, c1, 3*time.Second, "an advert for VI_2 from host 1 again", 52, since, func(v vrrpcap.Frame) bool {
		return v.Src == moreAddr2(h1).Addr() && v.Advert.Priority == 200
	})
	moreWaitGARP(t, c0, 3*time.Second, v1, h1.MAC, since)
	moreWaitGARP(t, c1, 3*time.Second, v2, moreMAC2(h1), since)
	moreKeepHolder(t, 2*time.Second, h1, []*netns.Host{h2}, v1, v2)
}

// TestE2EMoreIPv6 runs a native IPv6 instance (VRRPv3, fd00::100/64): the
// peer sees adverts from the Master's link-local address to ff02::12, the
// VIP is on the Master's eth0, announced by an unsolicited NA; a graceful
// stop (priority 0) hands it over, announced by the new Master.
func TestE2EMoreIPv6(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := func(prio int) string {
		return moreConf(nil, moreInstance{name: "VI_6", vrid: 61, prio: prio, noAuth: true, vips: []netip.Prefix{moreVIP6}}.String())
	}
	a := moreVIP6.Addr()
	group := netip.MustParseAddr("ff02::12")
	capture := h2.Capture(t, h2.Iface)
	p1 := startPeer(t, "vrrpd", h1, conf(200))
	h1.WaitAddr(t, a, 10*time.Second)
	startPeer(t, "vrrpd", h2, conf(100))
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, a)
	if got := moreAddrsOn(t, h1, h1.Iface); !slices.Contains(got, a) {
		t.Errorf("host 1's %s holds %v, not %v", h1.Iface, got, a)
	}

	adv := moreWaitAdvert(t, capture, 2*time.Second, "an advert from host 1's link-local address", 61, time.Time{}, func(v vrrpcap.Frame) bool {
		return v.Src == h1.LinkLocal
	})
	wantDst := net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x12}
	if adv.Dst != group || !bytes.Equal(adv.EthDst, wantDst) || !bytes.Equal(adv.EthSrc, h1.MAC) || adv.TTL != 255 {
		t.Errorf("advert %v -> %v (Ethernet %v -> %v), hop limit %d; want to %v (%v) from %v, 255",
			adv.Src, adv.Dst, adv.EthSrc, adv.EthDst, adv.TTL, group, wantDst, h1.MAC)
	}
	if ad := adv.Advert; ad.Version != 3 || ad.Priority != 200 || ad.IntervalDuration() != time.Second ||
		!moreSameAddrs(ad.Addresses, []netip.Addr{a}) {
		t.Errorf("advert: version %d, priority %d, interval %v, addresses %v", ad.Version, ad.Priority, ad.IntervalDuration(), ad.Addresses)
	}
	if form := vrrp.VerifyChecksum(adv.Payload, adv.Src, adv.Dst, group); form != vrrp.ChecksumOK {
		t.Errorf("advert checksum: %v", form)
	}
	na := moreWaitNA(t, capture, 2*time.Second, a, h1.MAC, time.Time{})
	if na.Dst != netip.MustParseAddr("ff02::1") || na.HopLimit != 255 {
		t.Errorf("NA to %v, hop limit %d", na.Dst, na.HopLimit)
	}
	for _, v := range moreAdverts(capture, 61, netip.Addr{}, time.Time{}) {
		if v.Src != h1.LinkLocal {
			t.Errorf("advert from %v while host 1 (%v) was Master", v.Src, h1.LinkLocal)
		}
	}

	since := time.Now()
	p1.stop()
	moreWaitAdvert(t, capture, 2*time.Second, "host 1's priority 0 advert", 61, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.LinkLocal && v.Advert.Priority == 0
	})
	moreWaitHolder(t, 5*time.Second, h2, []*netns.Host{h1}, a)
	adv = moreWaitAdvert(t, capture, 3*time.Second, "an advert from host 2's link-local address", 61, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.LinkLocal && v.Advert.Priority == 100
	})
	if adv.Dst != group || adv.TTL != 255 || !bytes.Equal(adv.EthSrc, h2.MAC) {
		t.Errorf("host 2's advert to %v, hop limit %d, from %v", adv.Dst, adv.TTL, adv.EthSrc)
	}
	moreWaitNA(t, capture, 3*time.Second, a, h2.MAC, since)
}

// TestE2EMoreUnicast runs VI_1 with unicast_src_ip and unicast_peer: every
// advert goes to the peer's address and MAC, none to the multicast group;
// a graceful stop hands the VIP over and the Master's return takes it back,
// both by unicast.
func TestE2EMoreUnicast(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := func(h, peer *netns.Host, prio int) string {
		return moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: prio, vips: []netip.Prefix{e2eVIP},
			lines: []string{
				"unicast_src_ip " + h.Addr4.Addr().String(),
				"unicast_peer {",
				"  " + peer.Addr4.Addr().String(),
				"}",
			}}.String())
	}
	a := e2eVIP.Addr()
	capture := h2.Capture(t, h2.Iface)
	p1 := startPeer(t, "vrrpd", h1, conf(h1, h2, 200))
	h1.WaitAddr(t, a, 10*time.Second)
	startPeer(t, "vrrpd", h2, conf(h2, h1, 100))
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, a)
	moreWaitAdvert(t, capture, 2*time.Second, "a unicast advert from host 1 to host 2", 51, time.Time{}, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Dst == h2.Addr4.Addr() && bytes.Equal(v.EthDst, h2.MAC) && v.TTL == 255 && v.Advert.Priority == 200
	})

	since := time.Now()
	p1.stop()
	moreWaitAdvert(t, capture, 2*time.Second, "host 1's priority 0 advert to host 2", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Dst == h2.Addr4.Addr() && v.Advert.Priority == 0
	})
	moreWaitHolder(t, 5*time.Second, h2, []*netns.Host{h1}, a)
	moreWaitAdvert(t, capture, 3*time.Second, "a unicast advert from host 2 to host 1", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && v.Dst == h1.Addr4.Addr() && bytes.Equal(v.EthDst, h1.MAC) && v.Advert.Priority == 100
	})
	moreWaitGARP(t, capture, 3*time.Second, a, h2.MAC, since)

	// Host 1 returns and preempts, hearing host 2 by unicast.
	since = time.Now()
	p1.start()
	moreWaitHolder(t, 10*time.Second, h1, []*netns.Host{h2}, a)
	moreWaitAdvert(t, capture, 3*time.Second, "a unicast advert from host 1 again", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && v.Dst == h2.Addr4.Addr() && v.Advert.Priority == 200
	})
	moreWaitGARP(t, capture, 3*time.Second, a, h1.MAC, since)

	ads := moreAdverts(capture, 51, netip.Addr{}, time.Time{})
	for _, v := range ads {
		peer := map[netip.Addr]*netns.Host{h1.Addr4.Addr(): h2, h2.Addr4.Addr(): h1}[v.Src]
		if peer == nil || v.Dst != peer.Addr4.Addr() || !bytes.Equal(v.EthDst, peer.MAC) {
			t.Errorf("advert %v -> %v (Ethernet %v) at %s: want unicast to the peer", v.Src, v.Dst, v.EthDst, v.Time.Format("15:04:05.000"))
		}
	}
	if len(ads) < 8 {
		t.Errorf("only %d adverts captured", len(ads))
	}
}

// TestE2EMoreVMAC runs VI_1 with use_vmac: the Master holds the VIP on a
// macvlan vrrp.51 of eth0 with the virtual router MAC 00:00:5e:00:01:33,
// and its adverts and gratuitous ARPs leave from that MAC; after a
// graceful stop the peer does the same and the stopped host's VMAC is gone.
func TestE2EMoreVMAC(t *testing.T) {
	lab := netns.New(t, 3)
	h1, h2, obs := lab.Host(1), lab.Host(2), lab.Host(3)
	conf := func(prio int) string {
		return moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: prio, lines: []string{"use_vmac"}, vips: []netip.Prefix{e2eVIP}}.String())
	}
	a := e2eVIP.Addr()
	vmac := vip.VMACAddr(51, vrrp.IPv4)
	const vmacName = "vrrp.51"
	capture := obs.Capture(t, obs.Iface)
	p1 := startPeer(t, "vrrpd", h1, conf(200))
	h1.WaitAddr(t, a, 10*time.Second)
	startPeer(t, "vrrpd", h2, conf(100))
	moreKeepHolder(t, 4*time.Second, h1, []*netns.Host{h2}, a)

	checkVMAC := func(h *netns.Host) {
		t.Helper()
		l := moreLink(t, h, vmacName)
		if l == nil {
			t.Fatalf("host %d has no %s", h.Index, vmacName)
		}
		eth := moreLink(t, h, h.Iface)
		if eth == nil {
			t.Fatalf("host %d has no %s", h.Index, h.Iface)
		}
		if _, ok := l.(*netlink.Macvlan); !ok || !bytes.Equal(l.Attrs().HardwareAddr, vmac) || l.Attrs().ParentIndex != eth.Attrs().Index {
			t.Errorf("host %d's %s: %s with MAC %v on link %d; want a macvlan of %s (%d) with %v",
				h.Index, vmacName, l.Type(), l.Attrs().HardwareAddr, l.Attrs().ParentIndex, h.Iface, eth.Attrs().Index, vmac)
		}
		if got := moreAddrsOn(t, h, vmacName); !slices.Contains(got, a) {
			t.Errorf("host %d's %s holds %v, not %v", h.Index, vmacName, got, a)
		}
		if got := moreAddrsOn(t, h, h.Iface); slices.Contains(got, a) {
			t.Errorf("host %d's %s holds %v: it belongs on %s", h.Index, h.Iface, a, vmacName)
		}
	}
	checkVMAC(h1)
	moreWaitAdvert(t, capture, 2*time.Second, "an advert from host 1's VMAC", 51, time.Time{}, func(v vrrpcap.Frame) bool {
		return v.Src == h1.Addr4.Addr() && bytes.Equal(v.EthSrc, vmac) && v.Advert.Priority == 200
	})
	moreWaitGARP(t, capture, 2*time.Second, a, vmac, time.Time{})
	for _, v := range moreAdverts(capture, 51, netip.Addr{}, time.Time{}) {
		if !bytes.Equal(v.EthSrc, vmac) {
			t.Errorf("advert from %v left from %v, not the VMAC", v.Src, v.EthSrc)
		}
	}

	since := time.Now()
	p1.stop()
	moreWaitHolder(t, 5*time.Second, h2, []*netns.Host{h1}, a)
	checkVMAC(h2)
	moreWaitAdvert(t, capture, 3*time.Second, "an advert from host 2's VMAC", 51, since, func(v vrrpcap.Frame) bool {
		return v.Src == h2.Addr4.Addr() && bytes.Equal(v.EthSrc, vmac) && v.Advert.Priority == 100
	})
	moreWaitGARP(t, capture, 3*time.Second, a, vmac, since)
	netns.WaitFor(t, 5*time.Second, "host 1's "+vmacName+" removed at stop", func() bool {
		return moreLink(t, h1, vmacName) == nil
	})
}
