package lvs

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for Memory.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var (
	vip   = netip.MustParseAddrPort("198.18.0.10:80")
	rs1   = netip.MustParseAddrPort("198.18.1.1:80")
	rs2   = netip.MustParseAddrPort("198.18.1.2:80")
	rs3   = netip.MustParseAddrPort("198.18.1.3:80")
	alice = netip.MustParseAddr("198.18.100.1")
)

// newMemory returns a Memory on a fake clock holding s with rs1, rs2 and
// rs3 at weight 1.
func newMemory(t *testing.T, s pool.Service) (*Memory, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := &Memory{Now: clk.now}
	ctx := t.Context()
	if err := m.EnsureService(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.AddrPort{rs1, rs2, rs3} {
		if err := m.AddDestination(ctx, s, pool.Destination{Addr: a, Weight: 1, Forwarding: pool.ForwardNAT}); err != nil {
			t.Fatal(err)
		}
	}
	return m, clk
}

func connect(t *testing.T, m *Memory, c Conn) netip.AddrPort {
	t.Helper()
	d, err := m.Connect(c)
	if err != nil {
		t.Fatalf("Connect(%+v): %v", c, err)
	}
	return d.Addr
}

// Without persistence, rr rotates the same client over the destinations.
func TestMemoryRoundRobin(t *testing.T) {
	m, _ := newMemory(t, pool.Service{Addr: vip, Scheduler: "rr"})
	var got []netip.AddrPort
	for range 4 {
		got = append(got, connect(t, m, Conn{Client: alice, Dst: vip}))
	}
	if want := []netip.AddrPort{rs1, rs2, rs3, rs1}; !slices.Equal(got, want) {
		t.Errorf("destinations %v, want %v", got, want)
	}
	// Weight 0 takes no new connections.
	if err := m.UpdateDestination(t.Context(), pool.Service{Addr: vip}, pool.Destination{Addr: rs2}); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for range 4 {
		got = append(got, connect(t, m, Conn{Client: alice, Dst: vip}))
	}
	if slices.Contains(got, rs2) {
		t.Errorf("destinations %v include the quiescent %v", got, rs2)
	}
}

// Weighted round robin shares connections in proportion to the weights.
func TestMemoryWeighted(t *testing.T) {
	ctx := t.Context()
	m, _ := newMemory(t, pool.Service{Addr: vip, Scheduler: "wlc"})
	if err := m.UpdateDestination(ctx, pool.Service{Addr: vip}, pool.Destination{Addr: rs1, Weight: 3}); err != nil {
		t.Fatal(err)
	}
	count := map[netip.AddrPort]int{}
	for range 50 {
		count[connect(t, m, Conn{Client: alice, Dst: vip})]++
	}
	if count[rs1] != 30 || count[rs2] != 10 || count[rs3] != 10 {
		t.Errorf("shares %v, want 30/10/10", count)
	}
}

// A persistent service keeps a client on its destination for the timeout
// after its last connection, across a scheduler that would rotate it.
func TestMemoryPersistence(t *testing.T) {
	s := pool.Service{Addr: vip, Scheduler: "rr", Persistence: 300 * time.Second}
	m, clk := newMemory(t, s)
	bob := netip.MustParseAddr("198.18.100.2")
	first := connect(t, m, Conn{Client: alice, Dst: vip})
	other := connect(t, m, Conn{Client: bob, Dst: vip})
	if other == first {
		t.Fatalf("two clients both on %v: rr did not rotate", first)
	}
	for range 5 {
		clk.advance(299 * time.Second) // each connection restarts the timeout
		if got := connect(t, m, Conn{Client: alice, Dst: vip}); got != first {
			t.Fatalf("alice went to %v after %v, want %v", got, 299*time.Second, first)
		}
	}
	// A connection to another port is another service.
	other80 := netip.AddrPortFrom(vip.Addr(), 443)
	if _, err := m.Connect(Conn{Client: alice, Dst: other80}); !errors.Is(err, ErrNoService) {
		t.Errorf("connect to %v: %v, want ErrNoService", other80, err)
	}
	// The timeout passes: alice is scheduled again, and rr moves on.
	clk.advance(300 * time.Second)
	if got := connect(t, m, Conn{Client: alice, Dst: vip}); got == first {
		t.Errorf("alice still on %v after the timeout", first)
	}
}

// A quiescent destination (weight 0) keeps its persistent clients, as in
// IPVS; a removed one loses them.
func TestMemoryPersistenceDestinationChanges(t *testing.T) {
	ctx := t.Context()
	s := pool.Service{Addr: vip, Scheduler: "rr", Persistence: time.Minute}
	m, _ := newMemory(t, s)
	first := connect(t, m, Conn{Client: alice, Dst: vip})
	if err := m.UpdateDestination(ctx, s, pool.Destination{Addr: first}); err != nil {
		t.Fatal(err)
	}
	if got := connect(t, m, Conn{Client: alice, Dst: vip}); got != first {
		t.Errorf("after weight 0: alice went to %v, want %v", got, first)
	}
	if err := m.RemoveDestination(ctx, s, pool.Destination{Addr: first}); err != nil {
		t.Fatal(err)
	}
	if got := connect(t, m, Conn{Client: alice, Dst: vip}); got == first {
		t.Errorf("after removal: alice still goes to %v", got)
	}
	// Turning persistence off forgets the clients.
	s.Persistence = 0
	if err := m.EnsureService(ctx, s); err != nil {
		t.Fatal(err)
	}
	a, b := connect(t, m, Conn{Client: alice, Dst: vip}), connect(t, m, Conn{Client: alice, Dst: vip})
	if a == b {
		t.Errorf("without persistence alice went to %v twice", a)
	}
}

// persistence_granularity: the clients of one subnet share a destination;
// another subnet is scheduled on its own.
func TestMemoryPersistenceGranularity(t *testing.T) {
	for _, tc := range []struct {
		name       string
		vip        netip.AddrPort
		mask       string
		same, diff string
		base       string
	}{
		{"IPv4 /24", vip, "255.255.255.0", "198.18.100.200", "198.18.101.1", "198.18.100.1"},
		{"IPv4 non-contiguous", vip, "255.255.0.255", "198.18.7.1", "198.18.100.2", "198.18.100.1"},
		{"IPv6 /64", netip.MustParseAddrPort("[fd00::10]:80"), "ffff:ffff:ffff:ffff::", "fd00:0:0:1::99", "fd00:0:0:2::1", "fd00:0:0:1::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pool.Service{Addr: tc.vip, Scheduler: "rr", Persistence: time.Minute, PersistenceMask: netip.MustParseAddr(tc.mask)}
			m := &Memory{}
			ctx := t.Context()
			if err := m.EnsureService(ctx, s); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				a := netip.AddrPortFrom(tc.vip.Addr(), uint16(8000+i))
				if err := m.AddDestination(ctx, s, pool.Destination{Addr: a, Weight: 1}); err != nil {
					t.Fatal(err)
				}
			}
			first := connect(t, m, Conn{Client: netip.MustParseAddr(tc.base), Dst: tc.vip})
			if got := connect(t, m, Conn{Client: netip.MustParseAddr(tc.same), Dst: tc.vip}); got != first {
				t.Errorf("%s went to %v, want %v as %s", tc.same, got, first, tc.base)
			}
			if got := connect(t, m, Conn{Client: netip.MustParseAddr(tc.diff), Dst: tc.vip}); got == first {
				t.Errorf("%s of another subnet went to %v too", tc.diff, got)
			}
		})
	}
}

