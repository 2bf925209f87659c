package fake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

var (
	a1  = netip.MustParseAddr("192.0.2.1")
	a2  = netip.MustParseAddr("192.0.2.2")
	a3  = netip.MustParseAddr("192.0.2.3")
	a4  = netip.MustParseAddr("192.0.2.4")
	ll1 = netip.MustParseAddr("fe80::1")
	ll2 = netip.MustParseAddr("fe80::2")
	gl1 = netip.MustParseAddr("2001:db8::1")
)

var ep4 = vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4}

func open(t *testing.T, h *Host, ep vrrp.Endpoint) *Conn {
	t.Helper()
	c, err := h.Open(context.Background(), ep)
	if err != nil {
		t.Fatalf("Open(%v, %+v): %v", h, ep, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*Conn)
}

func write(t *testing.T, c *Conn, msg []byte, src, dst netip.Addr) {
	t.Helper()
	if err := c.WriteTo(msg, src, dst); err != nil {
		t.Fatalf("WriteTo(%v, %v): %v", src, dst, err)
	}
}

// read reads a queued packet without blocking; it fails when none is
// queued, or when the packet has no arrival time, which it then clears
// for the callers' comparisons.
func read(t *testing.T, c *Conn) ([]byte, vrrp.PacketInfo) {
	t.Helper()
	if c.Pending() == 0 {
		t.Fatalf("%v/%s: no packet queued", c.Host(), c.Interface())
	}
	b := make([]byte, 2048)
	n, info, err := c.ReadFrom(b)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if info.Time.IsZero() {
		t.Errorf("%v/%s: packet without an arrival time", c.Host(), c.Interface())
	}
	info.Time = time.Time{}
	return b[:n], info
}

func expectNone(t *testing.T, cs ...*Conn) {
	t.Helper()
	for _, c := range cs {
		if n := c.Pending(); n != 0 {
			t.Errorf("%v/%s: %d packets queued, want none", c.Host(), c.Interface(), n)
		}
	}
}

func expectPending(t *testing.T, c *Conn, want int) {
	t.Helper()
	if n := c.Pending(); n != want {
		t.Errorf("%v/%s: %d packets queued, want %d", c.Host(), c.Interface(), n, want)
	}
}

func TestMulticastDelivery(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA, hB, hC := seg.NewHost("a", a1), seg.NewHost("b", a2), seg.NewHost("c", a3, ll2)
	cA, cB, cC := open(t, hA, ep4), open(t, hB, ep4), open(t, hC, ep4)
	cC6 := open(t, hC, vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv6})

	msg := []byte("hello")
	write(t, cA, msg, netip.Addr{}, vrrp.Group4)
	msg[0] = 'X' // the receivers must hold copies

	for _, c := range []*Conn{cB, cC} {
		got, info := read(t, c)
		if string(got) != "hello" {
			t.Errorf("%v got %q, want %q", c.Host(), got, "hello")
		}
		want := vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}
		if info != want {
			t.Errorf("%v got info %+v, want %+v", c.Host(), info, want)
		}
	}
	expectNone(t, cA, cB, cC, cC6) // no self-delivery, no other family
	if st := seg.Stats(); st.Sent != 1 || st.Delivered != 2 {
		t.Errorf("stats %+v, want Sent 1 Delivered 2", st)
	}
}

func TestSelfNoLoopbackAcrossInterfaces(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA, hB := seg.NewHost("a", a1), seg.NewHost("b", a2)
	cA0 := open(t, hA, ep4)
	cA1 := open(t, hA, vrrp.Endpoint{Interface: "eth1", Family: vrrp.IPv4})
	cB := open(t, hB, ep4)
	write(t, cA0, []byte("x"), netip.Addr{}, vrrp.Group4)
	expectNone(t, cA0, cA1)
	expectPending(t, cB, 1)
	write(t, cB, []byte("y"), netip.Addr{}, vrrp.Group4)
	expectPending(t, cA0, 1)
	expectPending(t, cA1, 1)
	if cA1.Interface() != "eth1" || cA1.Group() != vrrp.Group4 || cA1.Family() != vrrp.IPv4 {
		t.Errorf("conn attributes %s %v %v", cA1.Interface(), cA1.Group(), cA1.Family())
	}
}

