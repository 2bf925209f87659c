//go:build linux

package transport_test

import (
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"

	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// waitTimeout bounds every wait of these tests for a packet or a state.
const waitTimeout = 5 * time.Second

// families runs f once per address family, as subtests.
func families(t *testing.T, f func(t *testing.T, fam vrrp.Family)) {
	for _, fam := range []vrrp.Family{vrrp.IPv4, vrrp.IPv6} {
		t.Run(fam.String(), func(t *testing.T) { f(t, fam) })
	}
}

// testLogger logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// transportOf returns the Linux transport of host h.
func transportOf(t testing.TB, h *netns.Host) transport.Linux {
	return transport.Linux{Namespace: h.Path(), Logger: testLogger(t)}
}

// open opens a Conn on h's eth0, closed when the test ends.
func open(t testing.TB, h *netns.Host, ep vrrp.Endpoint) vrrp.Conn {
	t.Helper()
	if ep.Interface == "" {
		ep.Interface = h.Iface
	}
	c, err := transportOf(t, h).Open(context.Background(), ep)
	if err != nil {
		t.Fatalf("host %d: Open(%+v): %v", h.Index, ep, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("host %d: Close: %v", h.Index, err)
		}
	})
	return c
}

// packet is one message read from a Conn.
type packet struct {
	msg  []byte
	info vrrp.PacketInfo
}

// reader reads c on a goroutine until ReadFrom fails. Its packets arrive on
// pkts; the error that ended it on errc.
type reader struct {
	pkts chan packet
	errc chan error
}

// startReader starts a reader of c. The test's cleanup closes c and waits
// for the reader to end.
func startReader(t testing.TB, c vrrp.Conn) *reader {
	r := &reader{pkts: make(chan packet, 256), errc: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, info, err := c.ReadFrom(buf)
			if err != nil {
				r.errc <- err
				return
			}
			select {
			case r.pkts <- packet{msg: bytes.Clone(buf[:n]), info: info}:
			default: // the test does not read: drop
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		select {
		case <-r.errc:
		case <-time.After(waitTimeout):
			t.Errorf("ReadFrom still blocked %v after Close", waitTimeout)
		}
	})
	return r
}

// next returns the first packet for which match returns true, failing the
// test after waitTimeout. Other packets are dropped.
func (r *reader) next(t testing.TB, what string, match func(packet) bool) packet {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case p := <-r.pkts:
			if match(p) {
				return p
			}
			t.Logf("(skipping a packet from %v to %v while waiting for %s)", p.info.Src, p.info.Dst, what)
		case err := <-r.errc:
			t.Fatalf("waiting for %s: ReadFrom: %v", what, err)
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
	}
}

// drain returns the packets received so far.
func (r *reader) drain() []packet {
	var out []packet
	for {
		select {
		case p := <-r.pkts:
			out = append(out, p)
		default:
			return out
		}
	}
}

// vridIs matches the packets whose message has VRID vrid.
func vridIs(vrid uint8) func(packet) bool {
	return func(p packet) bool { return len(p.msg) > 1 && p.msg[1] == vrid }
}

