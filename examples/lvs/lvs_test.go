package lvs

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netns"

	"github.com/vrrpkit/vrrpkit/health"
)

func TestConversions(t *testing.T) {
	svc, err := toService(pool.Service{Addr: netip.MustParseAddrPort("127.0.0.1:80"), Protocol: pool.ProtocolUDP, Scheduler: "wrr"})
	if err != nil {
		t.Fatal(err)
	}
	if !svc.Address.Equal(net.IPv4(127, 0, 0, 1)) || len(svc.Address) != 4 || svc.Port != 80 ||
		svc.Protocol != syscall.IPPROTO_UDP || svc.SchedName != "wrr" ||
		svc.AddressFamily != syscall.AF_INET || svc.Netmask != 0xffffffff {
		t.Errorf("IPv4 service %+v", svc)
	}
	svc, err = toService(pool.Service{Addr: netip.MustParseAddrPort("[::1]:443")})
	if err != nil {
		t.Fatal(err)
	}
	if svc.AddressFamily != syscall.AF_INET6 || svc.Netmask != 128 || svc.Protocol != syscall.IPPROTO_TCP || svc.SchedName != "wlc" {
		t.Errorf("IPv6 service %+v", svc)
	}
	if _, err := toService(pool.Service{}); err == nil {
		t.Error("a service without an address converted")
	}
	// Persistence: the flag, the timeout in seconds (rounded up) and the
	// mask, in network byte order for IPv4 and as a prefix length for
	// IPv6.
	svc, err = toService(pool.Service{Addr: netip.MustParseAddrPort("198.18.0.1:80"), Persistence: 1500 * time.Millisecond,
		PersistenceMask: netip.MustParseAddr("255.255.255.0"), PersistenceEngine: "sip"})
	if err != nil {
		t.Fatal(err)
	}
	mask := []byte{255, 255, 255, 0}
	if svc.Flags != ipvsPersistent || svc.Timeout != 2 || svc.Netmask != binary.NativeEndian.Uint32(mask) || svc.PEName != "sip" || svc.FWMark != 0 {
		t.Errorf("persistent IPv4 service %+v", svc)
	}
	svc, err = toService(pool.Service{Addr: netip.MustParseAddrPort("198.18.0.1:0"), Persistence: 360 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Flags != ipvsPersistent || svc.Timeout != 360 || svc.Netmask != 0xffffffff || svc.Port != 0 {
		t.Errorf("persistent IPv4 service without a mask %+v", svc)
	}
	// Firewall marks: the mark and the family, no address.
	svc, err = toService(pool.Service{FWMark: 9, IPv6: true, Persistence: time.Minute, PersistenceMask: netip.MustParseAddr("ffff:ffff:ffff::")})
	if err != nil {
		t.Fatal(err)
	}
	if svc.FWMark != 9 || svc.Address != nil || svc.AddressFamily != syscall.AF_INET6 || svc.Netmask != 48 || svc.Timeout != 60 || svc.Flags != ipvsPersistent {
		t.Errorf("IPv6 fwmark service %+v", svc)
	}
	svc, err = toService(pool.Service{FWMark: 9})
	if err != nil {
		t.Fatal(err)
	}
	if svc.FWMark != 9 || svc.AddressFamily != syscall.AF_INET || svc.Netmask != 0xffffffff || svc.Flags != 0 || svc.Timeout != 0 {
		t.Errorf("IPv4 fwmark service %+v", svc)
	}
	if _, err := toService(pool.Service{FWMark: 9, Addr: netip.MustParseAddrPort("198.18.0.1:80")}); !errors.Is(err, pool.ErrService) {
		t.Errorf("a service with an address and a mark: %v", err)
	}

	for _, fwd := range []pool.Forwarding{pool.ForwardNAT, pool.ForwardDR, pool.ForwardTUN} {
		for _, a := range []string{"127.0.0.1:8080", "[::1]:8080", "[::ffff:127.0.0.1]:8080"} {
			d := pool.Destination{Addr: netip.MustParseAddrPort(a), Weight: 7, Forwarding: fwd}
			dst, err := toDestination(d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := fromDestination(dst)
			if err != nil {
				t.Fatal(err)
			}
			want := d
			want.Addr = netip.AddrPortFrom(d.Addr.Addr().Unmap(), d.Addr.Port())
			if back != want {
				t.Errorf("%v: round trip gave %v", d, back)
			}
		}
	}
	if d, _ := toDestination(pool.Destination{Addr: netip.MustParseAddrPort("127.0.0.1:1")}); d.ConnectionFlags != ipvs.ConnFwdMasq {
		t.Errorf("default forwarding flags %#x, want masquerade", d.ConnectionFlags)
	}
	if _, err := toDestination(pool.Destination{Addr: netip.MustParseAddrPort("127.0.0.1:1"), Forwarding: 9}); err == nil {
		t.Error("an unknown forwarding method converted")
	}
	if d, _ := fromDestination(&ipvs.Destination{Address: net.IPv4(127, 0, 0, 2), Port: 1, ConnectionFlags: ipvs.ConnFwdLocalNode}); d.Forwarding != pool.ForwardDefault ||
		d.Addr != netip.MustParseAddrPort("127.0.0.2:1") {
		t.Errorf("local-node destination read as %v", d)
	}
}

// TestIPVS programs the kernel's IPVS table through a BalancerSync, in a
// network namespace of its own so that the host's table is left alone.
// It needs the ip_vs module (/proc/net/ip_vs) and root.
func TestIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		// A plain skip, not testenv.Skip: CI runs on a kernel without
		// IP_VS and must pass there.
		t.Skip("IPVS is not available on this kernel (/proc/net/ip_vs is absent: ip_vs is not loaded or not built); " +
			"this test runs only where it is, and CI's kernel has no IP_VS")
	}
	if os.Geteuid() != 0 {
		t.Skip("programming IPVS needs root (CAP_NET_ADMIN)")
	}
	nsPath := newNetns(t)
	lb, err := NewIn(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	ctx := t.Context()

	for _, vip := range []string{"198.18.0.10:80", "[fd00::10]:80"} {
		t.Run(vip, func(t *testing.T) {
			v := netip.MustParseAddrPort(vip)
			rs := func(i int) netip.AddrPort { return netip.AddrPortFrom(v.Addr(), uint16(8000+i)) }
			s := &pool.BalancerSync{Balancer: lb, Service: pool.Service{Addr: v, Scheduler: "wrr", Forwarding: pool.ForwardDR}}
			read := func() []pool.Destination {
				t.Helper()
				ds, err := lb.Destinations(ctx, pool.Service{Addr: v, Scheduler: "wrr"})
				if err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(ds, func(a, b pool.Destination) int { return a.Addr.Compare(b.Addr) })
				return ds
			}
			apply := func(ms ...pool.Member) {
				t.Helper()
				if err := s.Apply(ctx, pool.Membership{Members: ms}); err != nil {
					t.Fatal(err)
				}
			}
			apply(pool.Member{Name: "a", Addr: rs(1), Weight: 3}, pool.Member{Name: "b", Addr: rs(2), Weight: 1, Forwarding: pool.ForwardTUN})
			want := []pool.Destination{{Addr: rs(1), Weight: 3, Forwarding: pool.ForwardDR}, {Addr: rs(2), Weight: 1, Forwarding: pool.ForwardTUN}}
			if got := read(); !slices.Equal(got, want) {
				t.Fatalf("destinations %v, want %v", got, want)
			}
			// b fails with inhibit_on_failure; c joins; a leaves.
			apply(pool.Member{Name: "b", Addr: rs(2), Weight: 0, Forwarding: pool.ForwardTUN}, pool.Member{Name: "c", Addr: rs(3), Weight: 5})
			want = []pool.Destination{{Addr: rs(2), Weight: 0, Forwarding: pool.ForwardTUN}, {Addr: rs(3), Weight: 5, Forwarding: pool.ForwardDR}}
			if got := read(); !slices.Equal(got, want) {
				t.Fatalf("destinations %v, want %v", got, want)
			}
			// A changed scheduler is applied to the existing service.
			s.Service.Scheduler = "rr"
			apply(pool.Member{Name: "c", Addr: rs(3), Weight: 5})
			x, err := lb.h.GetService(mustService(t, s.Service))
			if err != nil || x.SchedName != "rr" {
				t.Errorf("scheduler %v (%v), want rr", x, err)
			}
			// Idempotent removals.
			if err := lb.RemoveDestination(ctx, s.Service, pool.Destination{Addr: rs(9)}); err != nil {
				t.Errorf("removing a missing destination: %v", err)
			}
			if err := s.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(ctx); err != nil {
				t.Errorf("removing a missing service: %v", err)
			}
			if svcs, err := lb.h.GetServices(); err != nil || len(svcs) != 0 {
				t.Errorf("services left: %v (%v)", svcs, err)
			}
		})
	}
}

// TestIPVSPersistenceAndFWMark programs persistent and firewall-mark
// services into the kernel's IPVS table and reads them back, in a network
// namespace of its own. It needs the ip_vs module and root.
func TestIPVSPersistenceAndFWMark(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Skip("IPVS is not available on this kernel (/proc/net/ip_vs is absent: the ip_vs module is not loaded or not built); " +
			"this test runs only where it is, and CI's kernel has no IP_VS")
	}
	if os.Geteuid() != 0 {
		t.Skip("programming IPVS needs root (CAP_NET_ADMIN)")
	}
	lb, err := NewIn(newNetns(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		svc  pool.Service
		rs   netip.AddrPort
	}{
		{"persistent IPv4", pool.Service{Addr: netip.MustParseAddrPort("198.18.0.10:80"), Scheduler: "rr", Persistence: 360 * time.Second,
			PersistenceMask: netip.MustParseAddr("255.255.255.0")}, netip.MustParseAddrPort("198.18.1.1:80")},
		{"persistent IPv6", pool.Service{Addr: netip.MustParseAddrPort("[fd00::10]:443"), Persistence: 50 * time.Second,
			PersistenceMask: netip.MustParseAddr("ffff:ffff:ffff:ffff::")}, netip.MustParseAddrPort("[fd00::1:1]:443")},
		{"catch-all port", pool.Service{Addr: netip.MustParseAddrPort("198.18.0.11:0"), Persistence: 360 * time.Second}, netip.MustParseAddrPort("198.18.1.1:0")},
		{"fwmark IPv4", pool.Service{FWMark: 5, Scheduler: "wrr", Persistence: 60 * time.Second}, netip.MustParseAddrPort("198.18.1.2:0")},
		{"fwmark IPv6", pool.Service{FWMark: 5, IPv6: true, Forwarding: pool.ForwardDR}, netip.MustParseAddrPort("[fd00::1:2]:0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &pool.BalancerSync{Balancer: lb, Service: tc.svc}
			if err := s.Apply(ctx, pool.Membership{Members: []pool.Member{{Name: "a", Addr: tc.rs, Weight: 2}}}); err != nil {
				t.Fatal(err)
			}
			want := mustService(t, tc.svc)
			got, err := lb.h.GetService(want)
			if err != nil {
				t.Fatal(err)
			}
			if got.FWMark != want.FWMark || got.AddressFamily != want.AddressFamily || got.Flags&ipvsPersistent != want.Flags ||
				got.Timeout != want.Timeout || got.Netmask != want.Netmask {
				t.Errorf("kernel holds %+v, want %+v", got, want)
			}
			ds, err := lb.Destinations(ctx, tc.svc)
			if err != nil || len(ds) != 1 || ds[0].Addr != tc.rs || ds[0].Weight != 2 {
				t.Errorf("destinations %v (%v)", ds, err)
			}
			// Persistence off, on an existing service (not on the
			// catch-all port, which is for persistent services).
			if tc.svc.Persistence > 0 && (tc.svc.FWMark != 0 || tc.svc.Addr.Port() != 0) {
				off := tc.svc
				off.Persistence, off.PersistenceMask = 0, netip.Addr{}
				if err := lb.EnsureService(ctx, off); err != nil {
					t.Fatal(err)
				}
				if got, err := lb.h.GetService(mustService(t, off)); err != nil || got.Flags&ipvsPersistent != 0 || got.Timeout != 0 {
					t.Errorf("after turning persistence off: %+v (%v)", got, err)
				}
			}
			if err := s.Remove(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func mustService(t *testing.T, s pool.Service) *ipvs.Service {
	t.Helper()
	svc, err := toService(s)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newNetns creates a named network namespace for the test and returns its
// path; it is deleted at the end of the test.
func newNetns(t *testing.T) string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	name := fmt.Sprintf("vrrpkit-%d-lvs", os.Getpid())
	ns, err := netns.NewNamed(name) // also moves this thread into it
	if err != nil {
		t.Fatalf("creating network namespace %s: %v", name, err)
	}
	ns.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("returning to the original network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting network namespace %s: %v", name, err)
		}
	})
	return filepath.Join("/var/run/netns", name)
}

// Wiring a Pool to IPVS. (Not run: it needs IPVS and root.)
func Example() {
	lb, err := New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lb.Close()
	sync := &pool.BalancerSync{Balancer: lb, Service: pool.Service{
		Addr:       netip.MustParseAddrPort("127.0.0.1:80"),
		Protocol:   pool.ProtocolTCP,
		Scheduler:  "wrr",          // lb_algo
		Forwarding: pool.ForwardDR, // lb_kind
	}}
	var backends []pool.Backend
	for i := range 3 {
		a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(8080+i))
		backends = append(backends, pool.Backend{
			Addr:             a,
			Weight:           2,
			InhibitOnFailure: true,
			Checks:           []health.Check{{Checker: health.TCP{Address: a.String()}, Fall: 2}},
		})
	}
	pool, err := pool.New(pool.Config{
		Name: "web", Backends: backends, Quorum: 4, Hysteresis: 1,
		Sorry:    &pool.Backend{Addr: netip.MustParseAddrPort("127.0.0.1:9090")},
		OnChange: sync.Apply,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = pool.Run(ctx)
	_ = sync.Remove(context.Background())
}

// Without IPVS in the kernel, NewIn says so instead of returning a handle
// whose requests fail one by one.
func TestNewInUnavailable(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS")
	}
	x, err := NewIn("")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewIn = %v, %v; want ErrUnavailable", x, err)
	}
}