func TestUnicastDelivery(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA, hB, hC := seg.NewHost("a", a1), seg.NewHost("b", a2, a4), seg.NewHost("c", a3)
	cA, cB, cC := open(t, hA, ep4), open(t, hB, ep4), open(t, hC, ep4)

	write(t, cA, []byte("u"), netip.Addr{}, a4) // b's second address
	_, info := read(t, cB)
	if want := (vrrp.PacketInfo{Src: a1, Dst: a4, TTL: 255}); info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
	expectNone(t, cA, cB, cC)

	write(t, cA, []byte("u"), netip.Addr{}, a1) // to itself: nobody
	write(t, cA, []byte("u"), netip.Addr{}, netip.MustParseAddr("192.0.2.99"))
	expectNone(t, cA, cB, cC)
}

func TestSpoofedSource(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	spoof := netip.MustParseAddr("198.51.100.7")
	write(t, cA, []byte("s"), spoof, vrrp.Group4)
	if _, info := read(t, cB); info.Src != spoof {
		t.Errorf("Src %v, want %v", info.Src, spoof)
	}
}

func TestIPv6(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA := seg.NewHost("a", a1, gl1, ll1)
	hB := seg.NewHost("b", ll2)
	ep6 := vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv6}
	cA, cB := open(t, hA, ep6), open(t, hB, ep6)
	cB4 := open(t, seg.NewHost("c", a3), ep4)
	if cA.LocalAddr() != ll1 {
		t.Errorf("LocalAddr %v, want the link-local %v", cA.LocalAddr(), ll1)
	}
	if cA.Group() != vrrp.Group6 {
		t.Errorf("Group %v, want %v", cA.Group(), vrrp.Group6)
	}
	write(t, cA, []byte("six"), netip.Addr{}, vrrp.Group6)
	_, info := read(t, cB)
	if want := (vrrp.PacketInfo{Src: ll1, Dst: vrrp.Group6, TTL: 255}); info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
	expectNone(t, cB4)
	write(t, cB, []byte("uni"), netip.Addr{}, gl1)
	read(t, cA)

	if a, ok := seg.NewHost("g", gl1).Addr(vrrp.IPv6); !ok || a != gl1 {
		t.Errorf("Addr without link-local = %v %v, want %v", a, ok, gl1)
	}
}

func TestGroupMembership(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	other := netip.MustParseAddr("224.0.0.19")
	cA := open(t, seg.NewHost("a", a1), ep4)
	hB := seg.NewHost("b", a2)
	cB := open(t, hB, ep4)
	cBo := open(t, hB, vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4, Group: other})
	write(t, cA, []byte("g"), netip.Addr{}, other)
	expectNone(t, cB)
	expectPending(t, cBo, 1)
	write(t, cA, []byte("g"), netip.Addr{}, vrrp.Group4)
	expectPending(t, cB, 1)
	expectPending(t, cBo, 1)
}

func TestOpenErrors(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	h := seg.NewHost("a", a1)
	ctx := context.Background()
	tests := []struct {
		ep   vrrp.Endpoint
		want error
	}{
		{vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv6}, ErrNoAddress},
		{vrrp.Endpoint{Interface: "eth0", Family: 5}, ErrEndpoint},
		{vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4, Group: a2}, ErrEndpoint},
		{vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4, Group: vrrp.Group6}, ErrEndpoint},
	}
	for _, tt := range tests {
		if _, err := h.Open(ctx, tt.ep); !errors.Is(err, tt.want) {
			t.Errorf("Open(%+v) = %v, want %v", tt.ep, err, tt.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Open(cctx, ep4); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context = %v", err)
	}
	c := open(t, h, ep4)
	seg.Close()
	if _, err := h.Open(ctx, ep4); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Open after Segment.Close = %v, want ErrClosed", err)
	}
	if err := c.WriteTo([]byte("x"), netip.Addr{}, vrrp.Group4); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteTo after Segment.Close = %v, want ErrClosed", err)
	}
	if len(h.Conns()) != 0 {
		t.Errorf("Conns after Segment.Close = %v", h.Conns())
	}
}