// advert returns a VRRPv3 advert of vrid for fam, checksummed for src and
// dst.
func advert(t testing.TB, fam vrrp.Family, vrid uint8, src, dst netip.Addr) []byte {
	t.Helper()
	vip := netip.MustParseAddr("198.18.0.100")
	if fam == vrrp.IPv6 {
		vip = netip.MustParseAddr("fd00::100")
	}
	a := vrrp.Advertisement{Version: 3, VRID: vrid, Priority: 100, Interval: 100, Addresses: []netip.Addr{vip}}
	b, err := a.Append(nil, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addrs returns the group, address and sending address of h for fam.
func addrs(h *netns.Host, fam vrrp.Family) (group, addr, local netip.Addr) {
	if fam == vrrp.IPv6 {
		return vrrp.Group6, h.Addr6.Addr(), h.LinkLocal
	}
	return vrrp.Group4, h.Addr4.Addr(), h.Addr4.Addr()
}

// checkReceived checks the message and IP-level information of p.
func checkReceived(t testing.TB, p packet, want []byte, src, dst, group netip.Addr) {
	t.Helper()
	if !bytes.Equal(p.msg, want) {
		t.Errorf("message = %x, want %x", p.msg, want)
	}
	if p.info.Src != src || p.info.Dst != dst || p.info.TTL != 255 {
		t.Errorf("PacketInfo = %+v, want Src %v Dst %v TTL 255", p.info, src, dst)
	}
	if f := vrrp.VerifyChecksum(p.msg, p.info.Src, p.info.Dst, group); f != vrrp.ChecksumOK {
		t.Errorf("checksum form of the received message = %v, want ok", f)
	}
}

// checkFrame finds the frame of the advert of vrid in c and checks its IP
// header: source, destination, TTL 255 and TOS / traffic class 0xc0.
func checkFrame(t testing.TB, c *netns.Capture, vrid uint8, src, dst netip.Addr) {
	t.Helper()
	f := c.WaitFrame(t, waitTimeout, fmt.Sprintf("the frame of VRID %d", vrid), func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Advert.VRID == vrid
	})
	v, _ := vrrpcap.Decode(f)
	if v.Src != src || v.Dst != dst || v.TTL != 255 {
		t.Errorf("frame: src %v dst %v TTL %d; want %v, %v, 255", v.Src, v.Dst, v.TTL, src, dst)
	}
	var tos byte
	if e, ok := f.Ethernet(); ok && len(e.Payload) >= 2 {
		if src.Is4() {
			tos = e.Payload[1]
		} else {
			tos = e.Payload[0]<<4 | e.Payload[1]>>4
		}
	}
	if tos != 0xc0 {
		t.Errorf("frame: TOS / traffic class %#x, want 0xc0", tos)
	}
}

func TestLinuxMulticast(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		group, _, src1 := addrs(h1, fam)
		_, _, src2 := addrs(h2, fam)
		capture := h2.Capture(t, h2.Iface)
		c1 := open(t, h1, vrrp.Endpoint{Family: fam})
		c2 := open(t, h2, vrrp.Endpoint{Family: fam})
		if got := c1.LocalAddr(); got != src1 {
			t.Errorf("host 1 LocalAddr = %v, want %v", got, src1)
		}
		if got := c2.LocalAddr(); got != src2 {
			t.Errorf("host 2 LocalAddr = %v, want %v", got, src2)
		}
		if _, ok := c1.(vrrp.BatchConn); !ok {
			t.Errorf("%T is not a vrrp.BatchConn", c1)
		}
		r1, r2 := startReader(t, c1), startReader(t, c2)

		// host 1 -> group, from LocalAddr.
		m1 := advert(t, fam, 1, src1, group)
		if err := c1.WriteTo(m1, netip.Addr{}, group); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		checkReceived(t, r2.next(t, "host 1's advert", vridIs(1)), m1, src1, group, group)
		checkFrame(t, capture, 1, src1, group)

		// host 2 -> group, with an explicit source.
		m2 := advert(t, fam, 2, src2, group)
		if err := c2.WriteTo(m2, src2, group); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		checkReceived(t, r1.next(t, "host 2's advert", vridIs(2)), m2, src2, group, group)
		checkFrame(t, capture, 2, src2, group)

		// Neither host read its own advert back.
		time.Sleep(100 * time.Millisecond)
		for _, p := range append(r1.drain(), r2.drain()...) {
			t.Errorf("unexpected packet from %v to %v (VRID %d): multicast loopback?", p.info.Src, p.info.Dst, p.msg[1])
		}
	})
}

func TestLinuxUnicast(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		group, addr1, src1 := addrs(h1, fam)
		_, addr2, _ := addrs(h2, fam)
		capture := h2.Capture(t, h2.Iface)
		c1 := open(t, h1, vrrp.Endpoint{Family: fam})
		c2 := open(t, h2, vrrp.Endpoint{Family: fam})
		r2 := startReader(t, c2)

		// From LocalAddr to the peer's address.
		m := advert(t, fam, 3, src1, addr2)
		if err := c1.WriteTo(m, netip.Addr{}, addr2); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		checkReceived(t, r2.next(t, "the unicast advert", vridIs(3)), m, src1, addr2, group)
		checkFrame(t, capture, 3, src1, addr2)

		// From another address of host 1 (a VIP, say): IP_PKTINFO /
		// IPV6_PKTINFO choose the source. For IPv6, the global address.
		other := addr1
		if fam == vrrp.IPv4 {
			other = netip.MustParseAddr("198.18.0.101")
			h1.Run(t, "ip", "addr", "add", other.String()+"/24", "dev", h1.Iface)
		}
		m = advert(t, fam, 4, other, addr2)
		if err := c1.WriteTo(m, other, addr2); err != nil {
			t.Fatalf("WriteTo from %v: %v", other, err)
		}
		checkReceived(t, r2.next(t, "the advert from "+other.String(), vridIs(4)), m, other, addr2, group)
		checkFrame(t, capture, 4, other, addr2)
		if got := c1.LocalAddr(); got != src1 {
			t.Errorf("LocalAddr = %v after adding a secondary address, want %v", got, src1)
		}

		// Wrong family.
		wrong := netip.MustParseAddr("fd00::2")
		if fam == vrrp.IPv6 {
			wrong = netip.MustParseAddr("198.18.0.2")
		}
		if err := c1.WriteTo(m, netip.Addr{}, wrong); err == nil {
			t.Errorf("WriteTo %v on an %v Conn succeeded", wrong, fam)
		}
	})
}