// Firewall-mark services are found by the mark (and the family), whatever
// the address and port; persistence then spans every port.
func TestMemoryFWMark(t *testing.T) {
	ctx := t.Context()
	s := pool.Service{FWMark: 7, Scheduler: "rr", Persistence: time.Minute}
	m, _ := newMemory(t, s)
	a := netip.MustParseAddrPort("198.18.0.20:80")
	b := netip.MustParseAddrPort("198.18.0.21:443")
	first := connect(t, m, Conn{Client: alice, Dst: a, Mark: 7})
	if got := connect(t, m, Conn{Client: alice, Dst: b, Mark: 7, Protocol: pool.ProtocolUDP}); got != first {
		t.Errorf("mark 7 to %v went to %v, want %v (persistence across ports)", b, got, first)
	}
	if _, err := m.Connect(Conn{Client: alice, Dst: a, Mark: 8}); !errors.Is(err, ErrNoService) {
		t.Errorf("mark 8: %v, want ErrNoService", err)
	}
	if _, err := m.Connect(Conn{Client: alice, Dst: a}); !errors.Is(err, ErrNoService) {
		t.Errorf("no mark: %v, want ErrNoService", err)
	}
	// An IPv4 mark service does not take IPv6 packets.
	v6 := Conn{Client: netip.MustParseAddr("fd00::99"), Dst: netip.MustParseAddrPort("[fd00::20]:80"), Mark: 7}
	if _, err := m.Connect(v6); !errors.Is(err, ErrNoService) {
		t.Errorf("IPv6 packet with mark 7: %v, want ErrNoService", err)
	}
	s6 := pool.Service{FWMark: 7, IPv6: true, Scheduler: "rr"}
	if err := m.EnsureService(ctx, s6); err != nil {
		t.Fatal(err)
	}
	rs6 := netip.MustParseAddrPort("[fd00::1:1]:80")
	if err := m.AddDestination(ctx, s6, pool.Destination{Addr: rs6, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if got := connect(t, m, v6); got != rs6 {
		t.Errorf("IPv6 mark 7 went to %v, want %v", got, rs6)
	}
	// The mark is looked up before the address.
	addr := pool.Service{Addr: a, Scheduler: "rr"}
	if err := m.EnsureService(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if err := m.AddDestination(ctx, addr, pool.Destination{Addr: rs6, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if got := connect(t, m, Conn{Client: alice, Dst: a, Mark: 7}); got != first {
		t.Errorf("marked packet to %v went to %v, want the mark service's %v", a, got, first)
	}
	if got := connect(t, m, Conn{Client: alice, Dst: a}); got != rs6 {
		t.Errorf("unmarked packet to %v went to %v, want the address service's %v", a, got, rs6)
	}
	want := []string{"FWM 7", "FWM 7 IPv6", "TCP 198.18.0.20:80"}
	var got []string
	for _, s := range m.Services() {
		got = append(got, s.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Services() = %v, want %v", got, want)
	}
}

// A persistent catch-all service (port 0) takes the ports that have no
// service of their own.
func TestMemoryCatchAllPort(t *testing.T) {
	s := pool.Service{Addr: netip.AddrPortFrom(vip.Addr(), 0), Scheduler: "rr", Persistence: time.Minute}
	m, _ := newMemory(t, s)
	first := connect(t, m, Conn{Client: alice, Dst: netip.AddrPortFrom(vip.Addr(), 22)})
	if got := connect(t, m, Conn{Client: alice, Dst: netip.AddrPortFrom(vip.Addr(), 8080)}); got != first {
		t.Errorf("port 8080 went to %v, want %v", got, first)
	}
}

// A BalancerSync drives a Memory as it drives IPVS.
func TestMemoryBalancerSync(t *testing.T) {
	ctx := t.Context()
	m := &Memory{}
	s := &pool.BalancerSync{Balancer: m, Service: pool.Service{FWMark: 3, Scheduler: "rr", Persistence: time.Minute,
		PersistenceMask: netip.MustParseAddr("255.255.255.0")}}
	if err := s.Apply(ctx, pool.Membership{Members: []pool.Member{{Name: "a", Addr: rs1, Weight: 2}, {Name: "b", Addr: rs2, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	ds, err := m.Destinations(ctx, pool.Service{FWMark: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []pool.Destination{{Addr: rs1, Weight: 2, Forwarding: pool.ForwardNAT}, {Addr: rs2, Weight: 1, Forwarding: pool.ForwardNAT}}
	if !slices.Equal(ds, want) {
		t.Errorf("destinations %v, want %v", ds, want)
	}
	if got := m.Services(); len(got) != 1 || got[0].Persistence != time.Minute || got[0].Scheduler != "rr" {
		t.Errorf("services %+v", got)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Destinations(ctx, pool.Service{FWMark: 3}); !errors.Is(err, ErrNoService) {
		t.Errorf("after Remove: %v, want ErrNoService", err)
	}
}

// Bad input is refused with an error, never a panic.
func TestMemoryErrors(t *testing.T) {
	ctx := t.Context()
	m := &Memory{}
	for _, s := range []pool.Service{
		{},
		{Addr: vip, FWMark: 1},
		{Addr: vip, Persistence: time.Second, PersistenceEngine: "sip"},
	} {
		if err := m.EnsureService(ctx, s); err == nil {
			t.Errorf("EnsureService(%+v) succeeded", s)
		}
	}
	if err := m.AddDestination(ctx, pool.Service{Addr: vip}, pool.Destination{Addr: rs1}); !errors.Is(err, ErrNoService) {
		t.Errorf("AddDestination to a missing service: %v", err)
	}
	if err := m.EnsureService(ctx, pool.Service{Addr: vip}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddDestination(ctx, pool.Service{Addr: vip}, pool.Destination{}); err == nil {
		t.Error("AddDestination of an invalid destination succeeded")
	}
	if _, err := m.Connect(Conn{Client: alice, Dst: vip}); !errors.Is(err, ErrNoDestination) {
		t.Errorf("Connect to an empty service: %v, want ErrNoDestination", err)
	}
	if _, err := m.Connect(Conn{Dst: vip}); err == nil || !strings.Contains(err.Error(), "client address") {
		t.Errorf("Connect without a client: %v", err)
	}
	if err := m.RemoveService(ctx, pool.Service{Addr: rs3}); err != nil {
		t.Errorf("removing a missing service: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.EnsureService(canceled, pool.Service{Addr: vip}); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureService with a cancelled context: %v", err)
	}
}