func TestWriteErrors(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	c := open(t, seg.NewHost("a", a1), ep4)
	for _, tt := range []struct{ src, dst netip.Addr }{
		{netip.Addr{}, netip.Addr{}},
		{netip.Addr{}, vrrp.Group6},
		{ll1, vrrp.Group4},
	} {
		if err := c.WriteTo([]byte("x"), tt.src, tt.dst); !errors.Is(err, ErrAddress) {
			t.Errorf("WriteTo(%v, %v) = %v, want ErrAddress", tt.src, tt.dst, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := c.WriteTo([]byte("x"), netip.Addr{}, vrrp.Group4); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close = %v, want net.ErrClosed", err)
	}
	if _, _, err := c.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
	}
}

func TestTruncatingRead(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	write(t, cA, []byte("0123456789"), netip.Addr{}, vrrp.Group4)
	b := make([]byte, 4)
	n, _, err := cB.ReadFrom(b)
	if err != nil || n != 4 || string(b) != "0123" {
		t.Errorf("ReadFrom = %d %q %v", n, b[:n], err)
	}
}

func TestHops(t *testing.T) {
	seg := NewSegment(SegmentConfig{Faults: Faults{Hops: 2}})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	write(t, cA, []byte("h"), netip.Addr{}, vrrp.Group4)
	if _, info := read(t, cB); info.TTL != 253 {
		t.Errorf("TTL %d, want 253", info.TTL)
	}
	seg.SetFaults(Faults{Hops: 255})
	write(t, cA, []byte("h"), netip.Addr{}, vrrp.Group4)
	expectNone(t, cB)
	if st := seg.Stats(); st.Lost != 1 {
		t.Errorf("Lost %d, want 1", st.Lost)
	}
}

func TestLoss(t *testing.T) {
	seg := NewSegment(SegmentConfig{Seed: 7, Faults: Faults{Loss: 1}})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	for range 100 {
		write(t, cA, []byte("l"), netip.Addr{}, vrrp.Group4)
	}
	expectNone(t, cB)
	if st := seg.Stats(); st.Lost != 100 || st.Delivered != 0 {
		t.Errorf("stats %+v, want Lost 100", st)
	}
	seg.SetFaults(Faults{Loss: 0})
	for range 100 {
		write(t, cA, []byte("l"), netip.Addr{}, vrrp.Group4)
	}
	expectPending(t, cB, 100)

	// A partial loss rate is roughly honoured.
	seg.SetFaults(Faults{Loss: 0.25})
	hC := seg.NewHost("c", a3)
	n := 0
	for range 10000 {
		n += len(seg.Route(hC, vrrp.PacketInfo{Src: a3, Dst: a1, TTL: 255}, nil))
	}
	if n < 7200 || n > 7800 {
		t.Errorf("%d of 10000 delivered with Loss 0.25", n)
	}
}

func TestDuplicate(t *testing.T) {
	seg := NewSegment(SegmentConfig{Faults: Faults{Duplicate: 1}})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	write(t, cA, []byte("d"), netip.Addr{}, vrrp.Group4)
	expectPending(t, cB, 2)
	m1, _ := read(t, cB)
	m2, _ := read(t, cB)
	if string(m1) != "d" || string(m2) != "d" {
		t.Errorf("copies %q %q", m1, m2)
	}
	if st := seg.Stats(); st.Duplicated != 1 || st.Delivered != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestQueueFull(t *testing.T) {
	seg := NewSegment(SegmentConfig{QueueLen: 2})
	defer seg.Close()
	cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
	for range 5 {
		write(t, cA, []byte("q"), netip.Addr{}, vrrp.Group4)
	}
	expectPending(t, cB, 2)
	if st := seg.Stats(); st.DroppedFull != 3 || st.Delivered != 2 {
		t.Errorf("stats %+v, want DroppedFull 3", st)
	}
}

// reach returns which of the conns got a packet from each of the conns,
// as "from>to" pairs, draining the queues.
func reach(t *testing.T, conns ...*Conn) map[string]bool {
	t.Helper()
	got := make(map[string]bool)
	for _, from := range conns {
		write(t, from, []byte("p"), netip.Addr{}, vrrp.Group4)
		for _, to := range conns {
			for to.Pending() > 0 {
				read(t, to)
				got[from.Host().Name()+">"+to.Host().Name()] = true
			}
		}
	}
	return got
}

func TestPartitionHeal(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA, hB, hC, hD := seg.NewHost("a", a1), seg.NewHost("b", a2), seg.NewHost("c", a3), seg.NewHost("d", a4)
	cs := []*Conn{open(t, hA, ep4), open(t, hB, ep4), open(t, hC, ep4), open(t, hD, ep4)}

	seg.Partition([]*Host{hA}, []*Host{hB})
	got := reach(t, cs...)
	want := map[string]bool{"c>d": true, "d>c": true} // the unnamed hosts form a group
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partitioned reach %v, want %v", got, want)
	}
	seg.Partition([]*Host{hA, hB}, []*Host{hC, hD})
	got = reach(t, cs...)
	want = map[string]bool{"a>b": true, "b>a": true, "c>d": true, "d>c": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partitioned reach %v, want %v", got, want)
	}
	if st := seg.Stats(); st.Blocked != 4*3-2+4*2 {
		t.Errorf("Blocked %d, want %d", st.Blocked, 4*3-2+4*2)
	}

	seg.Heal()
	if got := reach(t, cs...); len(got) != 12 {
		t.Errorf("healed reach %v, want all 12 pairs", got)
	}
}

func TestLinkDown(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA, hB := seg.NewHost("a", a1), seg.NewHost("b", a2)
	cA, cB := open(t, hA, ep4), open(t, hB, ep4)
	hB.SetLink(false)
	if hB.LinkUp() {
		t.Fatal("LinkUp after SetLink(false)")
	}
	write(t, cA, []byte("1"), netip.Addr{}, vrrp.Group4)
	write(t, cB, []byte("2"), netip.Addr{}, vrrp.Group4) // succeeds, vanishes
	expectNone(t, cA, cB)
	if n := seg.Inject(hB, vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}, []byte("i")); n != 0 {
		t.Errorf("Inject to a host with its link down reached %d conns", n)
	}
	hB.SetLink(true)
	write(t, cA, []byte("3"), netip.Addr{}, vrrp.Group4)
	write(t, cB, []byte("4"), netip.Addr{}, vrrp.Group4)
	if m, _ := read(t, cB); string(m) != "3" {
		t.Errorf("b got %q", m)
	}
	if m, _ := read(t, cA); string(m) != "4" {
		t.Errorf("a got %q", m)
	}
}