func TestLinuxWriteBatch(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		group, _, src1 := addrs(h1, fam)
		_, addr2, _ := addrs(h2, fam)
		c1 := open(t, h1, vrrp.Endpoint{Family: fam})
		c2 := open(t, h2, vrrp.Endpoint{Family: fam})
		r2 := startReader(t, c2)
		var ms []vrrp.Outgoing
		for vrid := uint8(10); vrid < 20; vrid++ {
			dst := group
			if vrid%3 == 0 {
				dst = addr2
			}
			src := src1
			if vrid%2 == 0 {
				src = netip.Addr{} // LocalAddr
			}
			ms = append(ms, vrrp.Outgoing{Msg: advert(t, fam, vrid, src1, dst), Src: src, Dst: dst})
		}
		n, err := c1.(vrrp.BatchConn).WriteBatch(ms)
		if n != len(ms) || err != nil {
			t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(ms))
		}
		for _, m := range ms {
			p := r2.next(t, fmt.Sprintf("VRID %d", m.Msg[1]), func(packet) bool { return true })
			checkReceived(t, p, m.Msg, src1, m.Dst, group)
		}
		if n, err := c1.(vrrp.BatchConn).WriteBatch(nil); n != 0 || err != nil {
			t.Errorf("WriteBatch(nil) = %d, %v", n, err)
		}
	})
}

// incoming returns n Incoming messages with buffers for any VRRP message.
func incoming(n int) []vrrp.Incoming {
	in := make([]vrrp.Incoming, n)
	for i := range in {
		in[i].Buf = make([]byte, 4160)
	}
	return in
}

// TestLinuxReadBatch reads queued adverts with one ReadBatch: each with its
// source, destination, TTL and an arrival time between the send and the
// read, and a message longer than its buffer truncated to the buffer.
func TestLinuxReadBatch(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		group, src1, c1, c2 := pair(t, fam)
		var ms []vrrp.Outgoing
		for vrid := uint8(30); vrid < 36; vrid++ {
			ms = append(ms, vrrp.Outgoing{Msg: advert(t, fam, vrid, src1, group), Dst: group})
		}
		before := time.Now()
		if n, err := c1.(vrrp.BatchConn).WriteBatch(ms); n != len(ms) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
		// Let every advert queue at c2 before reading.
		time.Sleep(200 * time.Millisecond)
		in := incoming(8)
		in[len(ms)-1].Buf = make([]byte, 5) // the last one is truncated
		got := 0
		deadline := time.Now().Add(waitTimeout)
		for first := true; got < len(ms) && time.Now().Before(deadline); first = false {
			n, err := c2.(vrrp.BatchReader).ReadBatch(in[got:len(ms)])
			if err != nil {
				t.Fatalf("ReadBatch: %v", err)
			}
			if first && n < 2 {
				t.Errorf("the first ReadBatch read %d of %d queued adverts: not batched", n, len(ms))
			}
			got += n
		}
		after := time.Now()
		if got != len(ms) {
			t.Fatalf("read %d adverts, want %d", got, len(ms))
		}
		for i, m := range ms {
			p := packet{msg: in[i].Buf[:in[i].N], info: in[i].Info}
			if i == len(ms)-1 {
				if in[i].N != 5 || !bytes.Equal(p.msg, m.Msg[:5]) {
					t.Errorf("truncated read = %x (N %d), want %x", p.msg, in[i].N, m.Msg[:5])
				}
			} else {
				checkReceived(t, p, m.Msg, src1, group, group)
			}
			if ts := in[i].Info.Time; ts.Before(before.Add(-time.Millisecond)) || ts.After(after) {
				t.Errorf("advert %d: arrival time %v, not between the send (%v) and the read (%v)", i, ts, before, after)
			}
		}
	})
}

// TestLinuxReadBatchQueuedBetween: an advert that arrives after one
// ReadBatch returned and before the next is called is read by the next at
// once, not when another advert comes (a read that waited for the poller
// before trying lost that readiness).
func TestLinuxReadBatchQueuedBetween(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		group, src1, c1, c2 := pair(t, fam)
		in := incoming(4)
		for vrid := uint8(40); vrid < 43; vrid++ {
			if err := c1.WriteTo(advert(t, fam, vrid, src1, group), netip.Addr{}, group); err != nil {
				t.Fatal(err)
			}
			// The advert queues at c2 and the poller sees it before the
			// read is called.
			time.Sleep(100 * time.Millisecond)
			read := make(chan error, 1)
			go func() {
				n, err := c2.(vrrp.BatchReader).ReadBatch(in)
				if err == nil && (n != 1 || in[0].Buf[1] != vrid) {
					err = fmt.Errorf("read %d adverts, the first of VRID %d, want VRID %d alone", n, in[0].Buf[1], vrid)
				}
				read <- err
			}()
			select {
			case err := <-read:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * time.Second):
				c2.Close() // ends the read
				<-read
				t.Fatalf("VRID %d: the advert queued before ReadBatch was not read", vrid)
			}
		}
	})
}

