//go:build linux

package netns_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// keepalivedConf is a minimal keepalived configuration: one VRRPv2
// instance on eth0 with one VIP.
const keepalivedConf = `global_defs {
	router_id lab
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 1
	virtual_ipaddress {
		198.18.0.100/24 dev eth0
	}
}
`

// startMaster starts keepalived in host 1 of a two-host lab, with a capture
// on host 2, and waits until it is Master and holds the VIP.
func startMaster(t *testing.T) (lab *netns.Lab, k *netns.Keepalived, capture *netns.Capture) {
	t.Helper()
	lab = netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	capture = h2.Capture(t, "eth0")
	k = netns.StartKeepalived(t, h1, keepalivedConf)
	if k.Pid() <= 0 {
		t.Fatalf("Pid() = %d", k.Pid())
	}
	k.WaitLog(t, "Entering MASTER STATE", 15*time.Second)
	h1.WaitAddr(t, netip.MustParseAddr("198.18.0.100"), 5*time.Second)
	return lab, k, capture
}

func isAdvertFrom(f netns.Frame, src netip.Addr) bool {
	v, ok := vrrpcap.Decode(f)
	return ok && v.Src == src && v.Advert.VRID == 51
}

func TestKeepalived(t *testing.T) {
	t.Parallel()
	lab, k, capture := startMaster(t)
	h1 := lab.Host(1)
	vip := netip.MustParseAddr("198.18.0.100")

	f := capture.WaitFrame(t, 3*time.Second, "a VRRP advert from host 1", func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Src == h1.Addr4.Addr() && v.Advert.Priority == 150
	})
	v, _ := vrrpcap.Decode(f)
	if v.Advert.Version != 2 || v.TTL != 255 || v.Dst != vrrp.Group4 || v.Advert.Interval != 1 ||
		!slices.Equal(v.Advert.Addresses, []netip.Addr{vip}) {
		t.Errorf("advert: %+v", v)
	}
	if !bytes.Equal(v.EthSrc, h1.MAC) || v.EthDst.String() != "01:00:5e:00:00:12" {
		t.Errorf("advert from %v to %v", v.EthSrc, v.EthDst)
	}
	if form := vrrp.VerifyChecksum(v.Payload, v.Src, v.Dst, vrrp.Group4); form != vrrp.ChecksumOK {
		t.Errorf("advert checksum: %v", form)
	}

	g := capture.WaitFrame(t, 3*time.Second, "a gratuitous ARP for the VIP", func(f netns.Frame) bool {
		a, ok := f.ARP()
		return ok && a.Gratuitous() && a.SenderIP == vip
	})
	a, _ := g.ARP()
	if !bytes.Equal(a.EthSrc, h1.MAC) || !bytes.Equal(a.SenderMAC, h1.MAC) || a.EthDst.String() != "ff:ff:ff:ff:ff:ff" {
		t.Errorf("gratuitous ARP: %+v", a)
	}
	t.Logf("gratuitous ARP: op %v, sender %v %v, target %v %v", a.Op, a.SenderMAC, a.SenderIP, a.TargetMAC, a.TargetIP)

	vrrpPid, err := k.VRRPPid()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if running, _ := netns.ProcStat(vrrpPid); running || k.Running() || netns.PidAlive(k.Pid()) {
		t.Fatalf("keepalived %d (VRRP child %d) survived Kill", k.Pid(), vrrpPid)
	}
	time.Sleep(2500 * time.Millisecond)
	for _, f := range capture.Frames() {
		if f.Time.After(killed) && isAdvertFrom(f, h1.Addr4.Addr()) {
			t.Errorf("advert from host 1 at %v, after Kill at %v", f.Time, killed)
		}
	}
	// A killed keepalived leaves its VIP behind.
	if has, err := h1.HasAddr(vip); err != nil || !has {
		t.Errorf("after Kill, HasAddr(VIP) = %v, %v", has, err)
	}
	if err := k.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v", err)
	}
}

func TestKeepalivedStop(t *testing.T) {
	t.Parallel()
	lab, k, capture := startMaster(t)
	h1 := lab.Host(1)
	capture.Clear()
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	if k.Running() {
		t.Fatal("keepalived runs after Stop")
	}
	capture.WaitFrame(t, 2*time.Second, "a priority 0 advert from host 1", func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Src == h1.Addr4.Addr() && v.Advert.Priority == 0
	})
	h1.WaitNoAddr(t, netip.MustParseAddr("198.18.0.100"), 2*time.Second)
	if !strings.Contains(k.Log(), "Stopped") {
		t.Logf("log:\n%s", k.Log())
	}
}