func TestMutate(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	defer seg.Close()
	hA := seg.NewHost("a", a1)
	cA, cB := open(t, hA, ep4), open(t, seg.NewHost("b", a2), ep4)
	spoof := netip.MustParseAddr("192.0.2.200")
	seg.SetMutate(func(from *Host, info *vrrp.PacketInfo, msg []byte) []byte {
		if from != hA {
			t.Errorf("mutate from %v, want a", from)
		}
		switch string(msg) {
		case "corrupt":
			msg[0] ^= 0xff
			return msg
		case "drop":
			return nil
		case "truncate":
			return msg[:3]
		case "spoof":
			info.Src, info.TTL = spoof, 1
		}
		return msg
	})
	orig := []byte("corrupt")
	write(t, cA, orig, netip.Addr{}, vrrp.Group4)
	if string(orig) != "corrupt" {
		t.Errorf("the hook changed the sender's buffer: %q", orig)
	}
	if m, _ := read(t, cB); m[0] != 'c'^0xff || string(m[1:]) != "orrupt" {
		t.Errorf("corrupted message %q", m)
	}
	write(t, cA, []byte("drop"), netip.Addr{}, vrrp.Group4)
	expectNone(t, cB)
	write(t, cA, []byte("truncate"), netip.Addr{}, vrrp.Group4)
	if m, _ := read(t, cB); string(m) != "tru" {
		t.Errorf("truncated message %q", m)
	}
	write(t, cA, []byte("spoof"), netip.Addr{}, vrrp.Group4)
	if _, info := read(t, cB); info.Src != spoof || info.TTL != 1 {
		t.Errorf("spoofed info %+v", info)
	}
	if st := seg.Stats(); st.Filtered != 1 {
		t.Errorf("Filtered %d, want 1", st.Filtered)
	}
	seg.SetMutate(nil)
	write(t, cA, []byte("drop"), netip.Addr{}, vrrp.Group4)
	expectPending(t, cB, 1)
}