func TestLinuxOpenErrors(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	tr := transportOf(t, h)
	ctx := context.Background()

	for _, fam := range []vrrp.Family{vrrp.IPv4, vrrp.IPv6} {
		_, err := tr.Open(ctx, vrrp.Endpoint{Interface: "nosuch0", Family: fam})
		if !errors.Is(err, transport.ErrNoInterface) {
			t.Errorf("%v Open of a missing interface: %v; want ErrNoInterface", fam, err)
		}
	}

	// An interface with no address at all, not even a link-local one: a
	// veth pair inside the host.
	h.Run(t, "ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1")
	for _, name := range []string{"dummy0", "dummy1"} {
		h.Run(t, "ip", "link", "set", name, "addrgenmode", "none")
		h.Run(t, "ip", "link", "set", name, "up")
	}
	for _, fam := range []vrrp.Family{vrrp.IPv4, vrrp.IPv6} {
		_, err := tr.Open(ctx, vrrp.Endpoint{Interface: "dummy0", Family: fam})
		if !errors.Is(err, transport.ErrNoAddress) {
			t.Errorf("%v Open of an interface without address: %v; want ErrNoAddress", fam, err)
		}
		// A send-only Conn needs no address of its own.
		c, err := tr.Open(ctx, vrrp.Endpoint{Interface: "dummy0", Family: fam, SendOnly: true})
		if err != nil {
			t.Errorf("%v send-only Open of an interface without address: %v", fam, err)
			continue
		}
		if a := c.LocalAddr(); a.IsValid() {
			t.Errorf("LocalAddr = %v, want none", a)
		}
		if err := c.WriteTo([]byte{0x31}, netip.Addr{}, vrrp.Group4); !errors.Is(err, transport.ErrNoAddress) && fam == vrrp.IPv4 {
			t.Errorf("WriteTo without source or address: %v; want ErrNoAddress", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v; want net.ErrClosed", err)
		}
	}

	// Bad endpoints.
	for _, ep := range []vrrp.Endpoint{
		{Interface: "eth0", Family: vrrp.IPv4, Group: vrrp.Group6},
		{Interface: "eth0", Family: vrrp.IPv6, Group: netip.MustParseAddr("fd00::1")},
		{Interface: "eth0", Family: 5},
		{Family: vrrp.IPv4},
	} {
		if c, err := tr.Open(ctx, ep); err == nil {
			c.Close()
			t.Errorf("Open(%+v) succeeded", ep)
		}
	}

	// A namespace that does not exist.
	_, err := transport.Linux{Namespace: "/run/netns/vrrpkit-does-not-exist"}.Open(ctx, vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing namespace: %v; want an error wrapping os.ErrNotExist", err)
	}

	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tr.Open(cctx, vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v", err)
	}
}

// TestLinuxPermission opens a Conn from a thread that lacks CAP_NET_RAW.
func TestLinuxPermission(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	var openErr error
	err := h.Do(func() error {
		// Capabilities are per thread: drop CAP_NET_RAW from the effective
		// set of this one (Do's, locked and in the namespace), then raise
		// it again from the permitted set.
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capget: %w", err)
		}
		saved := data
		data[unix.CAP_NET_RAW/32].Effective &^= 1 << (unix.CAP_NET_RAW % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capset: %w", err)
		}
		// Namespace empty: the socket is made on this very thread.
		c, err := transport.Linux{}.Open(context.Background(), vrrp.Endpoint{Interface: h.Iface, Family: vrrp.IPv4})
		if err == nil {
			c.Close()
		}
		openErr = err
		if err := unix.Capset(&hdr, &saved[0]); err != nil {
			return fmt.Errorf("capset (restore): %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(openErr, os.ErrPermission) || !strings.Contains(openErr.Error(), "CAP_NET_RAW") {
		t.Errorf("Open without CAP_NET_RAW: %v; want an error wrapping os.ErrPermission that names CAP_NET_RAW", openErr)
	}
}

// TestLinuxRecovery deletes host 2's eth0 under an open Conn and creates it
// again: the Conn follows by itself.
func TestLinuxRecovery(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		group, _, src1 := addrs(h1, fam)
		_, _, src2 := addrs(h2, fam)
		c1 := open(t, h1, vrrp.Endpoint{Family: fam})
		c2 := open(t, h2, vrrp.Endpoint{Family: fam})
		r1, r2 := startReader(t, c1), startReader(t, c2)

		m := advert(t, fam, 1, src1, group)
		if err := c1.WriteTo(m, netip.Addr{}, group); err != nil {
			t.Fatal(err)
		}
		r2.next(t, "the first advert", vridIs(1))

		// The deferred mode outlives the socket.
		dr := c2.(vrrp.DeferredReader)
		if err := dr.SetDeferred(true); err != nil {
			t.Fatal(err)
		}
		h2.Run(t, "ip", "link", "del", h2.Iface)
		netns.WaitFor(t, waitTimeout, "writes to fail with ErrNoInterface", func() bool {
			return errors.Is(c2.WriteTo(advert(t, fam, 2, src2, group), src2, group), transport.ErrNoInterface)
		})
		if a := c2.LocalAddr(); a.IsValid() {
			t.Errorf("LocalAddr = %v while the interface is gone", a)
		}

		// A new veth named eth0, its peer a new port of the lab's bridge,
		// both created directly in their namespaces.
		port := "port2new"
		h2.Run(t, "ip", "link", "add", h2.Iface, "type", "veth", "peer", "name", port, "netns", lab.Switch)
		runSwitch(t, lab, "ip", "link", "set", port, "master", netns.Bridge)
		runSwitch(t, lab, "ip", "link", "set", port, "up")
		h2.Run(t, "ip", "addr", "add", h2.Addr4.String(), "dev", h2.Iface)
		h2.Run(t, "ip", "addr", "add", h2.Addr6.String(), "dev", h2.Iface, "nodad")
		h2.Run(t, "ip", "link", "set", h2.Iface, "up")

		// The new interface has a new MAC, so a new link-local address.
		want := h2.Addr4.Addr()
		if fam == vrrp.IPv6 {
			netns.WaitFor(t, waitTimeout, "a link-local address on the new eth0", func() bool {
				want = linkLocal(t, h2)
				return want.IsValid()
			})
		}
		netns.WaitFor(t, waitTimeout, "LocalAddr on the new interface", func() bool { return c2.LocalAddr() == want })

		// Reads resume: multicast from host 1 reaches host 2, held.
		in := incoming(16)
		netns.WaitFor(t, waitTimeout, "host 2 to hold host 1's adverts again", func() bool {
			if err := c1.WriteTo(m, netip.Addr{}, group); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			n, _, err := dr.ReadPending(in)
			if err != nil {
				t.Fatal(err)
			}
			return n > 0 && in[0].Buf[1] == 1
		})
		select {
		case p := <-r2.pkts:
			t.Errorf("a deferred Conn's ReadBatch returned %x after recovery", p.msg)
		default:
		}
		// And writes too.
		m2 := advert(t, fam, 2, want, group)
		if err := c2.WriteTo(m2, netip.Addr{}, group); err != nil {
			t.Fatalf("WriteTo after recovery: %v", err)
		}
		checkReceived(t, r1.next(t, "host 2's advert after recovery", vridIs(2)), m2, want, group, group)
	})
}

// runSwitch runs a command in the lab's switch namespace.
func runSwitch(t testing.TB, lab *netns.Lab, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := lab.SwitchCommand(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("switch: %s %v: %v\n%s", name, args, err, out)
	}
}

// linkLocal returns the usable IPv6 link-local address of h's eth0.
func linkLocal(t testing.TB, h *netns.Host) netip.Addr {
	var out netip.Addr
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		as, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() && p.Addr().Is6() {
				out = p.Addr()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("host %d: %v", h.Index, err)
	}
	return out
}

// waitGoroutines waits for the number of goroutines to fall to at most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLinuxClose(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 1)
		h := lab.Host(1)
		for _, gone := range []bool{false, true} {
			base := runtime.NumGoroutine()
			c, err := transportOf(t, h).Open(context.Background(), vrrp.Endpoint{Interface: h.Iface, Family: fam})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, _, err := c.ReadFrom(make([]byte, 100))
				errc <- err
			}()
			if gone {
				// ReadFrom waits for the interface to come back.
				h.Run(t, "ip", "link", "del", h.Iface)
				netns.WaitFor(t, waitTimeout, "the Conn to see the interface gone", func() bool {
					return errors.Is(c.WriteTo([]byte{0x31}, netip.Addr{}, vrrp.Group4), transport.ErrNoInterface) || fam == vrrp.IPv6 && !c.LocalAddr().IsValid()
				})
			}
			time.Sleep(50 * time.Millisecond)
			select {
			case err := <-errc:
				t.Fatalf("ReadFrom returned before Close: %v", err)
			default:
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("ReadFrom after Close: %v; want net.ErrClosed", err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("ReadFrom still blocked after Close")
			}
			if err := c.WriteTo([]byte{0x31}, netip.Addr{}, vrrp.Group4); !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteTo after Close: %v; want net.ErrClosed", err)
			}
			if _, _, err := c.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadFrom after Close: %v; want net.ErrClosed", err)
			}
			waitGoroutines(t, base)
		}
	})
}