// ethernet builds an Ethernet frame.
func ethernet(dst, src net.HardwareAddr, etype uint16, payload []byte) []byte {
	b := append(append([]byte(nil), dst...), src...)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

// ipv6Packet builds an IPv6 packet.
func ipv6Packet(src, dst netip.Addr, next, hop uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

func TestDecoders(t *testing.T) {
	t.Parallel()
	mac := net.HardwareAddr{0x02, 0x76, 0x6b, 0, 0, 1}
	ll := netip.MustParseAddr("fe80::1")
	vip6 := netip.MustParseAddr("fd00::100")

	// VRRPv3 over IPv6, behind a hop-by-hop header.
	adv := vrrp.Advertisement{Version: 3, VRID: 7, Priority: 100, Interval: 100, Addresses: []netip.Addr{ll, vip6}}
	msg, err := adv.Append(nil, ll, vrrp.Group6)
	if err != nil {
		t.Fatal(err)
	}
	hbh := append([]byte{vrrp.IPProtocol, 0, 1, 4, 0, 0, 0, 0}, msg...)
	frame := netns.Frame{Data: ethernet(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x12}, mac, netns.EtherTypeIPv6, ipv6Packet(ll, vrrp.Group6, 0, 255, hbh))}
	v, ok := vrrpcap.Decode(frame)
	if !ok || v.Src != ll || v.Dst != vrrp.Group6 || v.TTL != 255 || v.Advert.VRID != 7 || v.Advert.Version != 3 ||
		!slices.Equal(v.Advert.Addresses, adv.Addresses) || vrrp.VerifyChecksum(v.Payload, v.Src, v.Dst, vrrp.Group6) != vrrp.ChecksumOK {
		t.Errorf("VRRP() = %+v, %v", v, ok)
	}
	if _, ok := frame.ARP(); ok {
		t.Error("a VRRP frame decoded as ARP")
	}
	if _, ok := frame.NA(); ok {
		t.Error("a VRRP frame decoded as NA")
	}

	// VRRPv2 over IPv4, with Ethernet padding after it.
	adv4 := vrrp.Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: 1, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	msg4, err := adv4.Append(nil, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	ip4 := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 255, vrrp.IPProtocol, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18}
	binary.BigEndian.PutUint16(ip4[2:], uint16(len(ip4)+len(msg4)))
	pkt4 := append(append(ip4, msg4...), make([]byte, 10)...)
	v4, ok := vrrpcap.Decode(netns.Frame{Data: ethernet(net.HardwareAddr{1, 0, 0x5e, 0, 0, 0x12}, mac, netns.EtherTypeIPv4, pkt4)})
	if !ok || v4.Src != netip.MustParseAddr("198.18.0.1") || v4.Dst != vrrp.Group4 || v4.TTL != 255 || v4.Advert.Priority != 150 || len(v4.Payload) != len(msg4) {
		t.Errorf("VRRP() over IPv4 = %+v, %v", v4, ok)
	}

	// A gratuitous ARP.
	vip := netip.MustParseAddr("198.18.0.100")
	ap, err := arp.NewPacket(arp.OperationRequest, mac, vip, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, vip)
	if err != nil {
		t.Fatal(err)
	}
	ab, err := ap.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := netns.Frame{Data: ethernet(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, netns.EtherTypeARP, ab)}.ARP()
	if !ok || !a.Gratuitous() || a.Op != arp.OperationRequest || a.SenderIP != vip || !bytes.Equal(a.SenderMAC, mac) || !bytes.Equal(a.EthSrc, mac) {
		t.Errorf("ARP() = %+v, %v", a, ok)
	}

	// An unsolicited neighbour advertisement.
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: vip6, Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}}
	nab, err := ndp.MarshalMessageChecksum(na, ll, netip.MustParseAddr("ff02::1"))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := netns.Frame{Data: ethernet(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, mac, netns.EtherTypeIPv6, ipv6Packet(ll, netip.MustParseAddr("ff02::1"), netns.ProtoICMPv6, 255, nab))}.NA()
	if !ok || n.Target != vip6 || !n.Override || n.Solicited || n.Router || !bytes.Equal(n.TargetMAC, mac) || n.HopLimit != 255 || n.Src != ll {
		t.Errorf("NA() = %+v, %v", n, ok)
	}

	// Garbage decodes as nothing.
	for _, b := range [][]byte{nil, {1, 2, 3}, ethernet(mac, mac, netns.EtherTypeIPv4, []byte{0x45, 0, 0})} {
		f := netns.Frame{Data: b}
		if _, ok := vrrpcap.Decode(f); ok {
			t.Errorf("VRRP(%x) ok", b)
		}
		if _, ok := f.ARP(); ok {
			t.Errorf("ARP(%x) ok", b)
		}
		if _, ok := f.NA(); ok {
			t.Errorf("NA(%x) ok", b)
		}
	}
}