func TestInject(t *testing.T) {
	seg := NewSegment(SegmentConfig{Faults: Faults{Loss: 1, Hops: 10}})
	defer seg.Close()
	hA, hB := seg.NewHost("a", a1), seg.NewHost("b", a2)
	cA, cB := open(t, hA, ep4), open(t, hB, ep4)
	var frames []Frame
	seg.Tap(func(f Frame) { frames = append(frames, f) })

	// To all: faults do not apply, group membership does.
	info := vrrp.PacketInfo{Src: netip.MustParseAddr("203.0.113.9"), Dst: vrrp.Group4, TTL: 7}
	if n := seg.Inject(nil, info, []byte("all")); n != 2 {
		t.Errorf("Inject to all reached %d conns, want 2", n)
	}
	for _, c := range []*Conn{cA, cB} {
		if m, got := read(t, c); string(m) != "all" || got != info {
			t.Errorf("%v got %q %+v, want %+v", c.Host(), m, got, info)
		}
	}
	if n := seg.Inject(nil, vrrp.PacketInfo{Src: a1, Dst: netip.MustParseAddr("224.0.0.1"), TTL: 1}, []byte("x")); n != 0 {
		t.Errorf("Inject to an unjoined group reached %d conns", n)
	}
	if n := seg.Inject(nil, vrrp.PacketInfo{Src: a1, Dst: a2, TTL: 1}, []byte("x")); n != 1 {
		t.Errorf("unicast Inject reached %d conns, want 1", n)
	}
	read(t, cB)

	// To one host: any destination of its family.
	odd := vrrp.PacketInfo{Src: a1, Dst: netip.MustParseAddr("224.0.0.1"), TTL: 254}
	if n := seg.Inject(hB, odd, []byte("odd")); n != 1 {
		t.Errorf("Inject to b reached %d conns, want 1", n)
	}
	if _, got := read(t, cB); got != odd {
		t.Errorf("b got %+v, want %+v", got, odd)
	}
	if n := seg.Inject(hB, vrrp.PacketInfo{Src: ll1, Dst: vrrp.Group6}, []byte("v6")); n != 0 {
		t.Errorf("IPv6 Inject reached %d IPv4 conns", n)
	}
	expectNone(t, cA, cB)
	if len(frames) != 5 || frames[0].From != "" || string(frames[0].Msg) != "all" {
		t.Errorf("taps saw %d frames, first %+v", len(frames), frames[0])
	}
	if st := seg.Stats(); st.Injected != 5 || st.Sent != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Faults: Faults{Loss: 1}})
		defer seg.Close()
		cA := open(t, seg.NewHost("a", a1), ep4)
		seg.NewHost("b", a2)
		var mu sync.Mutex
		var frames []Frame
		remove := seg.Tap(func(f Frame) {
			// Calling back into the segment must not deadlock.
			seg.Stats()
			seg.SetFaults(seg.Faults())
			mu.Lock()
			frames = append(frames, f)
			mu.Unlock()
		})
		start := time.Now()
		msg := []byte("tap")
		write(t, cA, msg, netip.Addr{}, vrrp.Group4)
		msg[0] = 'X'
		time.Sleep(time.Second)
		write(t, cA, []byte("two"), a3, a2)
		remove()
		write(t, cA, []byte("three"), netip.Addr{}, vrrp.Group4)

		if len(frames) != 2 {
			t.Fatalf("%d frames, want 2", len(frames))
		}
		f := frames[0]
		if f.From != "a" || string(f.Msg) != "tap" || f.Info != (vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}) || !f.Time.Equal(start) {
			t.Errorf("frame 0 %+v", f)
		}
		if f := frames[1]; f.Info.Src != a3 || f.Info.Dst != a2 || f.Time.Sub(start) != time.Second {
			t.Errorf("frame 1 %+v", f)
		}
	})
}