// BenchmarkWriteTo measures the cost of sending one advert to the group on
// a lab link.
func BenchmarkWriteTo(b *testing.B) {
	for _, fam := range []vrrp.Family{vrrp.IPv4, vrrp.IPv6} {
		b.Run(fam.String(), func(b *testing.B) {
			lab := netns.New(b, 2)
			h1 := lab.Host(1)
			group, _, src := addrs(h1, fam)
			c := open(b, h1, vrrp.Endpoint{Family: fam})
			m := advert(b, fam, 1, src, group)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.WriteTo(m, src, group); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteBatch measures the cost of sending a batch of 16 adverts
// (sendmmsg); ns/msg is the cost of one.
func BenchmarkWriteBatch(b *testing.B) {
	for _, fam := range []vrrp.Family{vrrp.IPv4, vrrp.IPv6} {
		b.Run(fam.String(), func(b *testing.B) {
			lab := netns.New(b, 2)
			h1 := lab.Host(1)
			group, _, src := addrs(h1, fam)
			c := open(b, h1, vrrp.Endpoint{Family: fam}).(vrrp.BatchConn)
			ms := make([]vrrp.Outgoing, 16)
			for i := range ms {
				ms[i] = vrrp.Outgoing{Msg: advert(b, fam, uint8(i+1), src, group), Src: src, Dst: group}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if n, err := c.WriteBatch(ms); err != nil || n != len(ms) {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ms)), "ns/msg")
		})
	}
}

// TestLinuxLocalAddr checks that LocalAddr follows the interface's
// addresses, also through a burst of address changes.
func TestLinuxLocalAddr(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	c := open(t, h, vrrp.Endpoint{Family: vrrp.IPv4})
	h.Run(t, "ip", "addr", "del", h.Addr4.String(), "dev", h.Iface)
	netns.WaitFor(t, waitTimeout, "LocalAddr to be gone", func() bool { return !c.LocalAddr().IsValid() })
	if err := c.WriteTo([]byte{0x31}, netip.Addr{}, vrrp.Group4); !errors.Is(err, transport.ErrNoAddress) {
		t.Errorf("WriteTo without source or address: %v; want ErrNoAddress", err)
	}
	other := netip.MustParseAddr("198.18.0.77")
	h.Run(t, "ip", "addr", "add", other.String()+"/24", "dev", h.Iface)
	netns.WaitFor(t, waitTimeout, "LocalAddr "+other.String(), func() bool { return c.LocalAddr() == other })

	var batch strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&batch, "addr add 198.19.%d.%d/32 dev %s\n", i/250, i%250+1, h.Iface)
	}
	fmt.Fprintf(&batch, "addr del %s/24 dev %s\n", other, h.Iface)
	file := t.TempDir() + "/batch"
	if err := os.WriteFile(file, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Run(t, "ip", "-batch", file)
	// 198.19.0.1 is now the first primary address.
	want := netip.MustParseAddr("198.19.0.1")
	netns.WaitFor(t, waitTimeout, "LocalAddr "+want.String(), func() bool { return c.LocalAddr() == want })
}

// TestLinuxLocalAddrManyAddresses adds 200 addresses to the interface of
// an open Conn (as virtual addresses come and go on a busy one): LocalAddr
// stays the interface's own address, except for an IPv4 primary address of
// a narrower scope, which the kernel lists first. When LocalAddr is
// removed, it moves to the next address, the one a Conn opened afterwards
// finds.
func TestLinuxLocalAddrManyAddresses(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		lab := netns.New(t, 1)
		h := lab.Host(1)
		_, _, local := addrs(h, fam)
		ep := vrrp.Endpoint{Interface: h.Iface, Family: fam}
		c := open(t, h, ep)
		// fresh returns the LocalAddr of a Conn opened now, from a full
		// read of the interface's addresses.
		fresh := func() netip.Addr {
			t.Helper()
			c2, err := transportOf(t, h).Open(context.Background(), ep)
			if errors.Is(err, transport.ErrNoAddress) {
				return netip.Addr{}
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer c2.Close()
			return c2.LocalAddr()
		}
		// stays checks that LocalAddr stays want for a while.
		stays := func(what string, want netip.Addr) {
			t.Helper()
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if got := c.LocalAddr(); got != want {
					t.Fatalf("%s: LocalAddr = %v, want %v", what, got, want)
				}
			}
			if f := fresh(); f != want {
				t.Errorf("%s: a new Conn's LocalAddr = %v, want %v", what, f, want)
			}
		}
		// moves waits for LocalAddr to become want, which a new Conn
		// finds too.
		moves := func(what string, want netip.Addr) {
			t.Helper()
			netns.WaitFor(t, waitTimeout, fmt.Sprintf("%s: LocalAddr %v", what, want), func() bool { return c.LocalAddr() == want })
			if f := fresh(); f != want {
				t.Errorf("%s: a new Conn's LocalAddr = %v, want %v", what, f, want)
			}
		}
		batch := func(lines []string) {
			t.Helper()
			file := filepath.Join(t.TempDir(), "batch")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			h.Run(t, "ip", "-batch", file)
		}

		// 200 addresses: for IPv4, half secondary (in the primary's
		// subnet), half primary (/32s elsewhere); for IPv6, global.
		var add, del []string
		for i := range 200 {
			var p string
			switch {
			case fam == vrrp.IPv6:
				p = fmt.Sprintf("fd00::1:%x/64", i+1)
			case i%2 == 0:
				p = fmt.Sprintf("198.18.0.%d/24", 100+i/2)
			default:
				p = fmt.Sprintf("198.19.1.%d/32", 1+i/2)
			}
			add = append(add, fmt.Sprintf("addr add %s dev %s", p, h.Iface))
			if i%4 == 3 {
				del = append(del, fmt.Sprintf("addr del %s dev %s", p, h.Iface))
			}
		}
		batch(add)
		stays("after 200 addresses added", local)
		batch(del)
		stays("after 50 of them removed", local)

		if fam == vrrp.IPv4 {
			// A host-scope primary address goes first.
			host := netip.MustParseAddr("198.19.2.1")
			h.Run(t, "ip", "addr", "add", host.String()+"/32", "dev", h.Iface, "scope", "host")
			moves("after a host-scope address added", host)
			h.Run(t, "ip", "addr", "del", host.String()+"/32", "dev", h.Iface)
			moves("after the host-scope address removed", local)

			// The interface's own address removed (with its secondaries,
			// or one of them promoted after the last primary address):
			// the first /32 is next.
			h.Run(t, "ip", "addr", "del", h.Addr4.String(), "dev", h.Iface)
			moves("after the primary address removed", netip.MustParseAddr("198.19.1.1"))
			return
		}
		// The link-local address removed: there is none left. Down and up,
		// the kernel gives it back.
		h.Run(t, "ip", "addr", "del", local.String()+"/64", "dev", h.Iface)
		moves("after the link-local address removed", netip.Addr{})
		if err := h.SetLink(false); err != nil {
			t.Fatal(err)
		}
		if err := h.SetLink(true); err != nil {
			t.Fatal(err)
		}
		moves("after down and up", local)
	})
}

