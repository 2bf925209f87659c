//go:build linux

package vip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// The tests below the unit tests build a lab of network namespaces
// (internal/netns), which needs root; without it they skip through
// testenv.Skip, a failure in CI.

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint8
		ok   bool
	}{
		{"", 0, true}, {"global", 0, true}, {"site", 200, true}, {"link", 253, true},
		{"host", 254, true}, {"nowhere", 255, true}, {"0", 0, true}, {"253", 253, true},
		{"0x10", 16, true}, {"256", 0, false}, {"Link", 0, false}, {"universe", 0, false},
	} {
		got, err := parseScope(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("parseScope(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidVIP) {
			t.Errorf("parseScope(%q) error %v does not wrap ErrInvalidVIP", tc.in, err)
		}
	}
}

func TestMakeAddr(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vip     vrrpio.VIP
		wantErr string // empty: valid
		label   string
		scope   int
		flags   int
		ipnet   string
		brd     string // IPv4: "0.0.0.0" when empty (none)
	}{
		{name: "v4", vip: vip4("198.18.0.100/24"), ipnet: "198.18.0.100/24"},
		{name: "v4 label scope", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/32"), Label: "eth0:vip", Scope: "host"},
			label: "eth0:vip", scope: unix.RT_SCOPE_HOST, ipnet: "198.18.0.100/32"},
		{name: "v4 label is device", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/32"), Label: "eth0"}, label: "eth0", ipnet: "198.18.0.100/32"},
		{name: "v4 mapped", vip: vip4("::ffff:198.18.0.7/120"), ipnet: "198.18.0.7/24"},
		{name: "v6", vip: vip4("fd00::100/64"), flags: unix.IFA_F_NODAD, ipnet: "fd00::100/64"},
		{name: "v6 scope agrees", vip: vrrpio.VIP{Prefix: pfx("fe80::100/64"), Scope: "link"},
			flags: unix.IFA_F_NODAD, ipnet: "fe80::100/64"},
		{name: "v6 scope global", vip: vrrpio.VIP{Prefix: pfx("fd00::100/64"), Scope: "global"},
			flags: unix.IFA_F_NODAD, ipnet: "fd00::100/64"},
		{name: "bad label", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/32"), Label: "eth1:vip"},
			wantErr: `label "eth1:vip" does not start with the device name "eth0"`},
		{name: "long label", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/32"), Label: "eth0:0123456789ab"},
			wantErr: "longer than 15 bytes"},
		{name: "bad scope", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/32"), Scope: "galaxy"}, wantErr: `unknown scope "galaxy"`},
		{name: "v6 label", vip: vrrpio.VIP{Prefix: pfx("fd00::100/64"), Label: "eth0:vip"}, wantErr: "IPv6 addresses have no labels"},
		{name: "v6 scope disagrees", vip: vrrpio.VIP{Prefix: pfx("fd00::100/64"), Scope: "link"},
			wantErr: "the kernel gives fd00::100 the scope global"},
		{name: "invalid prefix", vip: vrrpio.VIP{}, wantErr: "invalid prefix"},
		{name: "v4 broadcast", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/24"), Broadcast: netip.MustParseAddr("198.18.0.255")},
			ipnet: "198.18.0.100/24", brd: "198.18.0.255"},
		{name: "v6 broadcast", vip: vrrpio.VIP{Prefix: pfx("fd00::100/64"), Broadcast: netip.MustParseAddr("198.18.0.255")},
			wantErr: "IPv6 addresses have no broadcast"},
		{name: "v4 broadcast v6", vip: vrrpio.VIP{Prefix: pfx("198.18.0.100/24"), Broadcast: netip.MustParseAddr("fd00::1")},
			wantErr: "not an IPv4 address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := makeAddr(tc.vip, "eth0")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidVIP) {
					t.Fatalf("makeAddr(%+v) error = %v; want one wrapping ErrInvalidVIP containing %q", tc.vip, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("makeAddr(%+v): %v", tc.vip, err)
			}
			want, got := tc.brd, ""
			if want == "" && a.IPNet.IP.To4() != nil {
				want = "0.0.0.0"
			}
			if a.Broadcast != nil {
				got = a.Broadcast.String()
			}
			if got != want {
				t.Errorf("makeAddr(%+v) broadcast %q, want %q", tc.vip, got, want)
			}
			if a.IPNet.String() != tc.ipnet || a.Label != tc.label || a.Scope != tc.scope || a.Flags != tc.flags {
				t.Errorf("makeAddr(%+v) = %s label %q scope %d flags %#x; want %s label %q scope %d flags %#x",
					tc.vip, a.IPNet, a.Label, a.Scope, a.Flags, tc.ipnet, tc.label, tc.scope, tc.flags)
			}
		})
	}
}

func TestLeaseSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{time.Nanosecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {2 * time.Second, 2},
		{time.Hour + 1, 3601}, {1 << 62, 0xfffffffe},
	} {
		if got := leaseSeconds(tc.d); got != tc.want {
			t.Errorf("leaseSeconds(%v) = %d; want %d", tc.d, got, tc.want)
		}
	}
}

func TestVMACAddr(t *testing.T) {
	if got := VMACAddr(51, vrrpio.IPv4).String(); got != "00:00:5e:00:01:33" {
		t.Errorf("VMACAddr(51, IPv4) = %s", got)
	}
	if got := VMACAddr(255, vrrpio.IPv6).String(); got != "00:00:5e:00:02:ff" {
		t.Errorf("VMACAddr(255, IPv6) = %s", got)
	}
	if !isVMACAddr(VMACAddr(1, vrrpio.IPv6)) || isVMACAddr(net.HardwareAddr{2, 0x76, 0x6b, 0, 0, 1}) {
		t.Error("isVMACAddr is wrong")
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{Lease: -time.Second}); err == nil {
		t.Error("New with a negative lease succeeded")
	}
	if _, err := New(Options{Namespace: "/nonexistent/netns"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Errorf("New in a missing namespace: %v", err)
	}
}

// --- tests in network namespaces ---

// TestNetlink runs the tests that need a network: one lab of two hosts
// (building a lab takes a while), shared by subtests that run in parallel
// on addresses of their own.
func TestNetlink(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	t.Run("BindUnbind", func(t *testing.T) { t.Parallel(); testBindUnbind(t, h1) })
	t.Run("BindErrors", func(t *testing.T) { t.Parallel(); testBindErrors(t, h1) })
	t.Run("Lease", func(t *testing.T) { t.Parallel(); testLease(t, h1) })
	t.Run("VMAC", func(t *testing.T) { t.Parallel(); testVMAC(t, h1, h2) })
	t.Run("Routes", func(t *testing.T) { testRoutes(t, h2) })
	t.Run("Filter", func(t *testing.T) { t.Parallel(); testFilter(t, h1, h2) })
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func vip4(s string) vrrpio.VIP { return vrrpio.VIP{Prefix: pfx(s)} }

// testLogger returns a logger that writes to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// newBinder returns a Netlink in host h's namespace, closed at the end of
// the test.
func newBinder(t *testing.T, h *netns.Host, lease time.Duration) *Netlink {
	t.Helper()
	n, err := New(Options{Namespace: h.Path(), Lease: lease, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// hostHandle returns a netlink handle in h's namespace, for the test to
// look with eyes other than the binder's.
func hostHandle(t *testing.T, h *netns.Host) *netlink.Handle {
	t.Helper()
	ns, err := vnetns.GetFromPath(h.Path())
	if err != nil {
		t.Fatalf("opening %s: %v", h.Path(), err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", h.Name, err)
	}
	t.Cleanup(nh.Close)
	return nh
}

// kernelAddr returns the address p on dev as netlink lists it, and whether
// it is there. A dump interrupted by a concurrent change is retried.
func kernelAddr(t *testing.T, nh *netlink.Handle, dev string, p netip.Prefix) (netlink.Addr, bool) {
	t.Helper()
	link, err := nh.LinkByName(dev)
	if err != nil {
		t.Fatalf("LinkByName(%s): %v", dev, err)
	}
	var addrs []netlink.Addr
	for range 10 {
		addrs, err = nh.AddrList(link, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		t.Fatalf("AddrList(%s): %v", dev, err)
	}
	var found []netlink.Addr
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ip.Unmap() == p.Addr() {
			if ones != p.Bits() {
				t.Errorf("%v on %s has prefix length %d; want %d", ip, dev, ones, p.Bits())
			}
			found = append(found, a)
		}
	}
	if len(found) > 1 {
		t.Errorf("%v is on %s %d times: %v", p.Addr(), dev, len(found), found)
	}
	if len(found) == 0 {
		return netlink.Addr{}, false
	}
	return found[0], true
}

// ipAddr is one address of `ip -j addr show`.
type ipAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	Label     string `json:"label"`
	Broadcast string `json:"broadcast"`
	NoDAD     bool   `json:"nodad"`
	Tentative bool   `json:"tentative"`
	Dynamic   bool   `json:"dynamic"`
	ValidLft  uint64 `json:"valid_life_time"`
	PrefLft   uint64 `json:"preferred_life_time"`
}

// ipAddrs returns the addresses ip(8) shows on dev in host h.
func ipAddrs(t *testing.T, h *netns.Host, dev string) map[string]ipAddr {
	t.Helper()
	out := h.Run(t, "ip", "-j", "addr", "show", "dev", dev)
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("parsing ip -j addr show dev %s: %v\n%s", dev, err, out)
	}
	m := make(map[string]ipAddr)
	for _, l := range links {
		for _, a := range l.AddrInfo {
			m[fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)] = a
		}
	}
	return m
}

func testBindUnbind(t *testing.T, h *netns.Host) {
	n := newBinder(t, h, 0)
	nh := hostHandle(t, h)
	ctx := t.Context()

	// Duplicate address detection is on for eth0 here (the lab turns it
	// off), so that IFA_F_NODAD makes a difference; a second interface
	// carries a VIP of its own Device.
	if err := h.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/eth0/accept_dad", []byte("1"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	h.Run(t, "ip", "link", "add", "side0", "type", "veth", "peer", "name", "side1")
	h.Run(t, "ip", "link", "set", "side0", "up")

	vips := []vrrpio.VIP{
		{Prefix: pfx("198.18.0.100/24"), Label: "eth0:vip"},
		{Prefix: pfx("198.19.7.1/32"), Scope: "host", Broadcast: netip.MustParseAddr("198.19.7.255")},
		{Prefix: pfx("198.19.8.1/28"), Scope: "link", Label: "eth0"},
		{Prefix: pfx("198.19.9.1/32"), Scope: "254"},
		{Prefix: pfx("fd00::100/64")},
		{Prefix: pfx("fd00:1::5/128")},
		{Prefix: pfx("198.19.10.1/32"), Device: "side0", Label: "side0:x"},
		{Prefix: pfx("fd00:2::1/64"), Device: "side0"},
	}
	type want struct {
		dev, scope, label, brd string
	}
	wants := []want{
		{"eth0", "global", "eth0:vip", ""},
		{"eth0", "host", "eth0", "198.19.7.255"},
		{"eth0", "link", "eth0", ""},
		{"eth0", "host", "eth0", ""},
		{"eth0", "global", "", ""},
		{"eth0", "global", "", ""},
		{"side0", "global", "side0:x", ""},
		{"side0", "global", "", ""},
	}
	for round := range 2 { // the second Bind must change nothing
		if err := n.Bind(ctx, "eth0", vips); err != nil {
			t.Fatalf("Bind (round %d): %v", round, err)
		}
		// A control address added without nodad is tentative: DAD is on.
		if round == 0 {
			h.Run(t, "ip", "addr", "add", "fd00::200/64", "dev", "eth0")
			if a := ipAddrs(t, h, "eth0")["fd00::200/64"]; !a.Tentative {
				t.Errorf("control address fd00::200 is not tentative (%+v): the test cannot see nodad at work", a)
			}
		}
		shown := map[string]map[string]ipAddr{"eth0": ipAddrs(t, h, "eth0"), "side0": ipAddrs(t, h, "side0")}
		for i, v := range vips {
			w := wants[i]
			a, ok := kernelAddr(t, nh, w.dev, v.Prefix)
			if !ok {
				t.Errorf("round %d: netlink does not show %v on %s", round, v.Prefix, w.dev)
				continue
			}
			s, ok := shown[w.dev][v.Prefix.String()]
			if !ok {
				t.Errorf("round %d: ip addr show dev %s does not show %v: %v", round, w.dev, v.Prefix, shown[w.dev])
				continue
			}
			if s.Scope != w.scope {
				t.Errorf("%v: ip shows scope %q; want %q", v.Prefix, s.Scope, w.scope)
			}
			if v.Prefix.Addr().Is4() {
				if s.Broadcast != w.brd {
					t.Errorf("%v: ip shows broadcast %q; want %q (none without one, as ip(8) and keepalived)", v.Prefix, s.Broadcast, w.brd)
				}
				if s.Label != w.label || a.Label != w.label {
					t.Errorf("%v: label %q (ip), %q (netlink); want %q", v.Prefix, s.Label, a.Label, w.label)
				}
			} else {
				if !s.NoDAD || a.Flags&unix.IFA_F_NODAD == 0 {
					t.Errorf("%v: not nodad: ip %+v, netlink flags %#x", v.Prefix, s, a.Flags)
				}
				if s.Tentative || a.Flags&unix.IFA_F_TENTATIVE != 0 {
					t.Errorf("%v: tentative right after Bind: ip %+v, netlink flags %#x", v.Prefix, s, a.Flags)
				}
			}
			if s.Dynamic || a.Flags&unix.IFA_F_PERMANENT == 0 {
				t.Errorf("%v: not permanent without a lease: ip %+v, netlink flags %#x", v.Prefix, s, a.Flags)
			}
		}
	}
	// The VIP must be usable at once: bind a socket to it.
	if err := h.Do(func() error {
		c, err := net.ListenPacket("udp6", "[fd00::100]:0")
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		t.Errorf("binding a socket to fd00::100 right after Bind: %v", err)
	}

	for round := range 2 { // the second Unbind finds nothing to remove
		if err := n.Unbind(ctx, "eth0", vips); err != nil {
			t.Fatalf("Unbind (round %d): %v", round, err)
		}
		for i, v := range vips {
			if _, ok := kernelAddr(t, nh, wants[i].dev, v.Prefix); ok {
				t.Errorf("round %d: %v still on %s after Unbind", round, v.Prefix, wants[i].dev)
			}
			if _, ok := ipAddrs(t, h, wants[i].dev)[v.Prefix.String()]; ok {
				t.Errorf("round %d: ip addr show still shows %v after Unbind", round, v.Prefix)
			}
		}
	}
	// The host's own addresses are untouched.
	for _, p := range []netip.Prefix{h.Addr4, h.Addr6, pfx("fd00::200/64")} {
		if _, ok := kernelAddr(t, nh, "eth0", p); !ok {
			t.Errorf("%v is gone from eth0", p)
		}
	}
}

func testBindErrors(t *testing.T, h *netns.Host) {
	n := newBinder(t, h, 0)
	nh := hostHandle(t, h)
	ctx := t.Context()

	vips := []vrrpio.VIP{
		{Prefix: pfx("198.18.0.101/32"), Device: "nope0"},
		{Prefix: pfx("198.18.0.102/32"), Label: "eth1:bad"},
		vip4("198.18.0.103/24"),
		{Prefix: pfx("fd00::103/64"), Device: "nope0"},
		{Prefix: pfx("198.18.0.104/24"), Scope: "link"}, // the kernel refuses: 198.18.0.1/24 is global
		vip4("fd00::104/64"),
	}
	err := n.Bind(ctx, "eth0", vips)
	if err == nil {
		t.Fatal("Bind succeeded")
	}
	t.Logf("Bind error:\n%v", err)
	if !errors.Is(err, ErrNoDevice) || !errors.Is(err, ErrInvalidVIP) || !errors.Is(err, unix.EINVAL) {
		t.Errorf("the error does not wrap ErrNoDevice, ErrInvalidVIP and EINVAL: %v", err)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 4 {
		t.Fatalf("want 4 joined errors: %v", err)
	}
	for i, sub := range joined.Unwrap() {
		want := []string{"198.18.0.101/32 on nope0", "198.18.0.102/32 on eth0", "fd00::103/64 on nope0",
			"198.18.0.104/24 on eth0"}[i]
		if !strings.Contains(sub.Error(), want) {
			t.Errorf("error %d %q does not name %q", i, sub, want)
		}
	}
	if !strings.Contains(err.Error(), "the kernel wants the scope global of 198.18.0.1/24") {
		t.Errorf("the scope error does not explain itself: %v", err)
	}
	// The good VIPs went on regardless.
	for _, p := range []netip.Prefix{pfx("198.18.0.103/24"), pfx("fd00::104/64")} {
		if _, ok := kernelAddr(t, nh, "eth0", p); !ok {
			t.Errorf("%v was not bound after the others failed", p)
		}
	}
	// Unbind: a missing device holds no address, which is no error.
	if err := n.Unbind(ctx, "eth0", []vrrpio.VIP{vips[0], vips[2], vips[5]}); err != nil {
		t.Errorf("Unbind: %v", err)
	}
	// A done context stops the work.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Bind(cctx, "eth0", vips[2:3]); !errors.Is(err, context.Canceled) {
		t.Errorf("Bind with a cancelled context: %v", err)
	}
	if _, ok := kernelAddr(t, nh, "eth0", pfx("198.18.0.103/24")); ok {
		t.Error("Bind with a cancelled context bound an address")
	}
}

// testLease binds addresses with a 2 s lease: those refreshed every second
// stay, the others expire by themselves within a few seconds.
func testLease(t *testing.T, h *netns.Host) {
	const lease = 2 * time.Second
	n := newBinder(t, h, lease)
	if n.Lease() != lease {
		t.Errorf("Lease() = %v", n.Lease())
	}
	nh := hostHandle(t, h)
	ctx := t.Context()

	expiring := []vrrpio.VIP{vip4("198.18.0.110/24"), vip4("fd00::110/64")}
	refreshed := []vrrpio.VIP{vip4("198.18.0.111/24"), vip4("fd00::111/64")}
	start := time.Now()
	if err := n.Bind(ctx, "eth0", append(expiring, refreshed...)); err != nil {
		t.Fatal(err)
	}
	shown := ipAddrs(t, h, "eth0")
	for _, v := range append(expiring, refreshed...) {
		a := shown[v.Prefix.String()]
		if !a.Dynamic || a.ValidLft < 1 || a.ValidLft > 2 || a.PrefLft != a.ValidLft {
			t.Errorf("%v: ip shows %+v; want dynamic, valid_lft = preferred_lft = 2s or a little less", v.Prefix, a)
		}
	}

	var goneAfter time.Duration
	deadline := start.Add(8 * time.Second)
	lastRefresh := start
	for time.Now().Before(deadline) {
		if time.Since(lastRefresh) >= time.Second {
			if err := n.Bind(ctx, "eth0", refreshed); err != nil {
				t.Fatal(err)
			}
			lastRefresh = time.Now()
		}
		for _, v := range refreshed {
			if _, ok := kernelAddr(t, nh, "eth0", v.Prefix); !ok {
				t.Fatalf("refreshed %v expired after %v", v.Prefix, time.Since(start))
			}
		}
		gone := 0
		for _, v := range expiring {
			if _, ok := kernelAddr(t, nh, "eth0", v.Prefix); !ok {
				gone++
			}
		}
		if gone == len(expiring) && goneAfter == 0 {
			goneAfter = time.Since(start)
			if goneAfter < lease-100*time.Millisecond {
				t.Errorf("leased addresses gone after %v, before their lease of %v", goneAfter, lease)
			}
		}
		// Watch the refreshed addresses for a second past the expiry of
		// the others, bound with them.
		if goneAfter != 0 && time.Since(start) > goneAfter+time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if goneAfter == 0 {
		t.Fatalf("addresses with a lease of %v still there after %v", lease, time.Since(start))
	}
	t.Logf("unrefreshed addresses expired after %v; refreshed ones stayed for %v", goneAfter.Round(10*time.Millisecond),
		time.Since(start).Round(10*time.Millisecond))
}

// readSysctlIn reads /proc/sys/net/ipv4/conf/DEV/NAME in host h.
func readSysctlIn(t *testing.T, h *netns.Host, dev, name string) string {
	t.Helper()
	var v string
	if err := h.Do(func() error {
		var err error
		v, err = readSysctl(dev, name)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func testVMAC(t *testing.T, h1, h2 *netns.Host) {
	n1 := newBinder(t, h1, 0)
	n2 := newBinder(t, h2, 0)
	nh1 := hostHandle(t, h1)
	ctx := t.Context()

	eth0, err := nh1.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range parentSysctls {
		if v := readSysctlIn(t, h1, "eth0", s.name); v != "0" {
			t.Fatalf("eth0 starts with %s = %s; the test expects 0", s.name, v)
		}
	}

	type vmac struct {
		name   string
		family vrrpio.Family
		mac    string
	}
	vmacs := []vmac{{"vrrp.51", vrrpio.IPv4, "00:00:5e:00:01:33"}, {"vrrp6.51", vrrpio.IPv6, "00:00:5e:00:02:33"}}
	index := map[string]int{}
	for round := range 2 { // the second AddVMAC adopts the first one's
		for _, v := range vmacs {
			if err := n1.AddVMAC(ctx, "eth0", v.name, 51, v.family); err != nil {
				t.Fatalf("AddVMAC(%s) round %d: %v", v.name, round, err)
			}
			link, err := nh1.LinkByName(v.name)
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, v.name, err)
			}
			mv, ok := link.(*netlink.Macvlan)
			if !ok {
				t.Fatalf("%s is a %s", v.name, link.Type())
			}
			a := mv.Attrs()
			if a.HardwareAddr.String() != v.mac || mv.Mode != netlink.MACVLAN_MODE_BRIDGE ||
				a.ParentIndex != eth0.Attrs().Index || a.Flags&net.FlagUp == 0 {
				t.Errorf("%s: MAC %s mode %d parent %d flags %v; want %s bridge %d up", v.name,
					a.HardwareAddr, mv.Mode, a.ParentIndex, a.Flags, v.mac, eth0.Attrs().Index)
			}
			if round == 0 {
				index[v.name] = a.Index
			} else if a.Index != index[v.name] {
				t.Errorf("%s was created again (index %d, was %d)", v.name, a.Index, index[v.name])
			}
			out := h1.Run(t, "ip", "-d", "link", "show", "dev", v.name)
			for _, want := range []string{"link/ether " + v.mac, "macvlan mode bridge", "addrgenmode random", ",UP"} {
				if !strings.Contains(out, want) {
					t.Errorf("ip -d link show %s lacks %q:\n%s", v.name, want, out)
				}
			}
			for _, s := range vmacSysctls {
				if got := readSysctlIn(t, h1, v.name, s.name); got != s.value {
					t.Errorf("%s: %s = %s; want %s", v.name, s.name, got, s.value)
				}
			}
		}
	}
	for _, s := range parentSysctls {
		if got := readSysctlIn(t, h1, "eth0", s.name); got != s.value {
			t.Errorf("parent eth0: %s = %s; want %s", s.name, got, s.value)
		}
	}

	// Two routers sharing a VMAC get different link-local addresses, none
	// of them the EUI-64 one of the shared MAC.
	if err := n2.AddVMAC(ctx, "eth0", "vrrp.51", 51, vrrpio.IPv4); err != nil {
		t.Fatal(err)
	}
	ll1, ll2 := waitLinkLocal(t, h1, "vrrp.51"), waitLinkLocal(t, h2, "vrrp.51")
	eui64 := netip.MustParseAddr("fe80::200:5eff:fe00:133")
	if ll1 == ll2 || ll1 == eui64 || ll2 == eui64 {
		t.Errorf("link-local addresses of the VMACs: %v and %v (EUI-64 would be %v)", ll1, ll2, eui64)
	}

	// VIPs on the VMAC: host 2 reaches them at the virtual MAC, since
	// eth0 no longer answers for them.
	vips := []vrrpio.VIP{{Prefix: pfx("198.18.0.120/24"), Label: "vrrp.51:v"}}
	vips6 := []vrrpio.VIP{vip4("fd00::120/64")}
	if err := n1.Bind(ctx, "vrrp.51", vips); err != nil {
		t.Fatal(err)
	}
	if err := n1.Bind(ctx, "eth0", []vrrpio.VIP{{Prefix: vips6[0].Prefix, Device: "vrrp6.51"}}); err != nil {
		t.Fatal(err)
	}
	if a := ipAddrs(t, h1, "vrrp.51")["198.18.0.120/24"]; a.Label != "vrrp.51:v" {
		t.Errorf("ip addr show dev vrrp.51: %+v", a)
	}
	if _, ok := ipAddrs(t, h1, "vrrp6.51")["fd00::120/64"]; !ok {
		t.Error("fd00::120/64 is not on vrrp6.51")
	}
	checkAnswer(t, h2, h1, "198.18.0.120", "00:00:5e:00:01:33")
	checkAnswer(t, h2, h1, "fd00::120", "00:00:5e:00:02:33")

	// Conflicts: another VRID's MAC under the same name, an interface of
	// another kind, and refusing to delete what is not a VMAC.
	if err := n1.AddVMAC(ctx, "eth0", "vrrp.51", 52, vrrpio.IPv4); !errors.Is(err, ErrVMACConflict) {
		t.Errorf("AddVMAC with another VRID: %v; want ErrVMACConflict", err)
	}
	h1.Run(t, "ip", "link", "add", "vrrp.60", "type", "veth", "peer", "name", "other0")
	if err := n1.AddVMAC(ctx, "eth0", "vrrp.60", 60, vrrpio.IPv4); !errors.Is(err, ErrVMACConflict) {
		t.Errorf("AddVMAC over a veth: %v; want ErrVMACConflict", err)
	}
	if err := n1.AddVMAC(ctx, "nope0", "vrrp.61", 61, vrrpio.IPv4); !errors.Is(err, ErrNoDevice) {
		t.Errorf("AddVMAC on a missing parent: %v; want ErrNoDevice", err)
	}
	for _, name := range []string{"eth0", "vrrp.60"} {
		if err := n1.RemoveVMAC(ctx, name); !errors.Is(err, ErrVMACConflict) {
			t.Errorf("RemoveVMAC(%s): %v; want ErrVMACConflict", name, err)
		}
		if _, err := nh1.LinkByName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"", "waytoolongname16", "a/b"} {
		if err := n1.AddVMAC(ctx, "eth0", bad, 1, vrrpio.IPv4); err == nil {
			t.Errorf("AddVMAC(%q) succeeded", bad)
		}
	}

	// Removal, twice; the parent's sysctls come back with the last VMAC.
	for round := range 2 {
		for i, v := range vmacs {
			if err := n1.RemoveVMAC(ctx, v.name); err != nil {
				t.Fatalf("RemoveVMAC(%s) round %d: %v", v.name, round, err)
			}
			if _, err := nh1.LinkByName(v.name); err == nil {
				t.Errorf("%s still exists after RemoveVMAC", v.name)
			}
			want := "1"
			if round > 0 || i == len(vmacs)-1 {
				want = "0"
			}
			for _, s := range parentSysctls {
				if got := readSysctlIn(t, h1, "eth0", s.name); got != want {
					t.Errorf("after removing %s: eth0 %s = %s; want %s", v.name, s.name, got, want)
				}
			}
		}
	}
}

// waitLinkLocal waits for the link-local address of dev in host h.
func waitLinkLocal(t *testing.T, h *netns.Host, dev string) netip.Addr {
	t.Helper()
	var ll netip.Addr
	netns.WaitFor(t, 5*time.Second, "a link-local address on "+dev, func() bool {
		for s := range ipAddrs(t, h, dev) {
			if p, err := netip.ParsePrefix(s); err == nil && p.Addr().IsLinkLocalUnicast() {
				ll = p.Addr()
				return true
			}
		}
		return false
	})
	return ll
}

// checkAnswer has host from send a datagram to addr, a VIP on a VMAC
// of host to, and checks that the ARP reply (IPv4) or neighbour
// advertisement (IPv6) that resolves addr for from comes from the VMAC's
// MAC, and that no other interface of to answers for addr. A socket of to
// receives the datagram, so that to sends nothing back that would make
// it resolve from with addr as source.
func checkAnswer(t *testing.T, from, to *netns.Host, addr, mac string) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	network := "udp4"
	if a.Is6() {
		network = "udp6"
	}
	dst := netip.AddrPortFrom(a, 9).String()
	var sink net.PacketConn
	if err := to.Do(func() error {
		var err error
		sink, err = net.ListenPacket(network, dst)
		return err
	}); err != nil {
		t.Fatalf("listening on %s: %v", dst, err)
	}
	defer sink.Close()
	capture := from.Capture(t, "eth0")
	defer capture.Close()

	answers := func() (macs []string) {
		for _, f := range capture.Frames() {
			if r, ok := f.ARP(); ok && r.Op == arp.OperationReply && r.SenderIP == a {
				macs = append(macs, r.SenderMAC.String()+" (eth "+r.EthSrc.String()+")")
			}
			if na, ok := f.NA(); ok && na.Target == a {
				macs = append(macs, na.TargetMAC.String()+" (eth "+na.EthSrc.String()+")")
			}
		}
		return macs
	}
	netns.WaitFor(t, 5*time.Second, "an answer for "+addr, func() bool {
		if err := from.Do(func() error {
			c, err := net.Dial(network, dst)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("vrrpkit"))
			return err
		}); err != nil {
			t.Logf("sending to %s: %v", dst, err)
		}
		time.Sleep(50 * time.Millisecond)
		return len(answers()) > 0
	})
	time.Sleep(200 * time.Millisecond) // time for a second, wrong answer
	want := mac + " (eth " + mac + ")"
	for _, got := range answers() {
		if got != want {
			t.Errorf("%s answered for by %s; want only the VMAC %s", addr, got, mac)
		}
	}
}

// testRoutes adds routes and rules as keepalived's virtual_routes and
// virtual_rules do (checked against ip(8)), twice without error or
// duplicate, then removes them, twice without error.
func testRoutes(t *testing.T, h *netns.Host) {
	n := newBinder(t, h, 0)
	ctx := t.Context()
	vip := pfx("198.18.0.151/24")
	if err := n.Bind(ctx, "eth0", []vrrpio.VIP{{Prefix: vip}}); err != nil {
		t.Fatal(err)
	}
	routes := []vrrpio.Route{
		{Dst: pfx("198.19.30.0/24"), Via: netip.MustParseAddr("198.18.0.254"), Dev: "eth0"},
		{Dst: pfx("198.19.31.0/24"), Src: vip.Addr(), Dev: "eth0", Table: 100, Metric: 5},
		{Dst: pfx("198.19.32.0/24"), Type: "blackhole"},
		{Dst: pfx("0.0.0.0/0"), Via: netip.MustParseAddr("198.18.0.253"), Table: 200},
		{Dst: pfx("fd00:30::/64"), Type: "unreachable"},
	}
	rules := []vrrpio.Rule{
		{From: pfx("198.18.0.151/32"), Table: 100, Priority: 100},
		{To: pfx("198.19.33.0/24"), Table: 200, Priority: 200},
		{FWMark: 5, Table: 100, Priority: 300},
		{IIf: "eth0", Table: 100, Priority: 400, IPv6: true},
		{L3MDev: true, Priority: 500},
	}
	wantRoutes := []string{
		"198.19.30.0/24 via 198.18.0.254 dev eth0 proto keepalived",
		"198.19.31.0/24 dev eth0 table 100 proto keepalived src 198.18.0.151 metric 5",
		"blackhole 198.19.32.0/24 proto keepalived",
		"default via 198.18.0.253 dev eth0 table 200 proto keepalived",
		"unreachable fd00:30::/64 dev lo proto keepalived metric 1024 pref medium",
	}
	wantRules := []string{
		"100:\tfrom 198.18.0.151 lookup 100 proto keepalived",
		"200:\tfrom all to 198.19.33.0/24 lookup 200 proto keepalived",
		"300:\tfrom all fwmark 0x5 lookup 100 proto keepalived",
		"400:\tfrom all iif eth0 lookup 100 proto keepalived",
		"500:\tfrom all lookup [l3mdev-table] proto keepalived",
	}
	lines := func(args ...string) []string {
		var out []string
		for _, l := range strings.Split(h.Run(t, "ip", args...), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
		return out
	}
	has := func(list []string, want string) bool {
		want = strings.Join(strings.Fields(want), " ")
		n := 0
		for _, l := range list {
			if l == want {
				n++
			}
		}
		if n > 1 {
			t.Errorf("%q is there %d times", want, n)
		}
		return n == 1
	}
	for round := range 2 {
		if err := n.BindRoutes(ctx, routes, rules); err != nil {
			t.Fatalf("BindRoutes (round %d): %v", round, err)
		}
		got := append(lines("-4", "route", "show", "table", "all"), lines("-6", "route", "show", "table", "all")...)
		for _, w := range wantRoutes {
			if !has(got, w) {
				t.Errorf("round %d: no route %q in\n%s", round, w, strings.Join(got, "\n"))
			}
		}
		gotRules := append(lines("-4", "rule"), lines("-6", "rule")...)
		for _, w := range wantRules {
			if !has(gotRules, w) {
				t.Errorf("round %d: no rule %q in\n%s", round, w, strings.Join(gotRules, "\n"))
			}
		}
	}
	for round := range 2 {
		if err := n.UnbindRoutes(ctx, routes, rules); err != nil {
			t.Fatalf("UnbindRoutes (round %d): %v", round, err)
		}
	}
	for _, l := range append(append(lines("-4", "route", "show", "table", "all"), lines("-6", "route", "show", "table", "all")...),
		append(lines("-4", "rule"), lines("-6", "rule")...)...) {
		if strings.Contains(l, "proto keepalived") {
			t.Errorf("left after UnbindRoutes: %q", l)
		}
	}
	if err := n.Unbind(ctx, "eth0", []vrrpio.VIP{{Prefix: vip}}); err != nil {
		t.Error(err)
	}
}