func TestRouteWithoutConns(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	hA, hB, hC := seg.NewHost("a", a1), seg.NewHost("b", a2), seg.NewHost("c", ll1)
	ds := seg.Route(hA, vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}, []byte("r"))
	if len(ds) != 1 || ds[0].To != hB || ds[0].Delay != 0 || string(ds[0].Msg) != "r" {
		t.Fatalf("Route = %+v, want one delivery to b", ds)
	}
	ds = seg.Route(nil, vrrp.PacketInfo{Src: ll2, Dst: vrrp.Group6, TTL: 255}, []byte("r"))
	if len(ds) != 1 || ds[0].To != hC {
		t.Fatalf("Route from no host = %+v, want one delivery to c", ds)
	}
	// Deliver to a host without Conns reaches nothing.
	if n := seg.Deliver(ds[0]); n != 0 {
		t.Errorf("Deliver = %d", n)
	}
	// Copies never alias each other or the sender.
	seg.SetFaults(Faults{Duplicate: 1})
	msg := []byte("m")
	ds = seg.Route(hC, vrrp.PacketInfo{Src: a3, Dst: vrrp.Group4, TTL: 255}, msg)
	if len(ds) != 4 {
		t.Fatalf("%d deliveries, want 4", len(ds))
	}
	ds[0].Msg[0] = 'z'
	if msg[0] != 'm' || ds[1].Msg[0] != 'm' || ds[2].Msg[0] != 'm' {
		t.Errorf("deliveries share buffers")
	}
}

func routeTrace(seed int64) string {
	seg := NewSegment(SegmentConfig{Seed: seed, Faults: Faults{
		Loss: 0.2, Duplicate: 0.2, Delay: 5 * time.Millisecond, Jitter: 3 * time.Millisecond, Reorder: 0.1, Hops: 1,
	}})
	hosts := []*Host{seg.NewHost("a", a1), seg.NewHost("b", a2), seg.NewHost("c", a3), seg.NewHost("d", a4)}
	var b bytes.Buffer
	for i := range 500 {
		if i == 200 {
			seg.Partition(hosts[:1])
		}
		if i == 300 {
			seg.Heal()
			hosts[2].SetLink(false)
		}
		from := hosts[i%len(hosts)]
		for _, d := range seg.Route(from, vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}, []byte{byte(i)}) {
			fmt.Fprintf(&b, "%d %s>%s %v %d %x\n", i, from, d.To, d.Delay, d.Info.TTL, d.Msg)
		}
	}
	fmt.Fprintf(&b, "%+v\n", seg.Stats())
	return b.String()
}

func TestRouteDeterminism(t *testing.T) {
	first := routeTrace(42)
	for range 3 {
		if again := routeTrace(42); again != first {
			t.Fatal("Route gave different results for the same seed")
		}
	}
	if other := routeTrace(43); other == first {
		t.Error("Route gave the same results for different seeds")
	}
	// The faults were exercised.
	for _, s := range []string{"Lost:", "Duplicated:", "Blocked:"} {
		if bytes.Contains([]byte(first), []byte(s+"0 ")) {
			t.Errorf("%s0 in %s", s, first[bytes.LastIndexByte([]byte(first[:len(first)-1]), '\n')+1:])
		}
	}
}

func TestRouteDelays(t *testing.T) {
	seg := NewSegment(SegmentConfig{Seed: 3, Faults: Faults{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}})
	hA := seg.NewHost("a", a1)
	seg.NewHost("b", a2)
	distinct := make(map[time.Duration]bool)
	for range 1000 {
		for _, d := range seg.Route(hA, vrrp.PacketInfo{Src: a1, Dst: a2, TTL: 255}, nil) {
			if d.Delay < 10*time.Millisecond || d.Delay >= 15*time.Millisecond {
				t.Fatalf("delay %v outside [10ms, 15ms)", d.Delay)
			}
			distinct[d.Delay] = true
		}
	}
	if len(distinct) < 100 {
		t.Errorf("only %d distinct delays", len(distinct))
	}
	seg.SetFaults(Faults{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 1})
	for _, d := range seg.Route(hA, vrrp.PacketInfo{Src: a1, Dst: a2, TTL: 255}, nil) {
		if d.Delay < 26*time.Millisecond {
			t.Errorf("reordered delay %v, want at least 26ms", d.Delay)
		}
	}
	seg.SetFaults(Faults{Reorder: 1, ReorderDelay: time.Second})
	for _, d := range seg.Route(hA, vrrp.PacketInfo{Src: a1, Dst: a2, TTL: 255}, nil) {
		if d.Delay != time.Second {
			t.Errorf("reordered delay %v, want 1s", d.Delay)
		}
	}
}

func TestDelayedDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Faults: Faults{Delay: 100 * time.Millisecond}})
		defer seg.Close()
		cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
		write(t, cA, []byte("late"), netip.Addr{}, vrrp.Group4)
		synctest.Wait()
		expectNone(t, cB)
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		expectNone(t, cB)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if m, _ := read(t, cB); string(m) != "late" {
			t.Errorf("got %q", m)
		}
	})
}

func TestDelayedLinkDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Faults: Faults{Delay: time.Second}})
		defer seg.Close()
		hB := seg.NewHost("b", a2)
		cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, hB, ep4)
		write(t, cA, []byte("x"), netip.Addr{}, vrrp.Group4)
		hB.SetLink(false) // the cable is pulled while the packet is in flight
		time.Sleep(2 * time.Second)
		synctest.Wait()
		expectNone(t, cB)
	})
}

func TestReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Faults: Faults{Reorder: 1}})
		defer seg.Close()
		cA, cB := open(t, seg.NewHost("a", a1), ep4), open(t, seg.NewHost("b", a2), ep4)
		write(t, cA, []byte("first"), netip.Addr{}, vrrp.Group4)
		seg.SetFaults(Faults{})
		write(t, cA, []byte("second"), netip.Addr{}, vrrp.Group4)
		time.Sleep(time.Second)
		synctest.Wait()
		m1, _ := read(t, cB)
		m2, _ := read(t, cB)
		if string(m1) != "second" || string(m2) != "first" {
			t.Errorf("read %q then %q, want second then first", m1, m2)
		}
	})
}

func TestCloseUnblocksReadFrom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{})
		defer seg.Close()
		c := open(t, seg.NewHost("a", a1), ep4)
		errc := make(chan error, 1)
		go func() {
			_, _, err := c.ReadFrom(make([]byte, 100))
			errc <- err
		}()
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("ReadFrom returned early: %v", err)
		default:
		}
		c.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrClosed) {
			t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
		}
	})
}

func TestSegmentCloseEndsDelayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Faults: Faults{Delay: time.Hour}})
		hA := seg.NewHost("a", a1)
		cA, cB := open(t, hA, ep4), open(t, seg.NewHost("b", a2), ep4)
		errc := make(chan error, 1)
		go func() {
			_, _, err := cB.ReadFrom(make([]byte, 100))
			errc <- err
		}()
		for range 10 {
			write(t, cA, []byte("x"), netip.Addr{}, vrrp.Group4)
		}
		start := time.Now()
		seg.Close()
		if d := time.Since(start); d != 0 {
			t.Errorf("Close took %v of fake time", d)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Segment.Close = %v", err)
		}
		if err := cA.WriteTo([]byte("x"), netip.Addr{}, vrrp.Group4); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteTo after Segment.Close = %v", err)
		}
		// Route and Deliver still work, and Close is idempotent.
		if ds := seg.Route(hA, vrrp.PacketInfo{Src: a1, Dst: vrrp.Group4, TTL: 255}, nil); len(ds) != 1 {
			t.Errorf("Route after Close = %v", ds)
		}
		if err := seg.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		// synctest.Test fails if a delivery goroutine is still blocked.
	})
}