// readBatchWithin reads with ReadBatch, failing the test if nothing comes
// within waitTimeout (it then closes c to end the read).
func readBatchWithin(t testing.TB, c vrrp.Conn, in []vrrp.Incoming) int {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.(vrrp.BatchReader).ReadBatch(in)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("ReadBatch: %v", r.err)
		}
		return r.n
	case <-time.After(waitTimeout):
		c.Close()
		<-done
		t.Fatalf("ReadBatch: nothing within %v", waitTimeout)
	}
	return 0
}

// pair opens Conns of fam on two hosts of a new lab, and returns the
// group and the first host's source address with them.
func pair(t *testing.T, fam vrrp.Family) (group, src1 netip.Addr, c1, c2 vrrp.Conn) {
	t.Helper()
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	group, _, src1 = addrs(h1, fam)
	return group, src1, open(t, h1, vrrp.Endpoint{Family: fam}), open(t, h2, vrrp.Endpoint{Family: fam})
}

// deferredPair opens Conns of fam on two hosts, the second deferred, and
// returns the group, the first's source address, both and the second's
// DeferredReader.
func deferredPair(t *testing.T, fam vrrp.Family) (group, src1 netip.Addr, c1, c2 vrrp.Conn, dr vrrp.DeferredReader) {
	t.Helper()
	group, src1, c1, c2 = pair(t, fam)
	dr = c2.(vrrp.DeferredReader)
	if err := dr.SetDeferred(true); err != nil {
		t.Fatal(err)
	}
	return group, src1, c1, c2, dr
}