func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Seed: 9, Faults: Faults{
			Loss: 0.1, Duplicate: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond, Reorder: 0.1,
		}})
		seg.Tap(func(Frame) {})
		seg.SetMutate(func(_ *Host, _ *vrrp.PacketInfo, m []byte) []byte { return m })
		addrs := []netip.Addr{a1, a2, a3, a4}
		var conns []*Conn
		for i, a := range addrs {
			conns = append(conns, open(t, seg.NewHost(fmt.Sprint("h", i), a), ep4))
		}
		var readers, writers sync.WaitGroup
		for _, c := range conns {
			readers.Go(func() {
				b := make([]byte, 64)
				for {
					if _, _, err := c.ReadFrom(b); err != nil {
						return
					}
				}
			})
			writers.Go(func() {
				for i := range 200 {
					if err := c.WriteTo([]byte{byte(i)}, netip.Addr{}, vrrp.Group4); err != nil {
						t.Error(err)
					}
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		writers.Go(func() {
			for i := range 50 {
				seg.Partition(seg.Hosts()[:i%3])
				seg.Hosts()[i%4].SetLink(i%2 == 0)
				time.Sleep(time.Millisecond)
			}
			seg.Heal()
		})
		writers.Wait()
		time.Sleep(time.Second)
		seg.Close()
		readers.Wait()
		st := seg.Stats()
		if st.Sent != 800 || st.Delivered == 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestNewHost(t *testing.T) {
	seg := NewSegment(SegmentConfig{})
	h := seg.NewHost("m", netip.MustParseAddr("::ffff:192.0.2.1"), ll1)
	if got := h.Addrs(); len(got) != 2 || got[0] != a1 || got[1] != ll1 {
		t.Errorf("Addrs = %v, want [%v %v]", got, a1, ll1)
	}
	if h.Segment() != seg || h.String() != "m" || len(seg.Hosts()) != 1 {
		t.Errorf("host %v on %p, segment has %v", h, h.Segment(), seg.Hosts())
	}
	defer func() {
		if recover() == nil {
			t.Error("NewHost with an invalid address did not panic")
		}
	}()
	seg.NewHost("bad", netip.Addr{})
}

// A deferred Conn hands adverts of priority 0 to ReadFrom at once and holds
// every other packet, malformed ones too, for ReadPending, oldest first,
// with its arrival time; a full held queue drops and counts.
func TestDeferred(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := NewSegment(SegmentConfig{Seed: 1, QueueLen: 3})
		defer seg.Close()
		hA, hB := seg.NewHost("a", a1), seg.NewHost("b", a2)
		cA, cB := open(t, hA, ep4), open(t, hB, ep4)
		if cB.Deferred() {
			t.Fatal("a new Conn is deferred")
		}
		if err := cB.SetDeferred(true); err != nil {
			t.Fatal(err)
		}
		prio := func(p byte) []byte { return []byte{0x31, 51, p, 0, 100, 0, 0, 0} }
		start := time.Now()
		write(t, cA, prio(100), netip.Addr{}, vrrp.Group4)
		time.Sleep(time.Millisecond)
		write(t, cA, []byte{0x31}, netip.Addr{}, vrrp.Group4) // truncated
		write(t, cA, prio(0), netip.Addr{}, vrrp.Group4)
		write(t, cA, prio(200), netip.Addr{}, vrrp.Group4)
		write(t, cA, prio(201), netip.Addr{}, vrrp.Group4) // beyond QueueLen
		if cB.Pending() != 1 || cB.Held() != 3 {
			t.Fatalf("pending %d, held %d; want 1 and 3", cB.Pending(), cB.Held())
		}
		if m, _ := read(t, cB); m[2] != 0 {
			t.Errorf("ReadFrom got priority %d, want 0", m[2])
		}
		ms := make([]vrrp.Incoming, 2)
		for i := range ms {
			ms[i].Buf = make([]byte, 64)
		}
		n, dropped, err := cB.ReadPending(ms)
		if err != nil || n != 2 || dropped != 1 {
			t.Fatalf("ReadPending = %d, %d, %v; want 2, 1, nil", n, dropped, err)
		}
		if ms[0].N != 8 || ms[0].Buf[2] != 100 || !ms[0].Info.Time.Equal(start) || ms[1].N != 1 || !ms[1].Info.Time.Equal(start.Add(time.Millisecond)) {
			t.Errorf("held %+v %+v, want priority 100 at the start and the truncated one 1 ms later", ms[0], ms[1])
		}
		if n, dropped, _ = cB.ReadPending(ms); n != 1 || dropped != 0 || ms[0].Buf[2] != 200 {
			t.Errorf("ReadPending = %d, %d (priority %d); want 1, 0 (200)", n, dropped, ms[0].Buf[2])
		}
		if err := cB.SetDeferred(false); err != nil {
			t.Fatal(err)
		}
		write(t, cA, prio(100), netip.Addr{}, vrrp.Group4)
		if cB.Pending() != 1 || cB.Held() != 0 {
			t.Errorf("eager again: pending %d, held %d; want 1 and 0", cB.Pending(), cB.Held())
		}
		cB.Close()
		if _, _, err := cB.ReadPending(ms); !errors.Is(err, ErrClosed) {
			t.Errorf("ReadPending after Close: %v", err)
		}
		if err := cB.SetDeferred(true); !errors.Is(err, ErrClosed) {
			t.Errorf("SetDeferred after Close: %v", err)
		}
	})
}