// TestLinuxDeferred: a deferred Conn's ReadBatch returns only adverts of
// priority 0; every other packet, a truncated one too, waits for
// ReadPending, oldest first, with its arrival time, and none counts as an
// overflow. Eager again, ReadBatch returns everything.
func TestLinuxDeferred(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		group, src1, c1, c2, dr := deferredPair(t, fam)
		prio := func(vrid, p uint8) []byte {
			var a vrrp.Advertisement
			if err := a.Unmarshal(advert(t, fam, vrid, src1, group), fam == vrrp.IPv6); err != nil {
				t.Fatal(err)
			}
			a.Priority = p
			m, err := a.Append(nil, src1, group)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		sent := [][]byte{prio(30, 100), {0x31, 31}, prio(32, 0), prio(33, 200), prio(34, 0)}
		before := time.Now()
		for _, m := range sent {
			if err := c1.WriteTo(m, netip.Addr{}, group); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		in := incoming(8)
		if n := readBatchWithin(t, c2, in); n != 2 || in[0].Buf[1] != 32 || in[1].Buf[1] != 34 {
			t.Fatalf("ReadBatch = %d (VRIDs %d, %d); want the two of priority 0 (32, 34)", n, in[0].Buf[1], in[1].Buf[1])
		}
		n, dropped, err := dr.ReadPending(in)
		after := time.Now()
		if err != nil || n != 3 || dropped != 0 {
			t.Fatalf("ReadPending = %d, %d, %v; want 3, 0, nil", n, dropped, err)
		}
		for i, m := range [][]byte{sent[0], sent[1], sent[3]} {
			p := packet{msg: in[i].Buf[:in[i].N], info: in[i].Info}
			if len(m) > 2 {
				checkReceived(t, p, m, src1, group, group)
			} else if !bytes.Equal(p.msg, m) {
				t.Errorf("held %d: %x, want %x", i, p.msg, m)
			}
			if ts := in[i].Info.Time; ts.Before(before.Add(-time.Millisecond)) || ts.After(after) {
				t.Errorf("held %d: arrival time %v, not between the send (%v) and the read (%v)", i, ts, before, after)
			}
		}
		if n, dropped, err := dr.ReadPending(in); n != 0 || dropped != 0 || err != nil {
			t.Errorf("ReadPending again = %d, %d, %v; want nothing", n, dropped, err)
		}

		if err := dr.SetDeferred(false); err != nil {
			t.Fatal(err)
		}
		for _, m := range sent[:2] {
			if err := c1.WriteTo(m, netip.Addr{}, group); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := readBatchWithin(t, c2, in); n != 2 || in[0].Buf[1] != 30 || in[1].N != 2 {
			t.Errorf("eager ReadBatch = %d; want the advert of VRID 30 and the truncated one", n)
		}
		if n, dropped, err := dr.ReadPending(in); n != 0 || dropped != 0 || err != nil {
			t.Errorf("eager ReadPending = %d, %d, %v; want nothing", n, dropped, err)
		}
	})
}

// TestLinuxDeferredOverflow: the packets a full held socket drops are
// reported by the next ReadPending that empties it, once.
func TestLinuxDeferredOverflow(t *testing.T) {
	families(t, func(t *testing.T, fam vrrp.Family) {
		group, src1, c1, c2, dr := deferredPair(t, fam)
		if err := transport.SetHeldRcvBuf(c2, 4096); err != nil {
			t.Fatal(err)
		}
		const sent = 50
		for i := range sent {
			if err := c1.WriteTo(advert(t, fam, uint8(i+1), src1, group), netip.Addr{}, group); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		in := incoming(16)
		var read, lost uint64
		for {
			n, dropped, err := dr.ReadPending(in)
			if err != nil {
				t.Fatal(err)
			}
			read += uint64(n)
			lost += dropped
			if n < len(in) {
				break
			}
		}
		if read == 0 || lost == 0 || read+lost != sent {
			t.Errorf("read %d and lost %d of %d held adverts", read, lost, sent)
		}
		if n, dropped, err := dr.ReadPending(in); n != 0 || dropped != 0 || err != nil {
			t.Errorf("ReadPending again = %d, %d, %v; want nothing", n, dropped, err)
		}
	})
}

// TestLinuxDeferredIPOptions: the IPv4 filters find the priority after IP
// options too (the header length comes from the packet).
func TestLinuxDeferredIPOptions(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	_, _, src1 := addrs(h1, vrrp.IPv4)
	dst := h2.Addr4.Addr() // unicast: no multicast interface to choose
	c2 := open(t, h2, vrrp.Endpoint{Family: vrrp.IPv4})
	dr := c2.(vrrp.DeferredReader)
	if err := dr.SetDeferred(true); err != nil {
		t.Fatal(err)
	}
	var pc net.PacketConn
	if err := h1.Do(func() error {
		var err error
		pc, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	raw, err := ipv4.NewRawConn(pc)
	if err != nil {
		t.Fatal(err)
	}
	opts := []byte{1, 1, 1, 0} // three NOPs and the end of options
	for _, prio := range []uint8{100, 0} {
		a := vrrp.Advertisement{Version: 3, VRID: 60 + prio, Priority: prio, Interval: 100, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
		m, err := a.Append(nil, src1, dst)
		if err != nil {
			t.Fatal(err)
		}
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen + len(opts), TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(opts) + len(m),
			TTL: 255, Protocol: vrrp.IPProtocol, Src: src1.AsSlice(), Dst: dst.AsSlice(), Options: opts}
		if err := raw.WriteTo(h, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	in := incoming(4)
	if n := readBatchWithin(t, c2, in); n != 1 || in[0].Buf[1] != 60 {
		t.Errorf("ReadBatch = %d (VRID %d); want the advert of priority 0 (VRID 60)", n, in[0].Buf[1])
	}
	if n, _, err := dr.ReadPending(in); err != nil || n != 1 || in[0].Buf[1] != 160 {
		t.Errorf("ReadPending = %d, %v (VRID %d); want the advert of priority 100 (VRID 160)", n, err, in[0].Buf[1])
	}
}
